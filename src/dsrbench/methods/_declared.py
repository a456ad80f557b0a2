"""What a method class declares, read from its source with :mod:`ast`, without importing it.

Planning (config validation, job planning, the Snakefile) needs a few class attributes of
every method (:class:`Traits`) but must not import the method modules (torch). They are read
from the literal assignments in the class bodies: the class itself, then its bases in
method resolution order, each base found through the imports of the module that names it
and read from its own source (e.g. ``LatentRNN`` in ``dsrbench/methods/_latent_rnn.py``,
``DartsMethod`` in ``_darts.py``, the defaults of ``Method`` in ``base.py``).

The rule for authors: the attributes in :data:`LITERAL` are assigned at the top of a class
body to a Python literal (``hyperparameters``: a dict display with string keys; its values
may be anything). A computed value raises :class:`TraitsError` naming the file and line;
the test suite reads every method this way (tests/unit/test_chunks.py), so it fails there first.
``has_jacobian`` is not assigned: it is True when a class below ``Method`` defines
``jacobian`` (as :attr:`dsrbench.methods.base.Method.has_jacobian` derives it at import).
"""

from __future__ import annotations

import ast
import functools
import importlib.util
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

__all__ = ["LITERAL", "PRETRAINED_ON", "Traits", "TraitsError", "module_file", "read_declared"]

#: the values of ``Method.pretrained_on``: ``none`` (no pretraining: everything it knows
#: comes from our training split or the context), ``dysts`` (pretrained on the dysts systems,
#: which are our test systems), ``unknown`` (pretrained on data whose overlap with them is
#: unknown)
PRETRAINED_ON = ("none", "dysts", "unknown")

#: the module and class every method derives from
METHOD = ("dsrbench.methods.base", "Method")


class Traits(NamedTuple):
    """The class attributes of a method that planning and the report pages need."""

    #: the method gets a training job (``Method.needs_fit``)
    needs_fit: bool
    #: its jobs ask for a GPU (``Method.uses_torch``)
    uses_torch: bool
    #: the names of ``Method.hyperparameters``
    hyperparameters: frozenset[str] = frozenset()
    #: what it was pretrained on before any dsrbench data: one of :data:`PRETRAINED_ON`
    pretrained_on: str = "none"
    #: its protocol fits it on each test context (``Method.fit_on_context``)
    fit_on_context: bool = False
    #: the darts family of a darts forecaster (``DartsMethod.family``); None for the others
    family: str | None = None
    #: its name and colour on the report pages ("": none declared)
    label: str = ""
    color: str = ""
    #: a class below ``Method`` defines ``jacobian``
    has_jacobian: bool = False
    #: it trains on irregularly sampled data (``Method.irregular_sampling``)
    irregular_sampling: bool = False


#: attribute -> the types its literal may have
LITERAL: dict[str, tuple[type, ...]] = {
    "name": (str,),
    "needs_fit": (bool,),
    "uses_torch": (bool,),
    "hyperparameters": (dict,),
    "pretrained_on": (str,),
    "fit_on_context": (bool,),
    "family": (str, type(None)),
    "label": (str,),
    "color": (str,),
    "irregular_sampling": (bool,),
}


class TraitsError(RuntimeError):
    """A method whose traits cannot be read from its source (a computed value, no class)."""


@dataclass(frozen=True)
class _Class:
    """One class definition: where it is, its top-level assignments and functions."""

    module: str
    path: Path
    node: ast.ClassDef

    @property
    def key(self) -> tuple[str, str]:
        return (self.module, self.node.name)

    @functools.cached_property
    def assigned(self) -> dict[str, ast.expr]:
        """Attribute name -> the value of its last top-level assignment in the body."""
        out: dict[str, ast.expr] = {}
        for stmt in self.node.body:
            if isinstance(stmt, ast.Assign):
                for target in stmt.targets:
                    if isinstance(target, ast.Name):
                        out[target.id] = stmt.value
            elif isinstance(stmt, ast.AnnAssign) and stmt.value is not None:
                if isinstance(stmt.target, ast.Name):
                    out[stmt.target.id] = stmt.value
        return out

    @functools.cached_property
    def defines(self) -> set[str]:
        """Names of the functions defined (or assigned) in the body."""
        funcs = {
            s.name for s in self.node.body if isinstance(s, ast.FunctionDef | ast.AsyncFunctionDef)
        }
        return funcs | set(self.assigned)


@dataclass(frozen=True)
class _Module:
    """A parsed module: its classes and the names its imports bind."""

    name: str
    path: Path
    classes: dict[str, ast.ClassDef]
    #: local name -> (module, attribute or None for ``import module``)
    imports: dict[str, tuple[str, str | None]]


def module_file(module: str) -> Path | None:
    """The source file of ``module``, found without executing anything: the top-level
    package by :func:`importlib.util.find_spec`, the submodules in its directories; None
    when it has no Python source."""
    top, *rest = module.split(".")
    try:
        spec = importlib.util.find_spec(top)
    except (ImportError, ValueError):
        return None
    if spec is None:
        return None
    if not rest:
        return Path(spec.origin) if spec.origin and spec.origin.endswith(".py") else None
    dirs = [Path(d) for d in spec.submodule_search_locations or []]
    for i, part in enumerate(rest):
        last = i == len(rest) - 1
        nxt = []
        for d in dirs:
            if last and (d / f"{part}.py").is_file():
                return d / f"{part}.py"
            if (d / part).is_dir():
                nxt.append(d / part)
        dirs = nxt
        if last:
            return next((d / "__init__.py" for d in dirs if (d / "__init__.py").is_file()), None)
    return None


def _parse(name: str, path: Path) -> _Module:
    stat = path.stat()
    return _parse_cached(name, str(path), stat.st_mtime_ns, stat.st_size)


@functools.lru_cache(maxsize=512)
def _parse_cached(name: str, path: str, mtime_ns: int, size: int) -> _Module:
    tree = ast.parse(Path(path).read_text(encoding="utf-8"), filename=path)
    package = name if Path(path).name == "__init__.py" else name.rpartition(".")[0]
    classes: dict[str, ast.ClassDef] = {}
    imports: dict[str, tuple[str, str | None]] = {}
    for stmt in tree.body:
        if isinstance(stmt, ast.ClassDef):
            classes[stmt.name] = stmt
        elif isinstance(stmt, ast.Import):
            for alias in stmt.names:
                if alias.asname:
                    imports[alias.asname] = (alias.name, None)
                else:
                    top = alias.name.split(".")[0]
                    imports[top] = (top, None)
        elif isinstance(stmt, ast.ImportFrom):
            base = stmt.module or ""
            if stmt.level:
                parts = package.split(".")
                parts = parts[: len(parts) - stmt.level + 1]
                base = ".".join([*parts, *([base] if base else [])])
            for alias in stmt.names:
                imports[alias.asname or alias.name] = (base, alias.name)
    return _Module(name, Path(path), classes, imports)


def _find_class(module: str, name: str, roots: frozenset[str], depth: int = 0) -> _Class | None:
    """The definition of class ``name`` reachable as ``module.name`` (following re-exports),
    or None when it has no Python source or lies outside the packages ``roots``."""
    if module.split(".")[0] not in roots or depth > 8:
        return None
    path = module_file(module)
    if path is None:
        return None
    mod = _parse(module, path)
    if name in mod.classes:
        return _Class(module, path, mod.classes[name])
    if name in mod.imports:
        target, attr = mod.imports[name]
        if attr is not None:
            return _find_class(target, attr, roots, depth + 1)
    # ``from package import module`` then ``module.Class`` is handled by _base
    return None


def _base(cls: _Class, expr: ast.expr, roots: frozenset[str]) -> _Class | None:
    """The class that the base expression ``expr`` of ``cls`` names (None: not found)."""
    mod = _parse(cls.module, cls.path)
    if isinstance(expr, ast.Name):
        if expr.id in mod.classes:
            return _Class(cls.module, cls.path, mod.classes[expr.id])
        if expr.id in mod.imports:
            target, attr = mod.imports[expr.id]
            return _find_class(target, attr, roots) if attr is not None else None
        return None
    if isinstance(expr, ast.Attribute) and isinstance(expr.value, ast.Name):
        if expr.value.id in mod.imports:
            target, attr = mod.imports[expr.value.id]
            module = target if attr is None else f"{target}.{attr}"
            return _find_class(module, expr.attr, roots)
    return None


def _mro(
    cls: _Class, roots: frozenset[str], seen: tuple[tuple[str, str], ...] = ()
) -> list[_Class]:
    """The C3 linearisation of ``cls`` over its bases found in the source of the packages
    ``roots`` (dsrbench and the method's own); others (``ABC``, ``torch.nn.Module``) are
    left out: they declare no traits."""
    if cls.key in seen:
        raise TraitsError(f"{cls.path}: class {cls.node.name} inherits from itself")
    bases = [b for b in (_base(cls, e, roots) for e in cls.node.bases) if b is not None]
    sequences = [_mro(b, roots, (*seen, cls.key)) for b in bases] + [bases]
    out = [cls]
    while any(sequences):
        sequences = [s for s in sequences if s]
        for seq in sequences:
            head = seq[0]
            if not any(head.key in [c.key for c in s[1:]] for s in sequences):
                break
        else:
            raise TraitsError(f"{cls.path}: class {cls.node.name} has no consistent MRO")
        out.append(head)
        sequences = [s[1:] if s[0].key == head.key else s for s in sequences]
    return out


def _value(cls: _Class, attr: str, expr: ast.expr) -> Any:
    """The literal value of ``attr`` (``hyperparameters``: its names), or TraitsError."""
    where = f"{cls.path}:{expr.lineno}: {cls.node.name}.{attr}"
    rule = "planning reads it from the source without importing the module"
    if attr == "hyperparameters":
        if isinstance(expr, ast.Dict) and all(
            isinstance(k, ast.Constant) and isinstance(k.value, str) for k in expr.keys
        ):
            return frozenset(k.value for k in expr.keys)  # type: ignore[union-attr]
        raise TraitsError(f"{where} must be a dict literal with string keys ({rule})")
    try:
        value = ast.literal_eval(expr)
    except ValueError:
        raise TraitsError(f"{where} must be a literal ({rule})") from None
    if not isinstance(value, LITERAL[attr]):
        kinds = " or ".join(t.__name__ for t in LITERAL[attr])
        raise TraitsError(f"{where} must be a {kinds} literal, not {value!r}")
    return value


def _declared(mro: list[_Class]) -> dict[str, Any]:
    """The literal trait attributes of a class with linearisation ``mro``."""
    out: dict[str, Any] = {}
    for attr in LITERAL:
        for c in mro:
            if attr in c.assigned:
                out[attr] = _value(c, attr, c.assigned[attr])
                break
    out["has_jacobian"] = any("jacobian" in c.defines for c in mro if c.key != METHOD)
    return out


def _method_classes(module: str, path: Path) -> dict[str, dict[str, Any]]:
    """Class name -> declared traits, for the classes of ``module`` deriving from Method."""
    out = {}
    roots = frozenset({"dsrbench", module.split(".")[0]})
    for name, node in _parse(module, path).classes.items():
        mro = _mro(_Class(module, path, node), roots)
        if any(c.key == METHOD for c in mro):
            out[name] = _declared(mro)
    return out


def read_declared(name: str, module: str, class_name: str | None = None) -> Traits:
    """The traits of method ``name``, defined in ``module`` as ``class_name`` (None: the one
    class of the module whose ``name`` is ``name``), read from the source without importing
    it; :class:`TraitsError` when they cannot be."""
    path = module_file(module)
    if path is None:
        raise TraitsError(f"method {name!r}: no Python source found for module {module!r}")
    return _read_cached(name, module, class_name, str(path), path.stat().st_mtime_ns)


@functools.lru_cache(maxsize=512)
def _read_cached(
    name: str, module: str, class_name: str | None, path: str, mtime_ns: int
) -> Traits:
    classes = _method_classes(module, Path(path))
    if class_name is not None:
        if class_name not in classes:
            raise TraitsError(
                f"method {name!r}: {path} defines no class {class_name!r} deriving from "
                f"dsrbench.methods.base.Method (read from its source)"
            )
        found = {class_name: classes[class_name]}
    else:
        found = {c: t for c, t in classes.items() if t.get("name") == name}
    if len(found) != 1:
        raise TraitsError(f"{path} must define one Method named {name!r} (found {len(found)})")
    ((cls, declared),) = found.items()
    if declared.get("name") != name:
        raise TraitsError(
            f"{path}: class {cls} is registered as method {name!r} but its name is "
            f"{declared.get('name')!r}"
        )
    if declared.get("pretrained_on", "none") not in PRETRAINED_ON:
        raise TraitsError(
            f"{path}: {cls}.pretrained_on must be one of {', '.join(PRETRAINED_ON)}, "
            f"not {declared['pretrained_on']!r}"
        )
    declared.pop("name")
    return Traits(**declared)
