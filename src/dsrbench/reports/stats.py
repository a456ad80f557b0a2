"""Statistics of the pages: seed aggregates, ranks across systems, bootstrap intervals,
the spread over seeds beside the spread over systems.

The spread shown on every page is a seeded two-level bootstrap: systems are resampled with
replacement, and within each drawn system its seeds are resampled with replacement; the
statistic (median across systems by default) of the resampled per-system aggregates (the
seed median on the leaderboard, the seed mean elsewhere) gives the percentile interval.
With one seed per system it is the ordinary bootstrap over systems. Rankings aggregate the
seeds of a system first (median over seeds), then rank within the system, then average
the ranks across systems.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

__all__ = [
    "Interval",
    "bootstrap_ci",
    "fmt",
    "rank_methods",
    "seed_means",
    "seed_medians",
    "seed_spread",
    "summarize",
]


@dataclass(frozen=True)
class Interval:
    """An estimate with its bootstrap interval; ``n`` groups (systems) entered it."""

    estimate: float
    low: float
    high: float
    n: int

    def errorbar(self) -> list[list[float]]:
        """Distances to the interval's ends, for matplotlib's ``xerr`` / ``yerr`` (never
        negative, also where the estimate lies outside a percentile interval)."""
        return [[max(0.0, self.estimate - self.low)], [max(0.0, self.high - self.estimate)]]

    def text(self, digits: int = 3) -> str:
        """``estimate [low, high]`` with ``digits`` significant digits (``n/a`` when NaN)."""
        if not math.isfinite(self.estimate):
            return "n/a"
        if self.n < 2 or self.low == self.high:
            return fmt(self.estimate, digits)
        return f"{fmt(self.estimate, digits)} [{fmt(self.low, digits)}, {fmt(self.high, digits)}]"


def fmt_g(value: float, nan: str = "n/a") -> str:
    """A number as ``%.3g`` (the run pages' and comparisons' tables); ``nan`` for NaN,
    ``inf`` and ``-inf`` kept."""
    value = float(value)
    if math.isnan(value):
        return nan
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    return f"{value:.3g}"


def fmt(value: float, digits: int = 3) -> str:
    """A number with ``digits`` significant digits; ``n/a`` for NaN, ``inf`` kept."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    value = float(value)
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    if value == 0:
        return "0"
    if 1e-3 <= abs(value) < 1e5:
        decimals = max(0, digits - 1 - int(math.floor(math.log10(abs(value)))))
        return f"{value:.{decimals}f}"
    return f"{value:.{digits - 1}e}"


def bootstrap_ci(
    groups: list[np.ndarray],
    *,
    stat: str = "median",
    within: str = "mean",
    n_boot: int = 2000,
    level: float = 0.95,
    seed: int = 0,
) -> Interval:
    """Two-level bootstrap interval of ``stat`` across groups of the group aggregates
    (``within``: the mean or the median of a group's replicates).

    ``groups``: one array of replicate values (seeds) per group (system); non-finite values
    are left out, and a group with none is dropped. Deterministic for a given ``seed``.
    """
    clean = [np.asarray(g, dtype=float) for g in groups]
    clean = [g[np.isfinite(g)] for g in clean]
    clean = [g for g in clean if g.size]
    if not clean:
        return Interval(math.nan, math.nan, math.nan, 0)
    if stat not in ("median", "mean"):
        raise ValueError(f"stat must be median or mean (got {stat!r})")
    if within not in ("median", "mean"):
        raise ValueError(f"within must be median or mean (got {within!r})")
    means = np.array([g.mean() if within == "mean" else np.median(g) for g in clean])
    estimate = float(np.median(means) if stat == "median" else np.mean(means))
    if len(clean) == 1 and clean[0].size == 1:
        return Interval(estimate, estimate, estimate, 1)
    rng = np.random.default_rng(seed)
    n = len(clean)
    sizes = np.array([g.size for g in clean])
    width = int(sizes.max())
    padded = np.zeros((n, width))  # the groups as one matrix: the resampling is vectorised
    for i, g in enumerate(clean):
        padded[i, : g.size] = g
    out = np.empty(n_boot)
    chunk = max(1, 2_000_000 // (n * width))  # bounded memory
    for lo in range(0, n_boot, chunk):
        b = min(chunk, n_boot - lo)
        pick = rng.integers(0, n, size=(b, n))  # groups drawn with replacement
        k = sizes[pick]  # (b, n) seeds of each drawn group
        inner = (rng.random((b, n, width)) * k[..., None]).astype(int)  # seeds within it
        draws = padded[pick[..., None], inner]
        used = np.arange(width)[None, None, :] < k[..., None]
        if within == "mean":
            means = np.where(used, draws, 0.0).sum(axis=2) / k
        elif width == 1:
            means = draws[..., 0]
        else:
            means = np.nanmedian(np.where(used, draws, np.nan), axis=2)
        out[lo : lo + b] = np.median(means, axis=1) if stat == "median" else means.mean(axis=1)
    alpha = (1 - level) / 2
    low, high = np.quantile(out, [alpha, 1 - alpha])
    return Interval(estimate, float(low), float(high), n)


def seed_means(scores: pd.DataFrame) -> pd.DataFrame:
    """Mean over seeds per (dataset, system, method); NaN when every seed is NaN."""
    return (
        scores.groupby(["dataset", "system", "method"], as_index=False)
        .agg(value=("value", "mean"), floor=("floor", "mean"), n_seeds=("seed", "nunique"))
        .sort_values(["dataset", "system", "method"], ignore_index=True)
    )


def seed_medians(scores: pd.DataFrame) -> pd.DataFrame:
    """Median over the finite seeds per (dataset, system, method) (NaN when no seed is
    finite), with ``n_seeds`` (seeds present) and ``n_finite`` (seeds with a finite value)."""
    v = scores.assign(
        value=scores["value"].astype(float).where(np.isfinite(scores["value"].astype(float))),
        finite=np.isfinite(scores["value"].astype(float)),
    )
    return (
        v.groupby(["dataset", "system", "method"], as_index=False)
        .agg(
            value=("value", "median"),
            floor=("floor", "median"),
            n_seeds=("seed", "nunique"),
            n_finite=("finite", "sum"),
        )
        .sort_values(["dataset", "system", "method"], ignore_index=True)
    )


def _iqr(x: pd.Series) -> float:
    v = x.to_numpy(dtype=float)
    v = v[np.isfinite(v)]
    if v.size < 2:
        return math.nan
    q1, q3 = np.quantile(v, [0.25, 0.75])
    return float(q3 - q1)


def seed_spread(scores: pd.DataFrame) -> pd.DataFrame:
    """The spread over seeds beside the spread over systems, per method.

    For each (dataset, system) the finite seed values give a seed median, a seed standard
    deviation (ddof = 1) and a seed IQR (both NaN with fewer than two finite seeds). Per
    method: ``seed_std`` and ``seed_iqr`` are the medians over systems of the per-system
    seed std / IQR; ``system_iqr`` is the IQR over systems of the per-system seed medians;
    ``median`` their median; ``systems`` the systems with a finite seed median,
    ``systems_with_seeds`` those with at least two finite seeds. The seeds are noise
    against the systems when ``seed_iqr`` is small beside ``system_iqr``.
    """
    v = scores.assign(value=scores["value"].astype(float))
    v = v[np.isfinite(v["value"])]
    per = v.groupby(["method", "dataset", "system"])["value"].agg(
        med="median",
        std=lambda x: float(x.std(ddof=1)) if len(x) > 1 else math.nan,
        iqr=_iqr,
        n="size",
    )
    rows = []
    for method in scores["method"].drop_duplicates():
        sub = per.loc[method] if method in per.index.get_level_values(0) else per.iloc[:0]
        with_seeds = sub[sub["n"] >= 2]
        rows.append(
            {
                "method": method,
                "median": float(sub["med"].median()) if len(sub) else math.nan,
                "system_iqr": _iqr(sub["med"]),
                "seed_std": float(with_seeds["std"].median()) if len(with_seeds) else math.nan,
                "seed_iqr": float(with_seeds["iqr"].median()) if len(with_seeds) else math.nan,
                "systems": len(sub),
                "systems_with_seeds": len(with_seeds),
            }
        )
    return pd.DataFrame(rows)


def rank_methods(scores: pd.DataFrame, *, higher_is_better: bool) -> pd.DataFrame:
    """Rank of every method within each (dataset, system) on its seed median: 1 is best,
    ties share the mean rank, and a NaN value (diverged, failed on every seed) ranks last."""
    means = seed_medians(scores)
    worst = -np.inf if higher_is_better else np.inf
    filled = means["value"].where(np.isfinite(means["value"]), worst)
    means["rank"] = filled.groupby([means["dataset"], means["system"]]).rank(
        ascending=not higher_is_better, method="average"
    )
    return means


def summarize(
    scores: pd.DataFrame,
    *,
    higher_is_better: bool,
    n_boot: int = 2000,
    seed: int = 0,
) -> pd.DataFrame:
    """Per method: median across systems of the seed medians with its bootstrap interval,
    mean rank across systems with its interval, the median floor, and counts.

    ``scores``: rows of one metric (columns dataset, system, method, seed, value, floor).
    A (dataset, system) pair counts as one group.
    """
    ranks = rank_methods(scores, higher_is_better=higher_is_better)
    rows = []
    for method, sub in scores.groupby("method", sort=False):
        keyed = sub.assign(group=sub["dataset"] + "/" + sub["system"])
        groups = [g["value"].to_numpy() for _, g in keyed.groupby("group")]
        floors = [g["floor"].to_numpy() for _, g in keyed.groupby("group")]
        rk = ranks[ranks["method"] == method]
        rows.append(
            {
                "method": method,
                "value": bootstrap_ci(groups, within="median", n_boot=n_boot, seed=seed),
                "rank": bootstrap_ci(
                    [np.array([r]) for r in rk["rank"]], stat="mean", n_boot=n_boot, seed=seed
                ),
                "floor": bootstrap_ci(floors, within="median", n_boot=n_boot, seed=seed),
                "systems": len(groups),
                "finite": int(sum(np.isfinite(g).any() for g in groups)),
            }
        )
    return pd.DataFrame(rows)
