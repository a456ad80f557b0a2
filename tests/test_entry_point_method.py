"""A method from another installed package, registered through the entry-point group
``dsrbench.methods``: listed by ``dsrbench methods``, its traits read from its source
without importing it, a name claimed twice refused naming both, and (end-to-end tier) run
through the whole workflow with ``PYTHONPATH`` pointing at the package.

:func:`make_method_package` writes such a package (one module, a ``*.dist-info`` with
``METADATA`` and ``entry_points.txt``) into a directory that :mod:`importlib.metadata` finds
once it is on ``sys.path``; tests/test_methods_contract.py runs the contract on it.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
import yaml
from tiny_run import CONFIG as TINY

from dsrbench import layout, methods
from dsrbench.cli import main

REPO = Path(__file__).resolve().parents[1]
SNAKEMAKE = Path(sys.executable).parent / "snakemake"

#: the package's module: a step-map method, a linear map fitted by least squares
LINEAR_MAP = '''
"""A linear map on standardised states, fitted by ridge least squares (a test method)."""

from typing import Any, ClassVar

import numpy as np

from dsrbench.methods.base import Method


class LinearMap(Method):
    """z_{t+1} = [z_t, 1] C, C by ridge least squares on the training pairs."""

    name = "linmap"
    label = "linear map"
    color = "#123456"
    hyperparameters: ClassVar[dict[str, Any]] = {"ridge": 1e-8}
    fitted_arrays = ("coef", "mean", "std")

    def fit(self, train, val=None, *, device="auto", seed=0, budget=None, run=None):
        x, _ = self.fit_scale(train, val)
        d = x.shape[2]
        design = x[:, :-1].reshape(-1, d)
        design = np.hstack([design, np.ones((design.shape[0], 1))])
        target = x[:, 1:].reshape(-1, d)
        gram = design.T @ design + float(self.params["ridge"]) * np.eye(d + 1)
        self.coef_ = np.linalg.solve(gram, design.T @ target)
        return self

    def step(self, state):
        return np.hstack([state, np.ones((state.shape[0], 1))]) @ self.coef_

    def jacobian(self, state):
        jac = self.coef_[:-1].T
        return np.broadcast_to(jac, (state.shape[0], *jac.shape)).copy()
'''


def make_method_package(
    root: Path,
    dist: str,
    package: str,
    entries: dict[str, str],
    source: str = LINEAR_MAP,
    module: str = "linmap",
) -> Path:
    """Write ``package/module.py`` (``source``) and the distribution ``dist`` whose
    entry points of group ``dsrbench.methods`` are ``entries`` (name -> ``module:Class``)
    under ``root``; returns ``root`` (put it on ``sys.path`` or ``PYTHONPATH``)."""
    pkg = root / package
    pkg.mkdir(parents=True, exist_ok=True)
    (pkg / "__init__.py").write_text("")
    (pkg / f"{module}.py").write_text(textwrap.dedent(source))
    info = root / f"{dist.replace('-', '_')}-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 0.1\n")
    lines = [f"{name} = {target}" for name, target in entries.items()]
    (info / "entry_points.txt").write_text("[dsrbench.methods]\n" + "\n".join(lines) + "\n")
    return root


@pytest.fixture
def installed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """``linmap`` installed from the package ``dsrb_linmap`` (distribution ``dsrb-linmap``);
    the package is forgotten afterwards."""
    root = make_method_package(
        tmp_path / "site", "dsrb-linmap", "dsrb_linmap", {"linmap": "dsrb_linmap.linmap:LinearMap"}
    )
    monkeypatch.syspath_prepend(str(root))
    yield root
    for name in [m for m in sys.modules if m.split(".")[0] == "dsrb_linmap"]:
        del sys.modules[name]


def test_an_installed_method_is_listed_and_read_without_importing_it(
    installed: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert "linmap" in methods.available()
    assert methods.sources()["linmap"].origin == "package 'dsrb-linmap'"
    traits = methods.traits("linmap")
    assert "dsrb_linmap.linmap" not in sys.modules and "dsrb_linmap" not in sys.modules
    assert traits == methods.Traits(
        needs_fit=True,
        uses_torch=False,
        hyperparameters=frozenset({"ridge"}),
        label="linear map",
        color="#123456",
        has_jacobian=True,
    )
    from dsrbench.reports.style import method_color, method_label

    assert (method_label("linmap"), method_color("linmap")) == ("linear map", "#123456")
    assert main(["methods"]) == 0
    out = capsys.readouterr().out
    assert "linmap       ridge=1e-08" in out
    assert "z_{t+1} = [z_t, 1] C" in out


def test_a_package_claiming_a_builtin_name_is_refused_naming_both(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = make_method_package(
        tmp_path / "site", "dsrb-shadow", "dsrb_shadow", {"var": "dsrb_shadow.linmap:LinearMap"}
    )
    monkeypatch.syspath_prepend(str(root))
    with pytest.raises(methods.DuplicateMethodError, match="'var' is claimed twice") as err:
        methods.traits("var")
    assert "dsrbench (dsrbench.methods.var)" in str(err.value)
    assert "package 'dsrb-shadow' (dsrb_shadow.linmap:LinearMap)" in str(err.value)


def test_two_packages_claiming_one_name_are_refused_naming_both(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for dist in ("dsrb-one", "dsrb-two"):
        package = dist.replace("-", "_")
        root = make_method_package(
            tmp_path / dist, dist, package, {"linmap": f"{package}.linmap:LinearMap"}
        )
        monkeypatch.syspath_prepend(str(root))
    with pytest.raises(methods.DuplicateMethodError, match="'linmap' is claimed twice") as err:
        methods.available()
    assert "package 'dsrb-one'" in str(err.value) and "package 'dsrb-two'" in str(err.value)


@pytest.mark.e2e
def test_an_installed_method_runs_through_the_workflow(tmp_path: Path) -> None:
    """snakemake on a tiny config (Lorenz, truth, persistence, linmap) with the package on
    ``PYTHONPATH`` only: planned, trained, predicted and scored like a built-in method
    (about a minute on 2 cores)."""
    site = make_method_package(
        tmp_path / "site", "dsrb-linmap", "dsrb_linmap", {"linmap": "dsrb_linmap.linmap:LinearMap"}
    )
    workdir = tmp_path / "run"
    workdir.mkdir()
    results = workdir / "results"
    config = {
        "systems": TINY["systems"],
        "results_dir": str(results),
        "datasets": TINY["datasets"],  # tests/tiny_run.py's setting
        "evaluation": {
            "methods": ["truth", "persistence", "linmap"],
            "seeds": [0],
            "context_length": 20,
            "horizon": 40,
            "contexts_per_trajectory": 2,
            "long_run_length": 300,
        },
        "training": {"device": "cpu"},
        "reports": {"enabled": False},
    }
    configfile = workdir / "config.yaml"
    configfile.write_text(yaml.safe_dump(config, sort_keys=False))
    path = os.pathsep.join([str(site), str(REPO / "src"), os.environ.get("PYTHONPATH", "")])
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": path}
    cmd = [str(SNAKEMAKE), "--snakefile", str(REPO / "Snakefile"), "--directory", str(workdir)]
    cmd += ["--cores", "2", "--configfile", str(configfile)]
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=300, cwd=workdir, env=env)
    assert res.returncode == 0, res.stderr[-6000:]
    metrics = pd.read_parquet(layout.merged_metrics(results))
    rows = metrics[metrics["method"] == "linmap"]
    assert len(rows) > 0
    assert set(metrics["method"]) >= {"truth", "persistence", "linmap"}
