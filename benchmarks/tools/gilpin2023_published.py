"""Rebuild the Gilpin 2023 per-system published numbers shipped with dsrbench.

Reads the authors' repository (github.com/williamgilpin/dysts, Apache-2.0, commit ``cc777ed``)
from a local git directory, e.g. the bare one the project's ``fetch`` gives, and writes:

- ``src/dsrbench/data/published/gilpin2023_per_system.csv``: per (model, system) sMAPE at
  100 points per period, 200-step horizon, 1000 training points: ESN, NVAR and NODE from
  ``results_{esn,nvar,neural_ode}_multivariate.json.gz``; the 12 darts models from the data
  sweep's full-length point (the fine-granularity main results file is not in the repository's
  stored history, so the sweep stands in for it);
- ``gilpin2023_hyperparameters.csv``: the chosen hyperparameters per (model, system);
- ``gilpin2023_timings.csv``: per (model, system) training and inference seconds;
- ``gilpin2023_system_changes.csv``: parameters, dt and period of ``chaotic_attractors.json``
  at cc777ed against the installed dysts (0.96);
- ``tests/data/gilpin2023_multivariate_trajectories.npz``: ``traj_true``/``traj_pred`` of the
  three multivariate files (float64, compressed).

Usage: ``python benchmarks/tools/gilpin2023_published.py --repo DIR`` (DIR: a clone or bare git
directory of williamgilpin/dysts that contains the commit). Without ``--repo`` it prints usage.
"""

from __future__ import annotations

import argparse
import gzip
import importlib.resources
import io
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd

COMMIT = "cc777ed98f2397afe873ca9adfd145f4bd0dc909"
REPO_ROOT = Path(__file__).resolve().parents[2]
DATA_DIR = REPO_ROOT / "src" / "dsrbench" / "data" / "published"
TRAJ_PATH = REPO_ROOT / "tests" / "data" / "gilpin2023_multivariate_trajectories.npz"

RESULTS = "benchmarks/results"
#: the three multivariate result files: paper model name, file, name of ``tau_val``
MULTIVARIATE = (
    ("ESN", f"{RESULTS}/results_esn_multivariate.json.gz", "leak_rate"),
    ("NVAR", f"{RESULTS}/results_nvar_multivariate.json.gz", "delay"),
    ("NODE", f"{RESULTS}/results_neural_ode_multivariate.json.gz", "tau"),
)
SWEEP_STEM = f"{RESULTS}/data_sweep_test_multivariate__pts_per_period_100__periods_12"
#: the darts sweep (all 12 models, 131 systems) and the rerun of three of them (133 systems),
#: used only for (model, system) pairs the first lacks
SWEEP_FILES = (f"{SWEEP_STEM}.json.json", f"{SWEEP_STEM}_2.json.json")
HYPERPARAMETERS = (
    "benchmarks/hyperparameters/"
    "hyperparameters_multivariate_train_multivariate__pts_per_period_100__periods_12.json"
)
TIMINGS = tuple(
    f"{RESULTS}/results_test_multivariate__pts_per_period_100__periods_12.json_timing{s}.json"
    for s in ("", "_esn", "_nvar")
)
ATTRACTORS = "dysts/data/chaotic_attractors.json"

#: darts class name -> the paper's model name (RNNModel is the LSTM: every system's chosen
#: hyperparameters say ``model: LSTM``)
DARTS_NAMES = {
    "NBEATSModel": "NBEATS",
    "NHiTSModel": "NHiTS",
    "RNNModel": "LSTM",
    "BlockRNNModel": "BlockRNN",
    "TransformerModel": "Transformer",
    "TCNModel": "TCN",
    "DLinearModel": "DLinear",
    "NLinearModel": "NLinear",
    "RandomForest": "RandomForest",
    "XGBModel": "XGBoost",
    "LinearRegressionModel": "LinearRegression",
    "KalmanForecaster": "KalmanForecaster",
}

#: the test series: 12 periods at 100 points per period, split at 5/6 (scripts at cc777ed)
SERIES_LENGTH = 1200
SPLIT = int(5 / 6 * SERIES_LENGTH)
HORIZON = SERIES_LENGTH - SPLIT
GRANULARITY = 100
#: multivariate_data_limited*.py: ``truncate_inds = unique(linspace(0, split - 100 - 1, 25))``,
#: training on ``series[i:split]``; index 0 is the full length
TRUNCATE = np.unique(np.linspace(0, SPLIT - 100 - 1, 25).astype(int))
TRAIN_LENGTHS = SPLIT - TRUNCATE


def show(repo: Path, path: str) -> bytes:
    """The bytes of ``path`` at :data:`COMMIT`."""
    return subprocess.run(
        ["git", "-C", str(repo), "show", f"{COMMIT}:{path}"], check=True, capture_output=True
    ).stdout


def load_json(repo: Path, path: str) -> dict:
    raw = show(repo, path)
    if path.endswith(".gz"):
        raw = gzip.decompress(raw)
    return json.loads(raw)


def per_system(repo: Path) -> tuple[pd.DataFrame, dict[str, np.ndarray], list[dict]]:
    """The per-system sMAPE rows, the trajectories and the multivariate ``tau_val`` rows."""
    rows, arrays, hyper = [], {}, []
    for model, path, tau_name in MULTIVARIATE:
        for system, rec in sorted(load_json(repo, path).items()):
            true = np.asarray(rec["traj_true"], dtype=np.float64)
            pred = np.asarray(rec["traj_pred"], dtype=np.float64)
            assert true.shape == pred.shape and true.shape[0] == HORIZON, (model, system)
            arrays[f"{model}/{system}/true"] = true
            arrays[f"{model}/{system}/pred"] = pred
            rows.append(_row(model, system, SPLIT, rec["smape"], path))
            hyper.append(
                {"model": model, "system": system, "hyperparameter": tau_name}
                | {"value": json.dumps(rec["tau_val"])}
            )
    seen: set[tuple[str, str]] = set()
    for path in SWEEP_FILES:
        for system, models in sorted(load_json(repo, path).items()):
            for darts_name, scores in sorted(models.items()):
                model = DARTS_NAMES[darts_name]
                if (model, system) in seen or not scores:
                    continue
                # a list of 25 per run; Aizawa has 2 or 3 runs appended: the first is taken
                assert len(scores) % len(TRUNCATE) == 0, (path, system, darts_name)
                seen.add((model, system))
                rows.append(_row(model, system, int(TRAIN_LENGTHS[0]), scores[0], path))
    return pd.DataFrame(rows), arrays, hyper


def _row(model: str, system: str, train_length: int, value: float | None, path: str) -> dict:
    v = np.nan if value is None else float(value)
    return {
        "model": model,
        "system": system,
        "granularity": GRANULARITY,
        "horizon": HORIZON,
        "train_length": train_length,
        "smape_published_0_200": v,
        "smape_0_100": v / 2,
        "file": path,
    }


def hyperparameters(repo: Path, extra: list[dict]) -> pd.DataFrame:
    """Long table: model, system, hyperparameter, value (JSON text)."""
    rows = list(extra)
    for system, models in sorted(load_json(repo, HYPERPARAMETERS).items()):
        for darts_name, params in sorted(models.items()):
            for name, value in sorted(params.items()):
                if name == "pl_trainer_kwargs":  # the accelerator, not a hyperparameter
                    continue
                rows.append(
                    {"model": DARTS_NAMES[darts_name], "system": system}
                    | {"hyperparameter": name, "value": json.dumps(value)}
                )
    return pd.DataFrame(rows).sort_values(["model", "system", "hyperparameter"])


def timings(repo: Path) -> pd.DataFrame:
    """Per (model, system): training and inference seconds (one CPU, timing_benchmarks.py)."""
    rows = []
    for path in TIMINGS:
        for system, models in sorted(load_json(repo, path).items()):
            for name, rec in sorted(models.items()):
                if not isinstance(rec, dict):  # the "values" series
                    continue
                rows.append(
                    {
                        "model": DARTS_NAMES.get(name, name),
                        "system": system,
                        "train_seconds": _float(rec.get("Train time")),
                        "inference_seconds": _float(rec.get("Inference time")),
                        "file": path,
                    }
                )
    return pd.DataFrame(rows).sort_values(["model", "system"])


def _float(x: object) -> float:
    return np.nan if x is None else float(x)  # type: ignore[arg-type]


def system_changes(repo: Path) -> pd.DataFrame:
    """Systems whose parameters, dt or period differ between cc777ed and the installed dysts;
    parameters are compared one by one (field ``parameters.<name>``, empty where absent)."""
    old = load_json(repo, ATTRACTORS)
    new_path = importlib.resources.files("dysts") / "data" / "chaotic_attractors.json"
    new = json.loads(new_path.read_text())
    rows = []
    for system in sorted(set(old) | set(new)):
        a, b = old.get(system), new.get(system)
        if a is None or b is None:
            rows.append(
                {"system": system, "field": "system", "old": a is not None} | {"new": b is not None}
            )
            continue
        pa, pb = a.get("parameters") or {}, b.get("parameters") or {}
        for name in sorted(set(pa) | set(pb)):
            if pa.get(name) != pb.get(name):
                rows.append(
                    {"system": system, "field": f"parameters.{name}"}
                    | {"old": _text(pa, name), "new": _text(pb, name)}
                )
        for field in ("dt", "period"):
            if a.get(field) != b.get(field):
                rows.append(
                    {"system": system, "field": field}
                    | {"old": _text(a, field), "new": _text(b, field)}
                )
    return pd.DataFrame(rows, columns=["system", "field", "old", "new"])


def _text(d: dict, key: str) -> str:
    return json.dumps(d[key]) if key in d else ""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repo", type=Path, help="git directory of williamgilpin/dysts")
    args = parser.parse_args(argv)
    if args.repo is None:
        parser.print_usage()
        return 0
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    TRAJ_PATH.parent.mkdir(parents=True, exist_ok=True)

    table, arrays, extra = per_system(args.repo)
    table.to_csv(DATA_DIR / "gilpin2023_per_system.csv", index=False)
    hyperparameters(args.repo, extra).to_csv(
        DATA_DIR / "gilpin2023_hyperparameters.csv", index=False
    )
    timings(args.repo).to_csv(DATA_DIR / "gilpin2023_timings.csv", index=False)
    changes = system_changes(args.repo)
    changes.to_csv(DATA_DIR / "gilpin2023_system_changes.csv", index=False)
    buf = io.BytesIO()
    np.savez_compressed(buf, **arrays)
    TRAJ_PATH.write_bytes(buf.getvalue())

    print(table.groupby("model")["system"].count().to_string())
    print(f"{changes['system'].nunique()} systems changed: {sorted(set(changes['field']))}")
    for p in [*sorted(DATA_DIR.glob("gilpin2023_*")), TRAJ_PATH]:
        print(f"{p.relative_to(REPO_ROOT)}: {p.stat().st_size / 1e6:.2f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
