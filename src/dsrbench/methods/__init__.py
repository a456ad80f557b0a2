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

from dsrbench.methods.base import FitOutcome, FitTask, HyperparameterError, Method, RunFiles

__all__ = [
    "FitOutcome",
    "FitTask",
    "HyperparameterError",
    "Method",
    "RunFiles",
    "UnknownMethodError",
    "available",
    "get",
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
