"""Statistics of the pages: seed means, ranks across systems, bootstrap intervals.

The spread shown on every page is a seeded two-level bootstrap: systems are resampled with
replacement, and within each drawn system its seeds are resampled with replacement; the
statistic (median across systems by default) of the resampled system means gives the
percentile interval. With one seed per system it is the ordinary bootstrap over systems.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

__all__ = ["Interval", "bootstrap_ci", "fmt", "rank_methods", "seed_means", "summarize"]


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
    n_boot: int = 2000,
    level: float = 0.95,
    seed: int = 0,
) -> Interval:
    """Two-level bootstrap interval of ``stat`` across groups of the group means.

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
    means = np.array([g.mean() for g in clean])
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
        means = np.where(used, draws, 0.0).sum(axis=2) / k
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


def rank_methods(scores: pd.DataFrame, *, higher_is_better: bool) -> pd.DataFrame:
    """Rank of every method within each (dataset, system) on its seed mean: 1 is best,
    ties share the mean rank, and a NaN value (diverged, failed) ranks last."""
    means = seed_means(scores)
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
    """Per method: median across systems of the seed means with its bootstrap interval,
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
                "value": bootstrap_ci(groups, n_boot=n_boot, seed=seed),
                "rank": bootstrap_ci(
                    [np.array([r]) for r in rk["rank"]], stat="mean", n_boot=n_boot, seed=seed
                ),
                "floor": bootstrap_ci(floors, n_boot=n_boot, seed=seed),
                "systems": len(groups),
                "finite": int(sum(np.isfinite(g).any() for g in groups)),
            }
        )
    return pd.DataFrame(rows)
