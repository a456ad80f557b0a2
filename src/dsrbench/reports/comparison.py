"""One method beside named baselines on the systems they all share, paired by system, from
a run's export alone: the section a run page shows for each of its ``comparisons``.

A run that trains some methods on a subset of systems (``evaluation.systems_by_method``)
puts medians over different system sets side by side in its summary table. A comparison
fixes that: its arms (the method, its baselines and persistence) are read on the systems
where every arm ran, each system's value is the median over seeds, and a diverged or
failed seed with no finite value takes the metric's worst value (+inf where lower is
better, -inf where higher is better), so it is never dropped.

Per baseline and metric the method's wins, ties and losses over those systems give a
two-sided sign test (ties left out; Dixon & Mood 1946). A baseline that does not beat
persistence on a metric (median over the shared systems) is no yardstick at this budget:
that row reads ``not tested`` instead of a verdict.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.stats import binomtest

from dsrbench.reports.reproductions import quartiles
from dsrbench.reports.specs import MetricSpec, spec, worst_value
from dsrbench.reports.stats import fmt_g

__all__ = [
    "COMPARED_METRICS",
    "Comparison",
    "arm_table",
    "paired_table",
    "shared_systems",
    "system_values",
]

#: the metrics a comparison reads, where the run has them: the error at the fixed horizon
#: (Gilpin 2023's sMAPE over 200 steps), the valid prediction time, and two attractor
#: statistics of the free run
COMPARED_METRICS = ("smape_fixed", "vpt_nrmse", "D_stsp", "D_H")
#: the reference every baseline must beat for its row to be a test
PERSISTENCE = "persistence"
#: the sign test's level for a verdict
LEVEL = 0.05
_PATTERN = re.compile(
    r"^\s*(?P<method>[\w.-]+)\s*=\s*(?P<against>[\w.,\s-]+?)"
    r"\s*(@\s*(?P<dataset>[\w.-]+))?\s*$"
)


@dataclass(frozen=True)
class Comparison:
    """``method`` beside the ``against`` methods on dataset setting ``dataset`` (``None``:
    the run's only one)."""

    method: str
    against: tuple[str, ...]
    dataset: str | None = None

    @classmethod
    def parse(cls, text: str) -> Comparison:
        """From ``METHOD=BASE[,BASE...][@DATASET]``, e.g. ``entrope=nbeats,transformer@fine``."""
        match = _PATTERN.match(text)
        if not match:
            raise ValueError(
                f"comparison {text!r}: write it as METHOD=BASE[,BASE...][@DATASET], for "
                "example entrope=phyxmamba,nbeats,transformer@fine"
            )
        against = tuple(a.strip() for a in match["against"].split(",") if a.strip())
        if match["method"] in against:
            raise ValueError(f"comparison {text!r}: {match['method']} is among its own baselines")
        return cls(match["method"], against, match["dataset"])

    @classmethod
    def from_meta(cls, meta: dict) -> Comparison:
        return cls(str(meta["method"]), tuple(meta["against"]), meta.get("dataset"))

    def as_meta(self) -> dict:
        """The form ``run.yaml`` stores."""
        return {"method": self.method, "against": list(self.against), "dataset": self.dataset}

    @property
    def arms(self) -> tuple[str, ...]:
        """The method, its baselines, then persistence (the reference of every baseline)."""
        rest = [a for a in self.against if a != PERSISTENCE]
        return (self.method, *rest, PERSISTENCE)

    def title(self) -> str:
        names = ", ".join(f"`{a}`" for a in self.against)
        where = f" ({self.dataset})" if self.dataset else ""
        return f"`{self.method}` beside {names} on the systems they share{where}"


def _arm_rows(export: pd.DataFrame, comparison: Comparison) -> pd.DataFrame:
    """The arms' metric rows of the compared dataset: every metric, so that a failure row
    (``metric == "predict"``, status ``failed``) shows that the arm ran there."""
    rows = export[(export["kind"] == "metric") & export["method"].isin(comparison.arms)]
    if comparison.dataset is not None:
        rows = rows[rows["dataset"] == comparison.dataset]
    elif rows["dataset"].nunique() > 1:
        raise ValueError(
            f"comparison of {comparison.method}: the run has the dataset settings "
            f"{sorted(rows['dataset'].unique())}; name one (METHOD=BASE,...@DATASET)"
        )
    return rows


def _metric_rows(export: pd.DataFrame, comparison: Comparison) -> pd.DataFrame:
    rows = _arm_rows(export, comparison)
    return rows[rows["metric"].isin(COMPARED_METRICS)]


def metrics_of(export: pd.DataFrame, comparison: Comparison) -> list[MetricSpec]:
    """The compared metrics this comparison's rows have, in :data:`COMPARED_METRICS` order."""
    present = set(_metric_rows(export, comparison)["metric"])
    return [spec(m) for m in COMPARED_METRICS if m in present]


def shared_systems(export: pd.DataFrame, comparison: Comparison) -> list[str]:
    """The systems on which every arm ran: each has a metric row there, a failure included."""
    rows = _arm_rows(export, comparison)
    missing = [a for a in comparison.arms if a not in set(rows["method"])]
    if missing:
        raise ValueError(
            f"comparison of {comparison.method}: the export has no metric rows of "
            f"{missing}; publish the run with methods it ran"
        )
    ran = rows.groupby("system", observed=True)["method"].agg(set)
    return sorted(str(s) for s, methods in ran.items() if set(comparison.arms) <= methods)


def system_values(export: pd.DataFrame, comparison: Comparison) -> pd.DataFrame:
    """Per (system, method, metric) on the shared systems: the median over the arm's seeds
    there. A seed without a finite value of the metric counts as the metric's worst value:
    a diverged one, and one whose forecast failed (no row of the metric while another arm
    has it on that system). A metric no arm has on a system is left out there."""
    rows = _arm_rows(export, comparison)
    rows = rows[rows["system"].isin(shared_systems(export, comparison))]
    rows = rows.assign(system=rows["system"].astype(str), method=rows["method"].astype(str))
    compared = rows[rows["metric"].isin(COMPARED_METRICS)].assign(
        metric=lambda r: r["metric"].astype(str), value=lambda r: r["value"].astype(float)
    )
    # every seed each arm ran on a system, times every compared metric some arm has there
    seeds = rows[["system", "method", "seed"]].drop_duplicates()
    present = compared[["system", "metric"]].drop_duplicates()
    grid = seeds.merge(present, on="system")
    given = compared.groupby(["system", "method", "seed", "metric"], as_index=False)["value"]
    grid = grid.merge(given.median(), on=["system", "method", "seed", "metric"], how="left")
    worst = grid["metric"].map(worst_value)
    grid["value"] = grid["value"].where(np.isfinite(grid["value"]), worst)
    out = grid.groupby(["system", "method", "metric"], as_index=False, sort=True)["value"].agg(
        lambda v: quartiles(v.to_numpy(dtype=float))[1]
    )
    return out[["system", "method", "metric", "value"]]


def arm_table(export: pd.DataFrame, comparison: Comparison) -> pd.DataFrame:
    """Per arm: each metric's median [IQR] over the shared systems, the median fit and
    forecast seconds per system and the median epochs trained (where recorded)."""
    values = system_values(export, comparison)
    systems = shared_systems(export, comparison)
    training = export[(export["kind"] == "training") & export["system"].isin(systems)]
    metric_rows = _metric_rows(export, comparison)
    metric_rows = metric_rows[metric_rows["system"].isin(systems)]
    if comparison.dataset is not None:
        training = training[training["dataset"] == comparison.dataset]
    table = []
    for arm in comparison.arms:
        row: dict[str, object] = {"method": arm}
        for s in metrics_of(export, comparison):
            v = values[(values["method"] == arm) & (values["metric"] == s.metric)]["value"]
            q25, q50, q75 = quartiles(v.to_numpy(dtype=float))
            row[f"{s.label} ({s.better})"] = f"{fmt_g(q50)} [{fmt_g(q25)}, {fmt_g(q75)}]"
        fits = training.loc[training["method"] == arm, "fit_seconds"].astype(float).dropna()
        predicts = metric_rows.loc[metric_rows["method"] == arm]
        predicts = predicts.drop_duplicates(["system", "seed"])["predict_seconds"]
        predicts = predicts.astype(float).dropna()
        epochs = training.loc[training["method"] == arm, "epochs_run"].astype(float).dropna()
        row["fit s"] = fmt_g(float(fits.median())) if len(fits) else "n/a"
        row["forecast s"] = fmt_g(float(predicts.median())) if len(predicts) else "n/a"
        row["epochs"] = fmt_g(float(epochs.median())) if len(epochs) else "n/a"
        table.append(row)
    return pd.DataFrame(table)


def paired_table(export: pd.DataFrame, comparison: Comparison) -> pd.DataFrame:
    """Per (baseline, metric): the method's wins, ties and losses over the shared systems,
    the sign test's p, whether the baseline beats persistence there, and the verdict."""
    values = system_values(export, comparison)
    wide = values.pivot_table(
        index=["metric", "system"], columns="method", values="value", aggfunc="first"
    )
    rows = []
    for baseline in [a for a in comparison.arms if a != comparison.method]:
        for s in metrics_of(export, comparison):
            if s.metric not in wide.index.get_level_values(0):
                continue
            w = wide.loc[s.metric]
            ours, theirs, pers = w[comparison.method], w[baseline], w[PERSISTENCE]
            better = ours > theirs if s.higher_is_better else ours < theirs
            worse = ours < theirs if s.higher_is_better else ours > theirs
            wins, losses = int(better.sum()), int(worse.sum())
            ties = len(w) - wins - losses
            p = binomtest(wins, wins + losses).pvalue if wins + losses else 1.0
            base_med, pers_med = quartiles(theirs.to_numpy())[1], quartiles(pers.to_numpy())[1]
            beats = base_med > pers_med if s.higher_is_better else base_med < pers_med
            if baseline == PERSISTENCE:
                beats_text = "(the reference)"
            else:
                beats_text = "yes" if beats else "no"
            if baseline != PERSISTENCE and not beats:
                verdict = f"not tested: {baseline} does not beat persistence"
            elif p < LEVEL:
                verdict = "better" if wins > losses else "worse"
            else:
                verdict = "no difference detected"
            rows.append(
                {
                    "baseline": baseline,
                    "metric": s.label,
                    "wins / ties / losses": f"{wins} / {ties} / {losses}",
                    "sign test p": f"{p:.2g}",
                    "baseline beats persistence": beats_text,
                    "verdict": verdict,
                }
            )
    return pd.DataFrame(rows)
