"""The library's layers point one way.

Every module under ``src/dsrbench`` is parsed with :mod:`ast` (imports inside functions and
``TYPE_CHECKING`` blocks included) and mapped to its layer by :data:`LAYERS`; a module may
import only from its own layer or the ones before it. A module that the table does not
know fails the test: add it to the table. No module imports anything at import time here.
"""

from __future__ import annotations

import ast
import importlib
import re
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "src" / "dsrbench"

#: the deprecated alias modules at the old top-level names of :mod:`dsrbench.pipeline`'s
#: modules (docs/migration.md); nothing in the repository imports them
ALIASES = ("plan", "config", "records", "train", "tuning", "predict", "evaluate", "jobs")
ALIASES += ("snapshots", "warmup")

#: the layer of every top-level module or package of dsrbench (its submodules inherit it)
LAYERS: dict[str, int] = {
    # 0: utilities with no dsrbench imports (atomic: but its test hook, faults)
    "faults": 0,  # the test-only fault-injection hooks (docs/faults.md)
    "atomic": 0,
    "provenance": 0,
    "layout": 0,
    "references": 0,  # the truth oracle and the truth floor: names and traits
    "schemas": 0,  # the config schema and its defaults
    "cluster": 0,  # checks of a SLURM cluster (sinfo) before a workflow submits to it
    # 1-3: systems, their integration, the datasets built from them
    "systems": 1,
    "integration": 2,
    "data": 3,  # the name of dsrbench.stores before the rename (for branches merged later)
    "stores": 3,
    "splits": 3,  # every split of a dataset store (trajectories, contexts, protocol cuts)
    "datasets": 3,
    "truth": 3,
    # 4: scores of trajectories and learned maps
    "metrics": 4,
    # 5: the methods, their torch trainer included (dsrbench.methods.trainer)
    "methods": 5,
    # 6: the pipeline (dsrbench.pipeline: planning, records, the stage modules *_job)
    "pipeline": 6,
    # 6: deprecated aliases of the pipeline's modules at their old names (ALIASES)
    **dict.fromkeys(ALIASES, 6),
    # 7-8: what reads the results, and the command line
    "reports": 7,
    "cli": 8,
    "report_cli": 8,
    "results_cli": 8,
    "jobs_cli": 8,
}
#: ``dsrbench/__init__.py`` lazily re-exports ``simulate`` from the integration layer
ROOT_LAYER = LAYERS["integration"]

#: imports ruled out beyond the table's order (module prefix -> forbidden top-level names)
FORBIDDEN: dict[str, set[str]] = {
    # methods never reach up into the jobs, the reports or the command line
    "methods": {
        "pipeline",
        *ALIASES,
        "reports",
        "cli",
        "report_cli",
        "results_cli",
        "jobs_cli",
    },
    # metrics score a given trajectory or map; integrating the true systems is not theirs
    "metrics": {"systems", "integration"},
    # the utilities import nothing of dsrbench
    "faults": set(LAYERS) - {"faults"},
    "atomic": set(LAYERS) - {"atomic", "faults"},
    "provenance": set(LAYERS) - {"provenance"},
    "layout": set(LAYERS) - {"layout"},
    "references": set(LAYERS) - {"references"},
    "cluster": set(LAYERS) - {"cluster"},
    "schemas": set(LAYERS) - {"schemas"},
}


def module_name(path: Path) -> str:
    """``dsrbench.methods.trainer`` for ``src/dsrbench/methods/trainer.py``."""
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def imported(name: str, path: Path, known: set[str]) -> list[tuple[int, str]]:
    """``(line, module)`` of every dsrbench module that ``name`` imports, anywhere in it.
    ``from dsrbench.x import y`` counts as an import of ``dsrbench.x.y`` when that is a
    module, else of ``dsrbench.x``."""
    tree = ast.parse(path.read_text(), filename=str(path))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(node.lineno, a.name) for a in node.names if a.name.split(".")[0] == "dsrbench"]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parent, *([base] if base else [])])
            if base.split(".")[0] != "dsrbench":
                continue
            for alias in node.names:
                full = f"{base}.{alias.name}"
                out.append((node.lineno, full if full in known else base))
    return out


def layer_of(module: str) -> tuple[str | None, int | None]:
    """The table entry (top-level name) and layer of a dsrbench module; ``(None, None)``
    when the table does not know it."""
    parts = module.split(".")
    if parts == ["dsrbench"]:
        return "", ROOT_LAYER
    top = parts[1]
    return (top, LAYERS[top]) if top in LAYERS else (None, None)


def test_every_module_is_in_the_layer_table() -> None:
    unknown = sorted(m for m in modules() if layer_of(m)[1] is None)
    assert not unknown, (
        f"modules without a layer: {', '.join(unknown)}; add them to LAYERS in {__file__}"
    )


def test_imports_point_down_the_layers() -> None:
    mods = modules()
    known = set(mods)
    problems = []
    for name, path in mods.items():
        top, layer = layer_of(name)
        if layer is None:
            continue  # reported by test_every_module_is_in_the_layer_table
        forbidden = FORBIDDEN.get(top or "", set())
        for line, target in imported(name, path, known):
            target_top, target_layer = layer_of(target)
            where = f"{path.relative_to(PACKAGE.parent)}:{line}"
            if target_layer is None:
                problems.append(f"{where}: {name} imports {target}, which has no layer")
            elif target_layer > layer:
                problems.append(
                    f"{where}: {name} (layer {layer}) imports {target} (layer {target_layer})"
                )
            elif target_top in forbidden and target_top != top:
                problems.append(f"{where}: {name} must not import {target}")
    assert not problems, "imports against the layer order:\n" + "\n".join(dict.fromkeys(problems))


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("from dsrbench import stores\n", ["dsrbench.stores"]),
        ("def f():\n    from dsrbench.pipeline.train import train\n", ["dsrbench.pipeline.train"]),
        ("import dsrbench.metrics.attractor as A\n", ["dsrbench.metrics.attractor"]),
        ("from .base import Method\n", ["dsrbench.methods.base"]),
        ("from . import _polynomial\n", ["dsrbench.methods._polynomial"]),
    ],
)
def test_the_checker_sees_every_form_of_import(tmp_path, source: str, expected) -> None:
    path = tmp_path / "methods" / "probe.py"
    path.parent.mkdir()
    path.write_text(source)
    known = {"dsrbench.methods.base", "dsrbench.methods._polynomial", "dsrbench.stores"}
    assert [m for _, m in imported("dsrbench.methods.probe", path, known)] == expected


def test_a_method_importing_a_job_would_fail(tmp_path) -> None:
    """The check is not vacuous: an upward import is caught with its place."""
    path = tmp_path / "probe.py"
    path.write_text("def fit():\n    from dsrbench.pipeline.predict import predict\n")
    ((line, target),) = imported("dsrbench.methods.probe", path, set())
    assert line == 2 and layer_of(target)[1] > layer_of("dsrbench.methods.probe")[1]


def test_no_import_cycles_between_table_entries() -> None:
    """The graph of the table's entries (an edge where a module of one imports a module of
    another, function-level imports included) has no cycle, also within one layer."""
    mods = modules()
    known = set(mods)
    graph: dict[str, set[str]] = {}
    for name, path in mods.items():
        top = layer_of(name)[0]
        for _, target in imported(name, path, known):
            other = layer_of(target)[0]
            if top and other and other != top:
                graph.setdefault(top, set()).add(other)
    cycles, state = [], {}

    def visit(node: str, stack: list[str]) -> None:
        state[node] = "open"
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == "open":
                cycles.append(" -> ".join([*stack[stack.index(nxt) :], nxt]))
            elif nxt not in state:
                visit(nxt, [*stack, nxt])
        state[node] = "done"

    for name in sorted(graph):
        if name not in state:
            visit(name, [name])
    assert not cycles, "import cycles between the table's entries:\n" + "\n".join(cycles)


ROOT = PACKAGE.parents[1]
#: an import of an old top-level name (or the module's name in a string, as for
#: ``sys.modules`` or ``importlib``)
_OLD = "|".join(ALIASES)
OLD_PATH = re.compile(
    rf"\bfrom\s+dsrbench\.({_OLD})\s+import\b"
    rf"|\bimport\s+dsrbench\.({_OLD})\b"
    rf"|\bfrom\s+dsrbench\s+import\s+\(?[\w\s,#:`\-]*?\b({_OLD})\b"
    rf"|[\"']dsrbench\.({_OLD})[\"']"
)


def old_path_imports(text: str) -> list[str]:
    return [m.group(0) for m in OLD_PATH.finditer(text)]


def test_nothing_imports_the_old_paths() -> None:
    """Only external code uses the deprecated aliases: src/, tests/, benchmarks/, the
    workflow and the report notebooks import :mod:`dsrbench.pipeline`'s modules."""
    skip = {PACKAGE / f"{a}.py" for a in ALIASES} | {Path(__file__).resolve()}  # its probes
    files = [ROOT / "Snakefile", *sorted((ROOT / "reports").glob("*.ipynb"))]
    for top in ("src", "tests", "benchmarks", "workflow"):
        files += [p for p in sorted((ROOT / top).rglob("*")) if p.suffix in (".py", ".smk")]
    problems = [
        f"{p.relative_to(ROOT)}: {hit}"
        for p in files
        if p not in skip
        for hit in old_path_imports(p.read_text())
    ]
    assert not problems, "imports of the old paths:\n" + "\n".join(problems)


@pytest.mark.parametrize(
    "source",
    [
        "from dsrbench.train import train_many\n",
        "import dsrbench.jobs\n",
        "from dsrbench import jobs, layout\n",
        "from dsrbench import (\n    layout,\n    plan,\n)\n",
        'records = sys.modules.get("dsrbench.records")\n',
    ],
)
def test_the_old_path_check_sees_every_form(source: str) -> None:
    assert old_path_imports(source)
    assert not old_path_imports(source.replace("dsrbench", "dsrbench.pipeline", 1))


@pytest.mark.parametrize("alias", ALIASES)
def test_an_alias_warns_and_forwards(alias: str) -> None:
    """``dsrbench.<old name>`` warns once imported and hands out the new module's names."""
    name = f"dsrbench.{alias}"
    sys.modules.pop(name, None)
    with pytest.warns(DeprecationWarning, match="dsrbench.pipeline"):
        old = importlib.import_module(name)
    sys.modules.pop(name, None)
    if alias == "jobs":
        for attr, module in old.MOVED.items():
            new = importlib.import_module(f"dsrbench.pipeline.{module}")
            assert getattr(old, attr) is getattr(new, attr)
        with pytest.raises(AttributeError):
            _ = old.no_such_name
        return
    new = importlib.import_module(f"dsrbench.pipeline.{alias}")
    assert new.__all__ and all(getattr(old, a) is getattr(new, a) for a in new.__all__)


#: the only modules a function may import (module prefix -> why it is not at the top of
#: the file); seconds are ``python -X importtime`` on one core of the 2-core CI machine.
#: A dsrbench module is allowed too when its top-level imports reach one of these, or when
#: it imports (at its top) the module that imports it lazily (a cycle, :func:`cycle_breaker`)
LAZY_ALLOWED: dict[str, str] = {
    "torch": "1.6 s; planning a config must import no torch (test_chunks)",
    "torchdiffeq": "2.7 s, and torch",
    "mambapy": "1.6 s, and torch",
    "pytorch_lightning": "6 s, and torch",
    "darts": "0.5 s, and torch with its models",
    "dask": "0.2 s (dask.distributed 0.7 s): only the evaluation uses it",
    "distributed": "0.7 s: only the evaluation uses it",
    "dask_jobqueue": "optional (the slurm extra)",
    "chronos": "8.6 s with transformers; optional (the chronos extra)",
    "huggingface_hub": "optional (the chronos extra)",
    "transformers": "several s, and torch; optional (the chronos extra): the random smoke weights",
    "statsmodels": "1.5 s: one method (arima)",
    "sklearn": "1.8 s: one method (a dev extra)",
    "pysindy": "2.8 s: one method (sindy)",
    "xgboost": "darts' XGBoost model only",
    "numba": "0.3 s, and compiling or loading the cached kernels",
    "dysts": "1.3 s (its system classes)",
    "scipy": "0.25-0.7 s per subpackage",
    "pandas": "0.37 s; `dsrbench --help` starts without it",
    "pyarrow": "0.15 s",
    "xarray": "0.5 s",
    "zarr": "0.23 s",
    "jsonschema": "0.3 s (config validation)",
    "matplotlib": "0.3 s: the report pages only",
    "papermill": "0.4 s: the report pages only",
    "nbconvert": "0.6 s: the report pages only",
    "nbformat": "the report pages only",
    "ipykernel": "the report pages only (kernel spec)",
    "jupyter_client": "the report pages only (kernel spec)",
    "IPython": "inside a notebook only",
    "threadpoolctl": "optional: not a dependency of its own, its import is guarded",
    "fcntl": "POSIX only: the lock of the report kernel",
}


def _in(name: str, prefixes) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def split_imports(name: str, path: Path, known: set[str]):
    """``(top, lazy)``: the modules ``name`` imports at import time (TYPE_CHECKING blocks
    left out), and ``(line, module)`` of those it imports inside a function. dsrbench
    modules are named as :func:`imported` names them; ``from X import y`` of another
    package counts as an import of ``X``."""
    tree = ast.parse(path.read_text(), filename=str(path))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    top: set[str] = set()
    lazy: list[tuple[int, str]] = []

    def names(node: ast.Import | ast.ImportFrom) -> list[str]:
        if isinstance(node, ast.Import):
            return [a.name for a in node.names]
        base = node.module or ""
        if node.level:
            parent = package.split(".")[: len(package.split(".")) - node.level + 1]
            base = ".".join([*parent, *([base] if base else [])])
        if base.split(".")[0] != "dsrbench":
            return [base]
        return [f"{base}.{a.name}" if f"{base}.{a.name}" in known else base for a in node.names]

    def walk(node: ast.AST, in_function: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and _is_type_checking(child):
                for sub in child.orelse:
                    walk(ast.Module(body=[sub], type_ignores=[]), in_function)
                continue
            if isinstance(child, ast.Import | ast.ImportFrom):
                if in_function:
                    lazy.extend((child.lineno, n) for n in names(child))
                else:
                    top.update(names(child))
                continue
            function = isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda)
            walk(child, in_function or function)

    walk(tree, False)
    return top, lazy


def test_only_heavy_modules_are_imported_inside_functions() -> None:
    """Cheap imports sit at the top of the file, where a reader sees them; a function
    imports only what :data:`LAZY_ALLOWED` names (and the dsrbench modules that import
    one of those at their top), so that ``import dsrbench.x`` stays cheap where it must,
    and nothing the file imports at its top already."""
    mods = modules()
    known = set(mods)
    parsed = {name: split_imports(name, path, known) for name, path in mods.items()}

    def parents(module: str) -> list[str]:
        parts = module.split(".")
        return [".".join(parts[:i]) for i in range(1, len(parts) + 1)]

    closure: dict[str, set[str]] = {}

    def reach(module: str) -> set[str]:
        """Every module imported when ``module`` is (its packages' __init__ included)."""
        if module in closure:
            return closure[module]
        closure[module] = seen = {module}
        for m in parents(module):
            for target in parsed.get(m, (set(), []))[0] | ({m} if m != module else set()):
                if target in known:
                    seen |= reach(target)
                else:
                    seen.add(target)
        return seen

    problems = []
    for name, path in mods.items():
        top = parsed[name][0]
        for line, target in parsed[name][1]:
            where = f"{path.relative_to(PACKAGE.parent)}:{line}: {target}"
            if target in top:
                problems.append(f"{where} (imported at the top already)")
                continue
            if _in(target, LAZY_ALLOWED):
                continue
            if target in known or target.split(".")[0] == "dsrbench":
                reached = reach(target) if target in known else {target}
                if any(_in(m, LAZY_ALLOWED) for m in reached) or name in reached:
                    continue  # a heavy dsrbench module, or a cycle
            problems.append(where)
    assert not problems, (
        "imports inside functions of modules not in LAZY_ALLOWED (move them to the top):\n"
        + "\n".join(problems)
    )


def test_the_lazy_import_check_sees_function_imports_only(tmp_path) -> None:
    """Function-level imports are found (in methods and nested functions), the module's own
    and those under ``TYPE_CHECKING`` are not."""
    path = tmp_path / "probe.py"
    path.write_text(
        "import os\nfrom typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import pandas\n"
        "class C:\n    def f(self):\n        def g():\n            import json\n"
        "        from dsrbench import stores\n"
    )
    top, lazy = split_imports("dsrbench.probe", path, {"dsrbench.stores"})
    assert top == {"os", "typing"} and lazy == [(8, "json"), (9, "dsrbench.stores")]
    assert not _in("json", LAZY_ALLOWED) and _in("torch.nn", LAZY_ALLOWED)


def test_the_pipeline_face_lists_its_stage_modules_and_imports_nothing() -> None:
    """``dsrbench.pipeline`` names its stages, each a module of the package, and importing
    it loads no other dsrbench module."""
    path = PACKAGE / "pipeline" / "__init__.py"
    top, lazy = split_imports("dsrbench.pipeline", path, set(modules()))
    assert not top and not lazy
    stages = ast.literal_eval(
        next(
            n.value
            for n in ast.parse(path.read_text()).body
            if isinstance(n, ast.Assign) and n.targets[0].id == "STAGES"
        )
    )
    assert all((PACKAGE / "pipeline" / f"{s}.py").is_file() for s in stages)
    assert set(stages) == {p.stem for p in (PACKAGE / "pipeline").glob("*_job.py")}
