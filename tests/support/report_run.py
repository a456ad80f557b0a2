"""One real, tiny workflow run with the reports on, shared by e2e/test_reports_e2e.py and
test_browser.py (run once per test session; under pytest-xdist once per machine, the other
workers wait for it and reuse it).

Systems Lorenz and MackeyGlass (a 10-D delay equation), one tiny dataset setting, two
seeds, the reference predictors and whichever fast learned methods exist (with their
``quick_hyperparameters``), both paper pages.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import yaml

from dsrbench import layout

REPO = Path(__file__).resolve().parents[2]
SNAKEMAKE = Path(sys.executable).parent / "snakemake"
SYSTEMS = ["Lorenz", "MackeyGlass"]
PAPERS = ["gilpin2023", "dsr", "phyxmamba"]
#: learned methods the run includes when they exist (cheap with their quick settings)
LEARNED = ("var", "alrnn", "koopman_ae", "phyxmamba")


@dataclass(frozen=True)
class ReportRun:
    workdir: Path
    results: Path
    configfile: Path
    methods: list[str]

    @property
    def reports(self) -> Path:
        return layout.reports_dir(self.results)

    def pages(self) -> dict[str, Path]:
        """Every page the config asks for, by a short name."""
        wanted = [("leaderboard", None)]
        wanted += [("system", s) for s in SYSTEMS]
        wanted += [("method", m) for m in self.methods if m != "truth"]
        wanted += [("paper", p) for p in PAPERS]
        return {
            kind if name is None else f"{kind}/{name}": layout.report_page(
                self.results, layout.page_id(kind, name)
            )
            for kind, name in wanted
        }


def snakemake(workdir: Path, *args: str, timeout: int = 900) -> subprocess.CompletedProcess:
    cmd = [str(SNAKEMAKE), "--snakefile", str(REPO / "Snakefile"), "--directory", str(workdir)]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.run(
        [*cmd, *args], capture_output=True, text=True, timeout=timeout, cwd=workdir, env=env
    )


def _config(results: Path) -> tuple[dict, list[str]]:
    from dsrbench import methods as registry

    learned = [m for m in LEARNED if m in registry.available()]
    methods = ["truth", "persistence", "mean", *learned]
    hyper = {m: dict(registry.get(m).quick_hyperparameters) for m in learned}
    cfg = {
        "systems": SYSTEMS,
        "results_dir": str(results),
        "datasets": {
            "tiny": {
                "pts_per_period": 20,
                "length": 200,
                "n_train": 1,
                "n_val": 1,
                "n_test": 1,
                "burn_in": 100,
            }
        },
        "evaluation": {
            "methods": methods,
            "seeds": [0, 1],  # the pages aggregate seeds per system first
            "context_length": 20,
            "horizon": 60,
            "contexts_per_trajectory": 2,
            "long_run_length": 2000,
            "hyperparameters": {m: h for m, h in hyper.items() if h},
        },
        "training": {"device": "cpu", "budget_seconds": 15},
        "reports": {"papers": PAPERS, "bootstrap_samples": 200},
    }
    return cfg, methods


def _run(root: Path) -> ReportRun:
    workdir = root / "report-run"
    done = root / "report-run.json"
    if done.is_file():
        info = json.loads(done.read_text())
        return ReportRun(
            Path(info["workdir"]), Path(info["results"]), Path(info["configfile"]), info["methods"]
        )
    workdir.mkdir(parents=True, exist_ok=True)
    results = workdir / "results"
    cfg, methods = _config(results)
    configfile = workdir / "config.yaml"
    configfile.write_text(yaml.safe_dump(cfg, sort_keys=False))
    res = snakemake(workdir, "--cores", "2", "--configfile", str(configfile))
    if res.returncode != 0:
        raise RuntimeError(f"the report workflow failed:\n{res.stderr[-8000:]}")
    run = ReportRun(workdir, results, configfile, methods)
    done.write_text(
        json.dumps(
            {
                "workdir": str(workdir),
                "results": str(results),
                "configfile": str(configfile),
                "methods": methods,
            }
        )
    )
    return run


_CACHE: dict[str, ReportRun] = {}


def report_run(tmp_path_factory) -> ReportRun:
    """The shared run (see the module doc); call from a session-scoped fixture."""
    base = tmp_path_factory.getbasetemp()
    root = base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base
    key = str(root)
    if key not in _CACHE:
        lock = root / "report-run.lock"
        with open(lock, "w") as fh, contextlib.ExitStack() as stack:
            fcntl.flock(fh, fcntl.LOCK_EX)
            stack.callback(fcntl.flock, fh, fcntl.LOCK_UN)
            _CACHE[key] = _run(root)
    return _CACHE[key]
