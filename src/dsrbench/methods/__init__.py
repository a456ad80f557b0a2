"""Method registry: one module per method in this package, found by name.

    >>> from dsrbench import methods
    >>> methods.available()
    ['mean', 'persistence']
    >>> methods.get("persistence")().forecast(context, horizon=100)

Modules starting with an underscore, ``base`` and ``trainer`` (the torch training loop)
hold code shared by several methods. To add a method,
write ``dsrbench/methods/<name>.py`` with one subclass of
:class:`dsrbench.methods.base.Method` whose ``name`` is ``<name>``, and a test.
"""

from __future__ import annotations

import difflib
import importlib
import pkgutil

from dsrbench.methods._traits import TRAITS, Traits
from dsrbench.methods.base import FitOutcome, FitTask, HyperparameterError, Method, RunFiles

__all__ = [
    "FitOutcome",
    "FitTask",
    "HyperparameterError",
    "Method",
    "RunFiles",
    "Traits",
    "UnknownMethodError",
    "available",
    "get",
    "traits",
]

_NOT_METHODS = {"base", "trainer"}


class UnknownMethodError(KeyError):
    """A method name that no module in dsrbench.methods defines."""

    def __str__(self) -> str:
        return str(self.args[0])


def available() -> list[str]:
    """Names of the methods (module names under ``dsrbench/methods``)."""
    return sorted(
        m.name
        for m in pkgutil.iter_modules(__path__)
        if m.name not in _NOT_METHODS and not m.name.startswith("_")
    )


def get(name: str) -> type[Method]:
    """The method class registered as ``name``."""
    names = available()
    if name not in names:
        close = difflib.get_close_matches(name, names, n=3)
        hint = f" (did you mean {', '.join(close)}?)" if close else ""
        raise UnknownMethodError(f"unknown method {name!r}{hint}; available: {', '.join(names)}")
    module = importlib.import_module(f"{__name__}.{name}")
    classes = [
        obj
        for obj in vars(module).values()
        if isinstance(obj, type) and issubclass(obj, Method) and getattr(obj, "name", None) == name
    ]
    if len(classes) != 1:
        raise RuntimeError(f"dsrbench/methods/{name}.py must define one Method named {name!r}")
    return classes[0]


def traits(name: str) -> Traits:
    """``needs_fit``, ``uses_torch``, ``pretrained_on`` and ``fit_on_context`` of the method
    ``name`` from the static table (:data:`dsrbench.methods._traits.TRAITS`), without
    importing its module; ``truth``, the reference oracle, is neither fitted nor a torch
    method, and was pretrained on nothing."""
    if name == "truth":
        return Traits(needs_fit=False, uses_torch=False)
    if name not in TRAITS:
        get(name)  # raises UnknownMethodError naming the close matches
        raise RuntimeError(
            f"method {name!r} has no row in dsrbench/methods/_traits.py (TRAITS): add one"
        )
    return TRAITS[name]
