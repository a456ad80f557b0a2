"""``dsrbench results merge`` and ``dsrbench results diff``: exports of one protocol combined
or compared (:mod:`dsrbench.reports.export`).

:func:`merge_exports` concatenates exports (two machines that each ran half the systems,
seeds run at different times; :func:`merged_exports` does it on read tables). Rows are
keyed by :data:`KEY`; a key found twice is kept once when its ``value`` (bit for bit) and
``status`` agree, and refused otherwise. Exports
of different protocol hashes, or different dataset store hashes, for the same (dataset,
system) are refused, naming the protocol keys that differ (:func:`protocol_conflicts`) or
the stores. Given bare metric tables only (``metrics.parquet``, as the workflow's
``metrics`` rule and the deprecated ``dsrbench merge`` do), it writes a metric table.

:func:`diff_exports` lists the metric rows that changed between two exports of the same
protocol beyond a tolerance: rows only in A, only in B, and a changed value or status.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from dsrbench.pipeline.evaluate import ROW_KEY
from dsrbench.pipeline.records import write_metrics_table
from dsrbench.reports.export import (
    META_KEY,
    ExportError,
    protocol_differences,
    read_export,
    write_export,
)

__all__ = [
    "KEY",
    "METRIC_KEY",
    "Diff",
    "Merged",
    "diff_exports",
    "diff_text",
    "duplicate_conflicts",
    "merge_exports",
    "merged_exports",
    "protocol_conflicts",
    "store_conflicts",
]

#: what identifies a metric row (of a metric table or an export's ``kind == "metric"`` rows)
METRIC_KEY = ROW_KEY
#: what identifies a row of an export
KEY = ["kind", *METRIC_KEY]
#: rows of a conflict listed in a message
SHOWN = 10


# ----------------------------------------------------------------------------- checks
def _pairs(table: pd.DataFrame, column: str) -> dict[tuple[str, str], set[str]]:
    """(dataset, system) -> the distinct non-null values of ``column`` of its rows."""
    if column not in table:
        return {}
    sub = table[["dataset", "system", column]].dropna().astype(str).drop_duplicates()
    out: dict[tuple[str, str], set[str]] = {}
    for d, s, v in sub.itertuples(index=False):
        out.setdefault((d, s), set()).add(v)
    return out


def _systems(pairs: Sequence[tuple[str, str]]) -> str:
    by_dataset: dict[str, list[str]] = {}
    for d, s in sorted(pairs):
        by_dataset.setdefault(d, []).append(s)
    parts = []
    for d, systems in by_dataset.items():
        more = f" and {len(systems) - SHOWN} more" if len(systems) > SHOWN else ""
        shown = ", ".join(systems[:SHOWN]) + more
        parts.append(f"dataset {d}: {shown}")
    return "; ".join(parts)


def protocol_conflicts(
    sides: Mapping[str, tuple[Mapping[tuple[str, str], set[str]], Mapping[str, dict]]],
) -> list[str]:
    """One sentence per pair of different protocol hashes found for the same (dataset,
    system) among ``sides`` (label -> ((dataset, system) -> hashes, hash -> protocol
    dict)), naming the systems and the protocol keys that differ; ``[]`` when none."""
    seen: dict[tuple[str, str], dict[str, str]] = {}  # pair -> hash -> first label
    dicts: dict[str, dict] = {}
    for label, (hashes, protocols) in sides.items():
        dicts.update({h: p for h, p in protocols.items() if h not in dicts})
        for pair, values in hashes.items():
            for h in sorted(values):
                seen.setdefault(pair, {}).setdefault(h, label)
    clashes: dict[tuple[str, str, str, str], list[tuple[str, str]]] = {}
    for pair, found in seen.items():
        items = sorted(found.items(), key=lambda kv: list(sides).index(kv[1]))
        first_hash, first_label = items[0]
        for h, label in items[1:]:
            clashes.setdefault((first_label, first_hash, label, h), []).append(pair)
    out = []
    for (la, ha, lb, hb), pairs in clashes.items():
        if ha in dicts and hb in dicts:
            keys = "; ".join(protocol_differences(dicts[ha], dicts[hb])) or "none (?)"
            why = f"differing protocol keys ({la} != {lb}): {keys}"
        else:
            lacking = " and ".join(x for x, h in ((la, ha), (lb, hb)) if h not in dicts)
            why = (
                f"{lacking} holds no protocol dicts (exported before they were kept: export "
                "the run again to name the keys that differ)"
            )
        out.append(
            f"different protocols ({ha[:12]} in {la}, {hb[:12]} in {lb}) for "
            f"{_systems(pairs)}: {why}"
        )
    return out


def store_conflicts(sides: Mapping[str, Mapping[tuple[str, str], set[str]]]) -> list[str]:
    """One sentence per (dataset, system) whose dataset store hash differs between the
    ``sides`` (label -> (dataset, system) -> store hashes), naming the stores."""
    found: dict[tuple[str, str], dict[str, list[str]]] = {}
    for label, hashes in sides.items():
        for pair, values in hashes.items():
            for h in values:
                found.setdefault(pair, {}).setdefault(h, []).append(label)
    out = []
    for (d, s), by_hash in sorted(found.items()):
        if len(by_hash) > 1:
            text = ", ".join(f"{h[:12]} in {' and '.join(labels)}" for h, labels in by_hash.items())
            out.append(f"the dataset store {d}/{s} differs ({text})")
    return out


def _value_bits(values: pd.Series) -> np.ndarray:
    """The float64 bits of ``values`` (NaN of one payload compare equal)."""
    return np.ascontiguousarray(values.astype("float64").to_numpy()).view(np.int64)


def duplicate_conflicts(table: pd.DataFrame, key: list[str]) -> pd.DataFrame:
    """The rows of ``table`` whose ``key`` occurs more than once with values that are not
    bit-equal or statuses that differ (empty when none)."""
    dup = table[table.duplicated(key, keep=False)]
    if dup.empty:
        return dup
    dup = dup.assign(
        _bits=_value_bits(dup["value"]),
        _status=dup["status"].astype("string").fillna("<null>"),
    )
    keys = dup[key].astype("string").fillna("<null>")
    groups = pd.concat([keys, dup[["_bits", "_status"]]], axis=1).groupby(key, sort=False)
    bad = (groups["_bits"].transform("nunique") > 1) | (groups["_status"].transform("nunique") > 1)
    return dup[bad.to_numpy()].drop(columns=["_bits", "_status"])


def _conflict_text(conflicts: pd.DataFrame, key: list[str]) -> str:
    cols = [c for c in [*key, "value", "status", "_source"] if c in conflicts]
    shown = conflicts.sort_values([c for c in key if c in conflicts], kind="stable")[cols]
    more = len(conflicts) - 2 * SHOWN
    text = shown.head(2 * SHOWN).rename(columns={"_source": "from"}).to_string(index=False)
    return text + (f"\n... and {more} more rows" if more > 0 else "")


# ----------------------------------------------------------------------------- merge
@dataclass
class Merged:
    """What :func:`merge_exports` wrote."""

    out: Path
    rows_in: int
    rows_out: int
    kind: str  # "export" or "metric table"
    notes: list[str] = field(default_factory=list)


def _is_bare(path: Path) -> bool:
    """Whether ``path`` is a bare metric table (a parquet without export metadata)."""
    import pyarrow.parquet as pq

    if not path.is_file():
        raise ExportError(f"{path} does not exist; write it with `dsrbench results export`")
    try:
        schema = pq.read_schema(path)
    except Exception as exc:  # noqa: BLE001 - any unreadable file is bad input
        raise ExportError(f"{path} is not a parquet file ({exc})") from exc
    return META_KEY not in (schema.metadata or {}) and "kind" not in schema.names


def merge_exports(paths: Sequence[str | Path], out: str | Path) -> Merged:
    """Merge exports (or bare metric tables) into ``out`` (see the module doc); raises
    :class:`ExportError` naming the conflicting rows, protocol keys or stores."""
    paths = [Path(p) for p in paths]
    out = Path(out)
    if not paths:
        raise ExportError("no exports to merge")
    if all(_is_bare(p) for p in paths):
        return _merge_tables(paths, out)
    tables = {str(p): read_export(p) for p in paths}
    merged = merged_exports(tables)
    protocols, sources = merged.attrs["protocols"], merged.attrs["merged_from"]
    merged.attrs = {}  # the file's metadata carries them
    write_export(merged, out, run=out.stem, protocols=protocols, extra={"merged_from": sources})
    return Merged(out, sum(len(t) for t in tables.values()), len(merged), "export")


def merged_exports(tables: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """The rows of read exports (label -> table) as one table, checked as
    :func:`merge_exports` checks files (same protocol, same dataset stores, a key found twice
    only when bit-equal); ``attrs``: ``protocols`` (hash -> dict) and ``merged_from`` (each
    label with its run name). Raises :class:`ExportError` naming what differs."""
    clashes = protocol_conflicts(
        {k: (_pairs(t, "protocol_hash"), t.attrs.get("protocols", {})) for k, t in tables.items()}
    )
    clashes += store_conflicts({label: _pairs(t, "store_hash") for label, t in tables.items()})
    if clashes:
        raise ExportError(
            "refusing to merge exports of different protocols or data:\n  " + "\n  ".join(clashes)
        )
    frames = [t.assign(_source=label) for label, t in tables.items()]
    table = pd.concat(frames, ignore_index=True)
    conflicts = duplicate_conflicts(table, KEY)
    if not conflicts.empty:
        raise ExportError(
            f"refusing to merge: {len(conflicts)} rows share a key ({', '.join(KEY)}) with "
            "another row but differ in value or status (a row found twice is kept once only "
            "when both agree bit for bit); drop one of the runs' rows first:\n"
            + _conflict_text(conflicts, KEY)
        )
    merged = table.drop_duplicates(KEY, keep="first").drop(columns="_source")
    merged = merged.reset_index(drop=True)
    protocols: dict[str, dict] = {}
    for t in tables.values():
        protocols.update(t.attrs.get("protocols", {}))
    merged.attrs = {
        "protocols": protocols,
        "merged_from": [
            {"path": label, "run": t.attrs.get("export", {}).get("run") or Path(label).stem}
            for label, t in tables.items()
        ],
    }
    return merged


def _merge_tables(paths: list[Path], out: Path) -> Merged:
    """Bare metric tables merged into one metric table (duplicates as in an export)."""
    frames = [pd.read_parquet(p).assign(_source=str(p)) for p in paths]
    table = pd.concat(frames, ignore_index=True)
    key = [c for c in METRIC_KEY if c in table]
    conflicts = duplicate_conflicts(table, key)
    if not conflicts.empty:
        raise ExportError(
            f"refusing to merge: {len(conflicts)} metric rows share a key ({', '.join(key)}) "
            "but differ in value or status:\n" + _conflict_text(conflicts, key)
        )
    merged = table.drop_duplicates(key, keep="first").drop(columns="_source")
    write_metrics_table(merged.reset_index(drop=True), out)
    return Merged(out, len(table), len(merged), "metric table")


# ----------------------------------------------------------------------------- diff
@dataclass
class Diff:
    """What :func:`diff_exports` found: ``table`` (one row per difference: ``change`` is
    ``only in A``, ``only in B``, ``value`` or ``status``), the row counts and notes."""

    table: pd.DataFrame
    rows_a: int
    rows_b: int
    notes: list[str] = field(default_factory=list)

    @property
    def equal(self) -> bool:
        return self.table.empty

    def summary(self, a: str, b: str, rtol: float, atol: float) -> str:
        counts = self.table["change"].value_counts() if not self.table.empty else {}
        parts = [f"{counts.get(c, 0)} {c}" for c in ("only in A", "only in B", "value", "status")]
        head = f"A = {a} ({self.rows_a} metric rows), B = {b} ({self.rows_b})"
        verdict = "equal" if self.equal else "differ: " + ", ".join(parts)
        return f"{head}: {verdict} (rtol {rtol:g}, atol {atol:g})"


def _metric_rows(table: pd.DataFrame, label: str) -> pd.DataFrame:
    rows = table[table["kind"] == "metric"].copy()
    for col in ("dataset", "system", "method", "metric", "status", "reason"):
        rows[col] = rows[col].astype("string")
    rows["seed"] = rows["seed"].astype("Int64")
    rows["horizon"] = rows["horizon"].astype("float64")
    dup = rows.duplicated(METRIC_KEY, keep=False)
    if dup.any():
        raise ExportError(
            f"{label} holds {int(dup.sum())} metric rows with the same key "
            f"({', '.join(METRIC_KEY)}); it is not one run's export:\n"
            + _conflict_text(rows[dup], METRIC_KEY)
        )
    return rows[[*METRIC_KEY, "value", "status"]].reset_index(drop=True)


def _changed_value(a: np.ndarray, b: np.ndarray, rtol: float, atol: float) -> np.ndarray:
    """Where ``a`` and ``b`` differ beyond ``atol + rtol * max(|a|, |b|)``; two NaN, or two
    equal infinities, agree."""
    with np.errstate(invalid="ignore"):
        close = np.abs(a - b) <= atol + rtol * np.maximum(np.abs(a), np.abs(b))
    same = (a == b) | (np.isnan(a) & np.isnan(b))
    return ~(close | same)


def diff_exports(a: str | Path, b: str | Path, *, rtol: float = 1e-6, atol: float = 0.0) -> Diff:
    """The metric rows of the exports ``a`` and ``b`` (or bare metric tables) that differ
    (see the module doc); raises :class:`ExportError` for bad input, different protocols
    included (naming the keys)."""
    if rtol < 0 or atol < 0:
        raise ExportError(f"tolerances must be >= 0 (rtol {rtol}, atol {atol})")
    ta, tb = read_export(a), read_export(b)
    clashes = protocol_conflicts(
        {
            f"A ({a})": (_pairs(ta, "protocol_hash"), ta.attrs.get("protocols", {})),
            f"B ({b})": (_pairs(tb, "protocol_hash"), tb.attrs.get("protocols", {})),
        }
    )
    if clashes:
        raise ExportError(
            "the exports were run under different protocols: their metrics are not "
            "comparable row by row:\n  " + "\n  ".join(clashes)
        )
    notes = store_conflicts({"A": _pairs(ta, "store_hash"), "B": _pairs(tb, "store_hash")})
    ra, rb = _metric_rows(ta, f"A ({a})"), _metric_rows(tb, f"B ({b})")
    both = ra.merge(rb, on=METRIC_KEY, how="outer", suffixes=("_a", "_b"), indicator=True)
    change = pd.Series(pd.NA, index=both.index, dtype="string")
    change[both["_merge"] == "left_only"] = "only in A"
    change[both["_merge"] == "right_only"] = "only in B"
    common = both["_merge"] == "both"
    va = both["value_a"].astype("float64").to_numpy()
    vb = both["value_b"].astype("float64").to_numpy()
    status = both["status_a"].fillna("<null>") != both["status_b"].fillna("<null>")
    change[common & status.to_numpy()] = "status"
    changed = common.to_numpy() & ~status.to_numpy() & _changed_value(va, vb, rtol, atol)
    change[changed] = "value"
    both.insert(0, "change", change)
    with np.errstate(divide="ignore", invalid="ignore"):
        both["rel_diff"] = np.abs(va - vb) / np.maximum(np.abs(va), np.abs(vb))
    order = {"only in A": 0, "only in B": 1, "status": 2, "value": 3}
    table = both[both["change"].notna()].drop(columns="_merge")
    table = table.assign(_o=table["change"].map(order)).sort_values(
        ["_o", *METRIC_KEY], kind="stable"
    )
    table = table.drop(columns="_o").reset_index(drop=True)
    return Diff(table, len(ra), len(rb), notes)


def diff_text(diff: Diff, fmt: str = "table") -> str:
    """The difference table as text (``table``) or CSV (``csv``)."""
    if fmt == "csv":
        return diff.table.to_csv(index=False)
    if diff.table.empty:
        return ""
    return diff.table.to_string(index=False, na_rep="") + "\n"
