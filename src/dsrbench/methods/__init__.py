"""Method registry: one module per method in this package, or installed methods, by name.

    >>> from dsrbench import methods
    >>> methods.available()
    ['mean', 'persistence']
    >>> methods.get("persistence")().forecast(context, horizon=100)

Modules starting with an underscore, ``base`` and ``trainer`` (the torch training loop)
hold code shared by several methods. To add a method, write ``dsrbench/methods/<name>.py``
with one subclass of :class:`dsrbench.methods.base.Method` whose ``name`` is ``<name>``, and
a test. Another installed package adds methods through the entry-point group
``dsrbench.methods`` (:data:`ENTRY_POINT_GROUP`), one entry ``<name> = "package.module:Class"``
each; a name claimed twice (by two packages, or by a package and a built-in method) is
refused with an error naming both.

:func:`traits` reads what planning needs (``needs_fit``, ``uses_torch``, the
hyperparameter names, ...) from the class's literal attributes in its source, without
importing the module (:mod:`dsrbench.methods._declared`): the workflow plans without torch.
"""

from __future__ import annotations

import difflib
import functools
import importlib
import importlib.metadata
import pkgutil
import sys
from dataclasses import dataclass

from dsrbench import references
from dsrbench.methods._declared import PRETRAINED_ON, Traits, TraitsError, read_declared
from dsrbench.methods.base import (
    DEFAULT_CONTEXT,
    FitContext,
    FitOutcome,
    FitTask,
    HyperparameterError,
    Method,
    MissingWeightsError,
    RunFiles,
)

__all__ = [
    "DEFAULT_CONTEXT",
    "ENTRY_POINT_GROUP",
    "PRETRAINED_ON",
    "DuplicateMethodError",
    "FitContext",
    "FitOutcome",
    "FitTask",
    "HyperparameterError",
    "Method",
    "MethodSource",
    "MissingWeightsError",
    "RunFiles",
    "Traits",
    "TraitsError",
    "UnknownMethodError",
    "available",
    "get",
    "sources",
    "traits",
]

#: the entry-point group through which other installed packages add methods
ENTRY_POINT_GROUP = "dsrbench.methods"

_NOT_METHODS = {"base", "trainer"}


class UnknownMethodError(KeyError):
    """A method name that neither dsrbench.methods nor an installed package defines."""

    def __str__(self) -> str:
        return str(self.args[0])


class DuplicateMethodError(RuntimeError):
    """Two sources (installed packages, or one and a built-in method) claim one name."""


@dataclass(frozen=True)
class MethodSource:
    """Where the method ``name`` is defined: ``module`` (dotted) and, for an installed
    method, its ``class_name``; ``origin`` names the provider in messages."""

    name: str
    module: str
    class_name: str | None = None
    origin: str = "dsrbench"

    def __str__(self) -> str:
        where = f"{self.module}:{self.class_name}" if self.class_name else self.module
        return f"{self.origin} ({where})"


def _builtin() -> dict[str, MethodSource]:
    return {
        m.name: MethodSource(m.name, f"{__name__}.{m.name}")
        for m in pkgutil.iter_modules(__path__)
        if m.name not in _NOT_METHODS and not m.name.startswith("_")
    }


@functools.lru_cache(maxsize=8)
def _sources(path: tuple[str, ...]) -> dict[str, MethodSource]:
    """The registry for the import path ``path`` (the entry points depend on it)."""
    out = _builtin()
    for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
        module, _, class_name = ep.value.partition(":")
        dist = getattr(ep, "dist", None)
        origin = f"package {dist.name if dist is not None else '?'!r}"
        source = MethodSource(ep.name, module.strip(), class_name.strip() or None, origin)
        if source.class_name is None:
            raise TraitsError(
                f"entry point {ep.name} = {ep.value!r} of {origin} (group "
                f"{ENTRY_POINT_GROUP}) must name a class: 'package.module:Class'"
            )
        if ep.name in out:
            raise DuplicateMethodError(
                f"method {ep.name!r} is claimed twice: by {out[ep.name]} and by {source}; "
                "uninstall one of them (or rename its entry point)"
            )
        out[ep.name] = source
    return dict(sorted(out.items()))


def sources() -> dict[str, MethodSource]:
    """Every method by name: the built-in modules and the installed entry points
    (:class:`DuplicateMethodError` when two claim one name)."""
    return _sources(tuple(sys.path))


def available() -> list[str]:
    """Names of the methods (module names under ``dsrbench/methods``, then the entry
    points of other installed packages), sorted."""
    return list(sources())


def _source(name: str) -> MethodSource:
    found = sources()
    if name not in found:
        close = difflib.get_close_matches(name, list(found), n=3)
        hint = f" (did you mean {', '.join(close)}?)" if close else ""
        raise UnknownMethodError(f"unknown method {name!r}{hint}; available: {', '.join(found)}")
    return found[name]


def get(name: str) -> type[Method]:
    """The method class registered as ``name`` (this imports its module)."""
    source = _source(name)
    module = importlib.import_module(source.module)
    if source.class_name is not None:
        cls = getattr(module, source.class_name, None)
        if not (isinstance(cls, type) and issubclass(cls, Method)) or cls.name != name:
            raise RuntimeError(
                f"{source} must be a dsrbench.methods.base.Method subclass named {name!r}"
            )
        return cls
    classes = [
        obj
        for obj in vars(module).values()
        if isinstance(obj, type) and issubclass(obj, Method) and getattr(obj, "name", None) == name
    ]
    if len(classes) != 1:
        raise RuntimeError(f"dsrbench/methods/{name}.py must define one Method named {name!r}")
    return classes[0]


def traits(name: str) -> Traits:
    """What planning and the report pages need of the method ``name`` (:class:`Traits`),
    read from its class's literal attributes in its source without importing its module
    (:mod:`dsrbench.methods._declared`); ``truth``, the reference oracle, is neither
    fitted nor a torch method, and was pretrained on nothing."""
    if references.is_truth(name):
        ref = references.REFERENCES[name]
        return Traits(needs_fit=ref.needs_fit, uses_torch=ref.uses_torch)
    source = _source(name)
    return read_declared(name, source.module, source.class_name)
