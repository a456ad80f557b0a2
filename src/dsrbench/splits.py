"""Every split of a dataset store: the one place that says which trajectories and which
points each stage reads.

A dataset store holds ``n_train``, ``n_val`` and ``n_test`` trajectories in that order,
each marked by its ``split`` code (:data:`SPLIT_CODES`, the store's ``flag_values``). Cut
from them:

* the training and validation data of a fit (:func:`training_splits`), cut to the first
  ``train_length`` / ``val_length`` points (Gilpin 2023 trains on 1000 and validates on
  200), or, for ``validation: train_tail``, validated on the points after the training
  points of the same trajectories (:func:`protocol_splits`);
* the refit data of Gilpin 2023's protocol: the first points of the first test trajectory
  (:func:`refit_data`), and the points after them (:func:`refit_continuation`);
* the forecast contexts: evenly spaced on every test trajectory (:func:`context_indices`);
* the trajectories of the long runs: the first test trajectory (the model's free run starts
  from its first context and is compared with its true run), the last training trajectory
  (the ``truth`` oracle's independent free run) and the first training trajectory (the
  second run of the truth floor) (:func:`long_run_trajectories`).

Any cut whose training data change gets its training mean and scale recomputed on them
(:func:`cut` with ``rescale``), so nothing outside them leaks into a model.

Irregular sampling (the dataset setting ``missing_fraction``; Naiman et al. 2024, KoVAE):
:func:`missing_mask` draws which time points of each training trajectory are dropped, the
store keeps it as ``observed(trajectory, time)`` (True: kept), and :func:`training_splits`
/ :func:`protocol_splits` hand a fit the training points with the dropped ones set to NaN
(:func:`hide_missing`; its mean and scale from the kept points). Validation and test data
stay regular. :func:`missing_fraction` says how much a split lacks; a method that needs
regular sampling refuses a split that lacks any (:func:`require_regular`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

import numpy as np
import xarray as xr

__all__ = [
    "SPLITS",
    "SPLIT_CODES",
    "LongRunTrajectories",
    "context_indices",
    "protocol_contexts",
    "context_starts",
    "cut",
    "free_run_points",
    "IrregularSamplingError",
    "hide_missing",
    "indices",
    "missing_fraction",
    "missing_mask",
    "require_regular",
    "long_run_trajectories",
    "protocol_splits",
    "refit_continuation",
    "refit_data",
    "split_codes",
    "split_of",
    "training_splits",
]

#: the splits of a dataset store, in storage order; a trajectory's code is its position
SPLITS: tuple[str, ...] = ("train", "val", "test")
SPLIT_CODES: dict[str, int] = {name: code for code, name in enumerate(SPLITS)}
#: the protocols' names for where validation points come from (``training.validation``)
VALIDATIONS = ("val_split", "train_tail")


#: the store variable that marks the kept time points of irregularly sampled training data
OBSERVED = "observed"
#: the dataset setting that drops time points from the training data
MISSING_OPTION = "missing_fraction"


class IrregularSamplingError(ValueError):
    """A method that needs regular sampling was given training data with dropped points."""


def missing_mask(
    n_train: int,
    n_val: int,
    n_test: int,
    length: int,
    fraction: float,
    seed: np.random.SeedSequence,
) -> np.ndarray:
    """``observed (n_train + n_val + n_test, length)`` bool: each training trajectory loses
    ``round(fraction * length)`` time points drawn uniformly without replacement (one
    generator from ``seed``, trajectories in order; KoVAE drops random time rows in all
    channels the same way); validation and test trajectories keep every point."""
    fraction = float(fraction)
    if not 0.0 <= fraction < 1.0:
        raise ValueError(f"{MISSING_OPTION} must lie in [0, 1), got {fraction}")
    drop = int(round(fraction * length))
    if length - drop < 2:
        raise ValueError(
            f"{MISSING_OPTION} = {fraction} leaves {length - drop} of {length} points per "
            "training trajectory; at least 2 must stay"
        )
    rng = np.random.default_rng(seed)
    mask = np.ones((n_train + n_val + n_test, length), dtype=bool)
    for k in range(n_train):
        mask[k, rng.choice(length, size=drop, replace=False)] = False
    return mask


def missing_fraction(ds: xr.Dataset) -> float:
    """The fraction of the points of ``ds`` that are dropped (0 without an ``observed``
    mask)."""
    if OBSERVED not in ds:
        return 0.0
    return float(1.0 - np.asarray(ds[OBSERVED].values, dtype=bool).mean())


def hide_missing(ds: xr.Dataset) -> xr.Dataset:
    """``ds`` with its dropped points (``observed`` False) set to NaN in ``x`` (and
    ``x_clean``) and its training mean and scale recomputed on the kept points; ``ds``
    itself when nothing is dropped (the ``observed`` mask is then removed)."""
    if OBSERVED not in ds:
        return ds
    keep = np.asarray(ds[OBSERVED].values, dtype=bool)
    if keep.all():
        return ds.drop_vars(OBSERVED)
    hidden = np.where(keep[..., None], ds["x"].values, np.nan)
    out = ds.assign(x=(ds["x"].dims, hidden))
    if "x_clean" in out:
        out = out.drop_vars("x_clean")
    kept = hidden[keep]
    return out.assign(train_mean=("dim", kept.mean(axis=0)), train_std=("dim", kept.std(axis=0)))


def require_regular(method: str, ds: xr.Dataset) -> None:
    """Refuse training data with dropped points for ``method``, a method that needs regular
    sampling (:class:`IrregularSamplingError`, naming the method and the option)."""
    lost = missing_fraction(ds)
    if lost > 0:
        raise IrregularSamplingError(
            f"method {method!r} needs regularly sampled training data, but this dataset "
            f"drops {lost:.0%} of its training points (dataset setting {MISSING_OPTION}); "
            f"set {MISSING_OPTION}: 0 for it, or use a method that accepts irregular "
            "sampling (kovae)"
        )


def _regular(ds: xr.Dataset | None) -> xr.Dataset | None:
    """``ds`` without the ``observed`` mask (validation data stay regular)."""
    if ds is None or OBSERVED not in ds:
        return ds
    return ds.drop_vars(OBSERVED)


def split_codes(n_train: int, n_val: int, n_test: int) -> np.ndarray:
    """The ``split`` variable of a store of ``n_train + n_val + n_test`` trajectories."""
    return np.repeat(np.arange(len(SPLITS), dtype=np.int8), [n_train, n_val, n_test])


def _codes(ds: xr.Dataset) -> dict[str, int]:
    """Split name -> code, from the store's CF flag attributes (default :data:`SPLIT_CODES`)."""
    meanings = str(ds["split"].attrs.get("flag_meanings", " ".join(SPLITS))).split()
    values = ds["split"].attrs.get("flag_values", list(SPLIT_CODES.values()))
    return dict(zip(meanings, np.asarray(values).tolist(), strict=True))


def indices(ds: xr.Dataset, name: str) -> np.ndarray:
    """The trajectory indices of ``ds`` in split ``name`` ("train", "val" or "test")."""
    codes = _codes(ds)
    if name not in codes:
        raise ValueError(f"unknown split {name!r}; expected one of {sorted(codes)}")
    return np.flatnonzero(ds["split"].values == codes[name])


def split_of(ds: xr.Dataset, name: str) -> xr.Dataset:
    """The trajectories of ``ds`` in split ``name`` ("train", "val" or "test")."""
    return ds.isel(trajectory=indices(ds, name))


def cut(ds: xr.Dataset, start: int, stop: int, *, rescale: bool) -> xr.Dataset:
    """Points ``[start, stop)`` of every trajectory of ``ds``; with ``rescale`` the training
    mean and scale are recomputed on them (so nothing else leaks into a model)."""
    if stop > ds.sizes["time"] or start < 0 or stop - start < 2:
        raise ValueError(
            f"points [{start}, {stop}) do not fit the trajectories of {ds.sizes['time']} points "
            f"of dataset {ds.attrs.get('dataset')!r}: lengthen the dataset"
        )
    out = ds.isel(time=slice(start, stop))
    if rescale and OBSERVED in out:
        if not bool(out[OBSERVED].values.all()):
            return hide_missing(out)  # the kept points only, mean and scale from them
        out = out.drop_vars(OBSERVED)
    if rescale:
        x = out["x"].values
        out = out.assign(
            train_mean=("dim", x.mean(axis=(0, 1))), train_std=("dim", x.std(axis=(0, 1)))
        )
    return out


def training_splits(
    ds: xr.Dataset, train_length: int | None = None, val_length: int | None = None
) -> tuple[xr.Dataset, xr.Dataset | None]:
    """The training and validation splits of a dataset store (val None when empty), cut to
    their first ``train_length`` / ``val_length`` points (Gilpin 2023 trains on 1000 points
    and validates on 200). ``train_mean`` and ``train_std`` are recomputed on the cut
    training data, so nothing outside it leaks into the model."""
    train = split_of(ds, "train")
    val_idx = indices(ds, "val")
    val = ds.isel(trajectory=val_idx) if val_idx.size else None
    for name, length in (("train_length", train_length), ("val_length", val_length)):
        if length is not None and length > ds.sizes["time"]:
            raise ValueError(
                f"training.{name} = {length} exceeds the trajectory length "
                f"{ds.sizes['time']} of dataset {ds.attrs.get('dataset')!r}"
            )
    if train_length is not None:
        train = cut(train, 0, train_length, rescale=True)
    else:
        train = hide_missing(train)
    if val is not None and val_length is not None:
        val = val.isel(time=slice(0, val_length))
    return train, _regular(val)


def protocol_splits(
    ds: xr.Dataset,
    train_length: int | None,
    val_length: int | None,
    validation: str = "val_split",
) -> tuple[xr.Dataset, xr.Dataset | None]:
    """The training and validation data of a protocol: ``train_tail`` validates on the
    ``val_length`` points after the first ``train_length`` of each training trajectory;
    ``val_split`` on the validation trajectories (:func:`training_splits`)."""
    if validation not in VALIDATIONS:
        raise ValueError(f"training.validation must be one of {VALIDATIONS}, not {validation!r}")
    if validation == "val_split":
        return training_splits(ds, train_length, val_length)
    if not train_length or not val_length:
        raise ValueError("validation: train_tail needs training.train_length and val_length")
    whole = split_of(ds, "train")
    train = cut(whole, 0, train_length, rescale=True)
    val = _regular(cut(whole, train_length, train_length + val_length, rescale=False))
    val = val.assign(train_mean=train["train_mean"], train_std=train["train_std"])
    return train, val


def refit_data(ds: xr.Dataset, train_length: int | None, start: int = 0) -> xr.Dataset:
    """Points ``[start, train_length)`` of the first test trajectory, rescaled: the data of
    the refit (Gilpin 2023) and of the data-limited sweep."""
    test = split_of(ds, "test")
    if test.sizes["trajectory"] == 0:
        raise ValueError(f"dataset {ds.attrs.get('dataset')!r} has no test trajectory to refit on")
    length = int(train_length or ds.sizes["time"])
    return cut(test.isel(trajectory=[0]), start, length, rescale=True)


def refit_continuation(ds: xr.Dataset, start: int, horizon: int) -> np.ndarray:
    """``(1, horizon, D)``: the observed points ``[start, start + horizon)`` of the first
    test trajectory, which a model refitted on the points before them forecasts."""
    test = split_of(ds, "test")
    return np.asarray(test["x"].values[:1, start : start + horizon])


def context_starts(
    context_length: int, horizon: int, per_trajectory: int, length: int
) -> np.ndarray:
    """The first forecast indices of ``per_trajectory`` evenly spaced contexts of
    ``context_length`` points on a trajectory of ``length`` points (duplicates dropped)."""
    last = length - horizon
    return np.unique(np.linspace(context_length, last, per_trajectory).round().astype(int))


def context_indices(
    ds: xr.Dataset,
    context_length: int,
    horizon: int,
    per_trajectory: int,
    from_splits: Sequence[str] = ("test",),
) -> tuple[np.ndarray, np.ndarray]:
    """(trajectory index, first forecast index) of evenly spaced contexts on the
    trajectories of ``from_splits`` (default the test trajectories), in trajectory order."""
    chosen = np.sort(np.concatenate([indices(ds, name) for name in from_splits]))
    if chosen.size == 0:
        raise ValueError(
            f"dataset {ds.attrs.get('dataset')!r} has no {'/'.join(from_splits)} trajectories"
            " (n_test)"
        )
    length = ds.sizes["time"]
    if length - horizon < context_length:
        raise ValueError(
            f"evaluation.context_length ({context_length}) + evaluation.horizon ({horizon}) "
            f"exceeds the test trajectory length ({length}) of dataset "
            f"{ds.attrs.get('dataset')!r}: shorten them or lengthen the dataset"
        )
    starts = context_starts(context_length, horizon, per_trajectory, length)
    traj = np.repeat(chosen, starts.size)
    start = np.tile(starts, chosen.size)
    return traj.astype(np.int64), start.astype(np.int64)


def protocol_contexts(
    ds: xr.Dataset, evaluation: Mapping[str, Any]
) -> tuple[np.ndarray, np.ndarray]:
    """The contexts of an evaluation slice (``context_length``, ``horizon``,
    ``contexts_per_trajectory``, ``context_splits``, ``context_lengths``): (trajectory
    index, first forecast index), as :func:`context_indices` places them for the longest
    context of the sweep. The prediction and a fit on each context (``training.refit_on:
    context``) both place them here."""
    longest = max([int(evaluation["context_length"]), *evaluation.get("context_lengths", [])])
    return context_indices(
        ds,
        longest,
        int(evaluation["horizon"]),
        int(evaluation["contexts_per_trajectory"]),
        tuple(evaluation.get("context_splits") or ("test",)),
    )


def free_run_points(length: int, transient: float) -> int:
    """The points of a model's free run for long-term metrics over ``length`` points: the
    first ``transient * length`` are dropped (docs/protocols.md: 1.25 T, the first 0.25 T
    dropped)."""
    return int(round((1 + float(transient)) * int(length)))


class LongRunTrajectories(NamedTuple):
    """The trajectories whose initial conditions start the long runs of the evaluation."""

    #: the first test trajectory: a model's free run starts from its first context and is
    #: compared with its true run; the first run of the truth floor
    test: int
    #: the first training trajectory: the second, independent run of the truth floor
    floor: int
    #: the last training trajectory: the ``truth`` oracle's independent free run
    oracle: int


def long_run_trajectories(ds: xr.Dataset) -> LongRunTrajectories:
    """The trajectory indices of :class:`LongRunTrajectories` of ``ds``."""
    test, train = indices(ds, "test"), indices(ds, "train")
    if test.size == 0 or train.size == 0:
        raise ValueError(
            f"dataset {ds.attrs.get('dataset')!r} needs a training and a test trajectory "
            "for the long runs (datasets.<name>.n_train, n_test)"
        )
    return LongRunTrajectories(int(test[0]), int(train[0]), int(train[-1]))
