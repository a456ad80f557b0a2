"""The true trajectories of a dataset store: its noise-free values, re-integrations of its
trajectories with the dataset's own settings, and the ``truth`` oracle's predictions.

The evaluation compares a model's free run with a true long run (:func:`true_long_run`),
and the reference predictor ``truth`` (:func:`truth_oracle`) forecasts the true
continuations and runs freely along an independent true trajectory, so it scores at the
truth floor (docs/protocols.md).

The long re-integrations that the oracle and the evaluation need are done once per dataset
store, by the workflow's ``true_runs`` job (:func:`true_run_keys`, :func:`write_true_runs`),
and read back bit for bit (:class:`TrueRuns`); without that file they are integrated where
they are needed, with the same result.

A re-integration never leaves a gap: when the dataset's integrator and tolerances fail
(e.g. a discontinuous right-hand side stalls DOP853 at rtol = 1e-10), it falls back along
:data:`dsrbench.integration.FALLBACK_CHAIN` (looser tolerances, LSODA, BDF, fixed-step Heun)
and :class:`TrueRun` names the fallback used.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import xarray as xr

from dsrbench import splits
from dsrbench.atomic import atomic_path
from dsrbench.integration import sampling_period, simulate_robust
from dsrbench.systems import get_system_info

__all__ = [
    "TRUE_RUNS_FORMAT",
    "TrueRun",
    "TrueRuns",
    "pool_scale",
    "regenerate",
    "regenerate_run",
    "true_long_run",
    "true_run",
    "true_run_keys",
    "truth_oracle",
    "truth_values",
    "write_true_runs",
]


@dataclass(frozen=True)
class TrueRun:
    """A true trajectory (T, D) and the integration fallback behind it (None: the stored
    data or a re-integration with the dataset's own settings)."""

    x: np.ndarray
    fallback: str | None = None


#: the format of a true-runs file (:func:`write_true_runs`)
TRUE_RUNS_FORMAT = "dsrbench.true_runs/1"

#: a re-integration: (trajectory index, points, seed), the arguments of :func:`regenerate_run`
RunKey = tuple[int, int, int]


@dataclass(frozen=True)
class TrueRuns:
    """Re-integrations of one dataset store done once (:func:`write_true_runs`), keyed by
    :data:`RunKey`; :func:`regenerate_run` returns one instead of integrating again. Those of
    another dataset store (another ``config_hash``) are never used."""

    runs: Mapping[RunKey, TrueRun] = field(default_factory=dict)
    dataset_config_hash: str = ""

    def get(self, ds: xr.Dataset, index: int, n: int, seed: int) -> TrueRun | None:
        """The run of ``(index, n, seed)`` of ``ds``, None when this file does not hold it."""
        if self.dataset_config_hash != ds.attrs.get("config_hash", ""):
            return None
        return self.runs.get((int(index), int(n), int(seed)))

    @classmethod
    def load(cls, path: str | Path | None) -> TrueRuns:
        """The runs of a file of :func:`write_true_runs` (none for ``path`` None)."""
        if path is None:
            return cls()
        with np.load(path, allow_pickle=False) as data:
            meta = json.loads(str(data["meta"]))
            if meta.get("format") != TRUE_RUNS_FORMAT:
                raise ValueError(f"{path} is not a true-runs file ({TRUE_RUNS_FORMAT})")
            runs = {
                (int(i), int(n), int(s)): TrueRun(np.asarray(data[name]), fallback)
                for name, (i, n, s), fallback in meta["runs"]
            }
        return cls(runs, meta["dataset_config_hash"])


def true_run_keys(
    ds: xr.Dataset, evaluation: Mapping[str, object], seeds: Sequence[int]
) -> list[RunKey]:
    """The re-integrations that the predictions and the evaluation of ``ds`` under an
    evaluation slice (``long_run_length``, ``long_run_transient`` and the keys that place
    the contexts) with ``seeds`` ask for: the ``truth`` oracle's free run of each seed
    (:func:`truth_oracle`, with seed + 1 as the prediction passes it), and, when the long
    runs are longer than the stored trajectories, the truth floor's two runs (seeds 0 and 1,
    :func:`dsrbench.pipeline.evaluate.truth_floor`) and the true run each free run is compared with
    (from the first context's trajectory, with the prediction's seed)."""
    where = splits.long_run_trajectories(ds)
    length = int(evaluation.get("long_run_length") or ds.sizes["time"])
    n_gen = splits.free_run_points(length, float(evaluation["long_run_transient"]))  # type: ignore[arg-type]
    keys = [(where.oracle, n_gen, int(s) + 1) for s in seeds]
    if length > ds.sizes["time"]:
        first = int(splits.protocol_contexts(ds, evaluation)[0][0])
        keys += [(where.test, length, 0), (where.floor, length, 1)]
        keys += [(first, length, int(s)) for s in seeds]
    return list(dict.fromkeys(keys))


def write_true_runs(ds: xr.Dataset, keys: Iterable[RunKey], out: str | Path) -> Path:
    """Integrate the runs ``keys`` of ``ds`` (:func:`regenerate_run`) and write them to
    ``out`` (an ``.npz`` file, atomically) for :meth:`TrueRuns.load`."""
    arrays, meta = {}, []
    for k, (index, n, seed) in enumerate(keys):
        run = regenerate_run(ds, index, n, seed=seed)
        arrays[f"run{k}"] = run.x
        meta.append([f"run{k}", [index, n, seed], run.fallback])
    header = {
        "format": TRUE_RUNS_FORMAT,
        "dataset_config_hash": ds.attrs.get("config_hash", ""),
        "runs": meta,
    }
    with atomic_path(out) as tmp, open(tmp, "wb") as fh:
        np.savez(fh, meta=np.array(json.dumps(header)), **arrays)
    return Path(out)


def truth_values(ds: xr.Dataset) -> np.ndarray:
    """Noise-free trajectories (``x_clean`` when observation noise was added, else ``x``)."""
    return np.asarray((ds["x_clean"] if "x_clean" in ds else ds["x"]).values)


def pool_scale(ds: xr.Dataset) -> np.ndarray:
    """Per-coordinate range (max - min) of the noise-free data over all trajectories: the
    scale below which no divergence box may shrink (:func:`dsrbench.metrics.attractor.
    check_divergence`), so that a truth resting on an equilibrium has a usable box."""
    x = truth_values(ds)
    x = x.reshape(-1, x.shape[-1])
    with np.errstate(all="ignore"):
        return np.nan_to_num(np.nanmax(x, axis=0) - np.nanmin(x, axis=0))


def regenerate(ds: xr.Dataset, index: int, n: int, *, seed: int = 0) -> np.ndarray:
    """:func:`regenerate_run`'s trajectory."""
    return regenerate_run(ds, index, n, seed=seed).x


def regenerate_run(
    ds: xr.Dataset, index: int, n: int, *, seed: int = 0, runs: TrueRuns | None = None
) -> TrueRun:
    """Re-integrate trajectory ``index`` of a dataset for ``n`` points with its own settings
    (or the first fallback of :func:`dsrbench.integration.simulate_robust` that works); the
    run of ``runs`` when it holds this one (integrated once, the same bits).

    The output spacing is the dataset's (dysts' grid spacing, period * n /
    (pts_per_period * (n - 1)), depends on n, so the points per period are adjusted to
    keep it), so the first ``ds.sizes['time']`` points reproduce the stored clean
    trajectory up to the integration tolerance.
    """
    done = runs.get(ds, index, n, seed) if runs is not None else None
    if done is not None:
        return done
    gen = ds.attrs["generation"]
    setting = gen["setting"]
    info = get_system_info(ds.attrs["system"])
    spacing = float(ds["time"].values[1] - ds["time"].values[0])
    transient_pts = int(gen.get("trajectory_transient", 0))
    total = n + transient_pts
    pts = sampling_period(info, str(setting["timescale"])) * total / (spacing * (total - 1))
    t0 = None if info.is_delay else float(ds["t0"].values[index])
    run = simulate_robust(
        ds.attrs["system"],
        n,
        initial_conditions=ds["initial_condition"].values[index],
        t0=t0,
        transient=transient_pts,
        pts_per_period=pts,
        timescale=str(setting["timescale"]),
        rtol=float(gen["integration"]["rtol"]),
        atol=float(gen["integration"]["atol"]),
        dynamical_noise=float(setting.get("dynamical_noise", 0.0)),
        seed=seed,
    )
    return TrueRun(run.x[0], run.fallback)


def true_long_run(ds: xr.Dataset, index: int, length: int, *, seed: int = 0) -> np.ndarray:
    """:func:`true_run`'s trajectory."""
    return true_run(ds, index, length, seed=seed).x


def true_run(
    ds: xr.Dataset, index: int, length: int, *, seed: int = 0, runs: TrueRuns | None = None
) -> TrueRun:
    """A noise-free true trajectory of ``length`` points from trajectory ``index``'s start:
    the stored one when long enough, else re-integrated (:func:`regenerate_run`; the run
    of ``runs`` when it holds it)."""
    if length <= ds.sizes["time"]:
        return TrueRun(truth_values(ds)[index, :length])
    return regenerate_run(ds, index, length, seed=seed, runs=runs)


def true_continuations(
    ds: xr.Dataset, traj: np.ndarray, start: np.ndarray, horizon: int
) -> np.ndarray:
    """``(C, horizon, D)``: the noise-free continuations of ``horizon`` points from each
    ``start`` on trajectory ``traj`` (the truth every forecast is scored against)."""
    clean = truth_values(ds)
    return np.stack([clean[i, s : s + horizon] for i, s in zip(traj, start, strict=True)])


def truth_oracle(
    ds: xr.Dataset,
    traj: np.ndarray,
    start: np.ndarray,
    horizon: int,
    n_gen: int,
    seed: int,
    record: dict | None = None,
    runs: TrueRuns | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """The ``truth`` oracle's ``(forecast (C, horizon, D), generated (1, n_gen, D))``: the
    true continuations of the contexts ending before ``start`` on trajectories ``traj``,
    and the last training trajectory re-integrated for ``n_gen`` points (an independent
    true free run). ``record``, if given, receives ``integration_fallback`` (the fallback
    of that re-integration, None when there was none). ``runs``: the store's runs
    integrated once (:class:`TrueRuns`)."""
    forecast = true_continuations(ds, traj, start, horizon)
    oracle = splits.long_run_trajectories(ds).oracle
    run = regenerate_run(ds, oracle, n_gen, seed=seed, runs=runs)
    if record is not None:
        record["integration_fallback"] = run.fallback
    return forecast, run.x[None]
