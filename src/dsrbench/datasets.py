"""Build one dataset: trajectories of one dysts system under one dataset setting.

Procedure (the dataset conventions of docs/protocols.md):

1. Integrate a *pool* trajectory from dysts' default initial condition, discarding
   ``burn_in`` output points, without post-processing (raw states).
2. Draw ``n_train + n_val + n_test`` distinct pool indices with a generator seeded from
   ``(seed, system)`` through a stable hash (SHA-256, not Python's salted ``hash()``). Their raw
   states are the initial conditions, their absolute times the start times ``t0`` (so
   non-autonomous systems keep their phase).
3. Integrate all trajectories in one batched call, post-processed as dysts does by default.
   Delay systems start from a constant history, which is not on the attractor, so this call
   also discards ``burn_in // 10`` points for them. Dynamical noise, if any, enters here
   only (the pool is noise-free); delay equations do not support it and fail.
4. Add observation noise, ``N(0, (observation_noise * std)^2)`` with ``std`` the per-coordinate
   standard deviation of the clean training data, to the train and validation trajectories
   only: the test split stays noise-free (DSR protocol: train noisy, test noise-free). The
   clean data are kept in ``x_clean`` whenever there is observation noise.

Deviation from plain random indices: the pool is split into as many equal blocks as there
are trajectories and one start is drawn per block, at least ``length`` points before the next
block (blocks are then assigned to trajectories in random order). Trajectories integrated on
the pool's time grid from pool states retrace the pool, so a start inside another
trajectory's window would make, e.g., a test trajectory a shifted copy of training data.
The pool therefore holds at least ``1.5 * length`` points per trajectory when there is more
than one trajectory (and at least ``max(2000, 20 * n_trajectories)`` points).

5. Irregular sampling (``missing_fraction`` > 0, off by default): each training trajectory
   loses that fraction of its time points, drawn with a fourth seed derived as above
   (:func:`dsrbench.splits.missing_mask`); the store keeps every value and records the
   kept points as ``observed(trajectory, time)``, which the training splits apply. Without
   the setting nothing changes (no ``observed``, the setting unrecorded).

Trajectories are stored in split order (train, then val, then test); ``generation`` records
the settings, the seed, the pool length and the pool indices of the initial conditions.

Integration goes through :func:`dsrbench.integration.simulate_robust`: where the given
tolerances fail (StickSlipOscillator at 15 points per period), its fallback chain takes over
and ``generation.integration_fallback`` names the fallback of the pool and of the
trajectories (empty when none was needed). A failed integration (``IntegrationError``, every
fallback included, or non-finite values) yields a result with status ``"failed"`` and no
store. Results are bit-identical for identical inputs: no timestamps or
host details enter the store.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import shutil
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from dsrbench import integration as integ
from dsrbench import splits, stores
from dsrbench.provenance import config_hash, provenance
from dsrbench.schemas import setting_defaults
from dsrbench.systems import get_system_info, metadata_path

__all__ = [
    "BuildResult",
    "build_dataset",
    "resolve_setting",
    "summarize",
    "SUMMARY_COLUMNS",
]

SUMMARY_COLUMNS: list[str] = [
    "system",
    "dataset",
    "status",
    "reason",
    "n_trajectories",
    "n_time",
    "n_dim",
    "wall_time_s",
    "path",
]
#: Version of the procedure above (pool, initial conditions, splits, noise): bump it when
#: a change makes the same setting, seed and dysts version give other data. It enters the
#: protocol hash of the results export (dsrbench.reports.export).
DATA_GENERATION_VERSION = 1
MIN_POOL = 2000
POOL_PER_TRAJECTORY = 20


@dataclasses.dataclass
class BuildResult:
    """Outcome of :func:`build_dataset`; sizes are those of the written store (0 if failed)."""

    system: str
    dataset: str
    status: str  # "ok" | "failed"
    reason: str | None
    wall_time_s: float
    n_trajectories: int
    n_time: int
    n_dim: int
    path: str | None

    def to_json(self) -> dict[str, Any]:
        """A JSON-serialisable dict of the fields."""
        return dataclasses.asdict(self)


@functools.cache
def _dysts_metadata() -> dict[str, Any]:
    return json.loads(metadata_path().read_text())


def system_metadata(system: str) -> dict[str, Any]:
    """The raw dysts metadata entry of a continuous system (a fresh copy)."""
    get_system_info(system)  # raises UnknownSystemError
    return json.loads(json.dumps(_dysts_metadata()[system]))


def derived_seeds(seed: int, system: str, n: int = 3) -> list[np.random.SeedSequence]:
    """``n`` independent seed sequences derived from ``(seed, system)`` by a stable hash."""
    if int(seed) < 0:
        raise ValueError(f"seed must be non-negative, got {seed}")
    key = int.from_bytes(hashlib.sha256(system.encode("utf-8")).digest()[:8], "little")
    return np.random.SeedSequence([int(seed), key]).spawn(n)


def _pool_length(n_total: int, length: int) -> int:
    n_pool = max(MIN_POOL, POOL_PER_TRAJECTORY * n_total)
    if n_total > 1:
        n_pool = max(n_pool, n_total * (length + max(length // 2, 1)))
    return n_pool


def _pick_indices(rng: np.random.Generator, n_pool: int, n_total: int, length: int) -> np.ndarray:
    """Distinct pool indices, one per block, no start within ``length`` of the next one."""
    if n_total == 1:
        return rng.integers(0, n_pool, size=1)
    block = n_pool // n_total
    offsets = rng.integers(0, block - length + 1, size=n_total)
    starts = np.arange(n_total) * block + offsets
    return starts[rng.permutation(n_total)]


def _remove_store(out: Path) -> None:
    """Delete a previous store at ``out``, so that a failed rebuild leaves no stale data."""
    if out.is_dir() and (out / "zarr.json").is_file():
        shutil.rmtree(out)


def resolve_setting(setting: dict, system: str) -> dict[str, Any]:
    """The dataset setting that ``system`` is simulated under: the schema's defaults, the
    setting, then its ``by_system[system]`` entries (a per-system sampling, e.g. the
    Roessler data of the DSR papers at dt ~ 0.08 beside Lorenz-63 at dt = 0.01). The result
    has no ``by_system`` key; a setting without one resolves to exactly what it was."""
    s = {**setting_defaults(), **setting}
    overrides = s.pop("by_system", None) or {}
    return {**s, **overrides.get(system, {})}


def build_dataset(
    system: str,
    dataset: str,
    setting: dict,
    *,
    seed: int,
    integration: dict,
    config: dict,
    out: Path,
) -> BuildResult:
    """Simulate ``system`` under ``setting`` and write the store at ``out`` (see module doc).

    ``setting`` holds ``pts_per_period``, ``timescale``, ``length``, ``n_train``, ``n_val``,
    ``n_test``, ``burn_in``, ``observation_noise`` and ``dynamical_noise`` (defaults in
    the schema); ``integration`` holds ``rtol`` and ``atol``. ``config`` is the
    configuration the dataset is built under: it is hashed into the ``config_hash`` and
    ``provenance`` attributes, so pass only the part that defines datasets if unrelated edits
    must not change stores. Unknown systems raise ``UnknownSystemError``; failed integrations
    return status ``"failed"`` and write nothing (a previous store at ``out`` is removed).
    """
    start_clock = time.perf_counter()
    out = Path(out)
    info = get_system_info(system)  # raises UnknownSystemError
    s = resolve_setting(setting, system)
    length, n_train = int(s["length"]), int(s["n_train"])
    n_val, n_test = int(s["n_val"]), int(s["n_test"])
    n_total = n_train + n_val + n_test
    burn_in = int(s["burn_in"])
    obs_noise, dyn_noise = float(s["observation_noise"]), float(s["dynamical_noise"])
    if n_train < 1 or n_val < 0 or n_test < 0 or length < 2 or burn_in < 0 or obs_noise < 0:
        raise ValueError(f"invalid dataset setting {dataset!r}: {setting}")
    # no schema default, and 0 is not recorded: such a store is the one built without
    missing = float(s.pop(splits.MISSING_OPTION, 0.0) or 0.0)
    observed = None
    if missing:
        s[splits.MISSING_OPTION] = missing
        observed = splits.missing_mask(
            n_train, n_val, n_test, length, missing, derived_seeds(seed, system, 4)[3]
        )
    rtol, atol = float(integration["rtol"]), float(integration["atol"])
    common = dict(
        pts_per_period=int(s["pts_per_period"]),
        timescale=str(s["timescale"]),
        rtol=rtol,
        atol=atol,
    )
    pick_ss, dyn_ss, obs_ss = derived_seeds(seed, system)
    sim_seed = int(dyn_ss.generate_state(1, np.uint32)[0])
    n_pool = _pool_length(n_total, length)

    def failed(reason: str) -> BuildResult:
        _remove_store(out)
        return BuildResult(
            system, dataset, "failed", reason, time.perf_counter() - start_clock, 0, 0, 0, None
        )

    if dyn_noise > 0 and info.is_delay:
        return failed("dynamical noise is not supported for delay equations")
    if str(s["timescale"]).lower() == "lyapunov" and info.lyapunov_time is None:
        return failed(
            f"no Lyapunov time: maximum_lyapunov_estimated = {info.maximum_lyapunov_estimated}"
        )
    fallbacks: dict[str, str] = {}
    try:
        pool = integ.simulate_robust(
            system,
            n_pool,
            transient=burn_in,
            postprocess=False,
            return_times=True,
            seed=sim_seed,
            **common,
        )
    except integ.IntegrationError as exc:
        return failed(f"pool trajectory: {exc}")
    pool_t, pool_x = pool.times, pool.x
    if pool.fallback:
        fallbacks["pool"] = pool.fallback
    pool_t, pool_x = np.asarray(pool_t, np.float64), np.asarray(pool_x, np.float64)
    if not (np.all(np.isfinite(pool_x)) and np.all(np.isfinite(pool_t))):
        return failed("pool trajectory: non-finite values")

    metadata = system_metadata(system)
    transient = burn_in // 10 if info.is_delay else 0
    idx = _pick_indices(np.random.default_rng(pick_ss), pool_x.shape[1], n_total, length)
    ic, t0 = pool_x[0, idx, :], pool_t[0, idx]
    try:
        run = integ.simulate_robust(
            system,
            length,
            initial_conditions=ic,
            t0=t0,
            transient=transient,
            dynamical_noise=dyn_noise,
            seed=sim_seed,
            postprocess=True,
            return_times=True,
            **common,
        )
    except integ.IntegrationError as exc:
        return failed(f"trajectories: {exc}")
    if run.fallback:
        fallbacks["trajectories"] = run.fallback
    times, x = np.asarray(run.times, np.float64), np.asarray(run.x, np.float64)
    if x.ndim != 3 or x.shape[:2] != (n_total, length) or times.shape != (n_total, length):
        raise RuntimeError(f"simulate returned shapes {times.shape}, {x.shape} for {system}")
    if not (np.all(np.isfinite(x)) and np.all(np.isfinite(times))):
        return failed("trajectories: non-finite values")

    split = splits.split_codes(n_train, n_val, n_test)
    clean = x
    if obs_noise > 0:
        scale = obs_noise * clean[:n_train].std(axis=(0, 1))
        noise = np.random.default_rng(obs_ss).standard_normal((n_train + n_val, *x.shape[1:]))
        x = clean.copy()
        x[: n_train + n_val] += noise * scale
    train = x[:n_train]

    generation = {
        "system": system,
        "dataset": dataset,
        "data_generation_version": DATA_GENERATION_VERSION,
        "setting": s,
        "seed": int(seed),
        "integration": {"rtol": rtol, "atol": atol},
        # where the given settings failed: the fallback of dsrbench.integration.simulate_robust
        "integration_fallback": fallbacks,
        "seed_derivation": "SeedSequence([seed, sha256(system)[:8] little-endian]).spawn(3)",
        "pool_length": int(pool_x.shape[1]),
        "pool_burn_in": burn_in,
        "pool_indices": idx.tolist(),
        "trajectory_transient": transient,
        "observation_noise_applies_to": ["train", "val"] if obs_noise > 0 else [],
        "train_stats": "mean and std (ddof 0) of x over the train split",
    }
    variables: dict[str, Any] = {
        "x": (("trajectory", "time", "dim"), x),
        "split": (("trajectory",), split),
        "t0": (("trajectory",), times[:, 0].copy()),
        "initial_condition": (("trajectory", "state"), ic),
        "train_mean": (("dim",), train.mean(axis=(0, 1))),
        "train_std": (("dim",), train.std(axis=(0, 1))),
    }
    if obs_noise > 0:
        variables["x_clean"] = (("trajectory", "time", "dim"), clean)
    if observed is not None:
        variables[splits.OBSERVED] = (("trajectory", "time"), observed)
        generation["missing_points"] = (
            "observed(trajectory, time): True where a point is kept; each training "
            "trajectory drops round(missing_fraction * length) points drawn uniformly "
            "(SeedSequence([seed, sha256(system)]).spawn(4)[3])"
        )
    ds = xr.Dataset(
        variables,
        coords={"time": times[0] - times[0, 0]},
        attrs={
            "system": system,
            "dataset": dataset,
            stores.SCHEMA_ATTR: stores.SCHEMA_VERSION,
            "system_metadata": metadata,
            "generation": generation,
            "provenance": provenance(config),
            "config_hash": config_hash(config),
        },
    )
    path = stores.write_dataset(ds, out)
    return BuildResult(
        system,
        dataset,
        "ok",
        None,
        time.perf_counter() - start_clock,
        n_total,
        length,
        int(x.shape[2]),
        str(path),
    )


def summarize(results: list[dict]) -> pd.DataFrame:
    """One row per build result (dicts or :class:`BuildResult`), in :data:`SUMMARY_COLUMNS`."""
    rows = [r.to_json() if isinstance(r, BuildResult) else dict(r) for r in results]
    return pd.DataFrame(rows, columns=SUMMARY_COLUMNS)
