"""``dsrbench report join``: a run of one's own methods beside a shipped run's export, without
rerunning the shipped methods.

:func:`join_run` checks that the run in ``results_dir`` was made under the export's
protocol (the same protocol hash for every (dataset, system) the two share, else refused
naming the protocol keys that differ) on the same data (the dataset store hashes equal the
export's ``store_hash``, else refused naming the stores), then writes a *joined results
directory* that the report pages read like any other (``dsrbench report render ...
--param results_dir JOINED``):

* ``metrics.parquet``: the export's metric rows, unchanged, and the run's rows of its own
  methods; the reference rows (``truth``, ``floor``) of a system the export has are the
  export's (the run's are compared with them and a difference is noted);
* ``data``, ``predictions``, ``models``, ``logs``: links to the run's, so the figures that
  read stores draw the run's methods; the shipped methods have no stores here, and those
  figures leave them out (:attr:`dsrbench.reports.results.Run.export_only`);
* ``joined.json``: what was joined, and the notes every page shows (the systems in common,
  which figures show the run's methods only).

A method in both (other than the references) is refused: the export's rows of a method
are kept unchanged, so it comes from one side only (``dsrbench results diff`` compares
two runs of it). Systems in one side only are kept and stated.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from dsrbench import layout
from dsrbench.atomic import atomic_path
from dsrbench.pipeline.records import write_metrics_table
from dsrbench.references import NAMES, ROWS_ONLY
from dsrbench.reports.combine import METRIC_KEY, _changed_value, protocol_conflicts
from dsrbench.reports.export import (
    ExportError,
    _check_results,
    protocol_hash,
    read_export,
    run_protocol,
    store_hash,
)
from dsrbench.reports.results import JOINED_FILE

__all__ = ["LINKED", "Joined", "join_run"]

#: the run's outputs that the joined directory links (what the pages read beyond the table)
LINKED = ("data", "predictions", "models", "logs")


@dataclass
class Joined:
    """What :func:`join_run` wrote."""

    out: Path
    rows_export: int
    rows_run: int
    common: list[tuple[str, str]]
    export_methods: list[str]
    run_methods: list[str]
    notes: list[str] = field(default_factory=list)


def _pairs(df: pd.DataFrame) -> set[tuple[str, str]]:
    sub = df[["dataset", "system"]].dropna().astype(str).drop_duplicates()
    return set(sub.itertuples(index=False, name=None))


def _names(items: list[str] | set[str], empty: str = "none") -> str:
    return ", ".join(sorted(items)) if items else empty


def _systems_text(pairs: set[tuple[str, str]]) -> str:
    return _names({f"{s} ({d})" for d, s in pairs})


def _check_protocol(
    results_dir: Path, export_path: Path, shipped: pd.DataFrame, common: list[tuple[str, str]]
) -> None:
    """Refuse a run whose protocol differs from the export's on a shared (dataset, system)."""
    ours: dict[tuple[str, str], set[str]] = {}
    dicts: dict[str, dict] = {}
    for d, s in common:
        proto = run_protocol(results_dir, d, s)
        if proto is None:
            raise ExportError(
                f"the protocol of {s} ({d}) cannot be read from the stores of {results_dir} "
                "(its dataset store or every prediction store is missing); finish the run "
                "with `snakemake` first"
            )
        h = protocol_hash(proto)
        ours[d, s] = {h}
        dicts[h] = proto
    hashes = shipped[["dataset", "system", "protocol_hash"]].astype("string")
    theirs: dict[tuple[str, str], set[str]] = {}
    for d, s, h in hashes.drop_duplicates().itertuples(index=False):
        if (d, s) in ours:
            if pd.isna(h):
                raise ExportError(
                    f"{export_path} has no protocol hash for {s} ({d}): it is not an export "
                    "of a finished run (`dsrbench results export` writes one); cannot check "
                    "that this run follows its protocol"
                )
            theirs.setdefault((d, s), set()).add(str(h))
    clashes = protocol_conflicts(
        {
            f"the export {export_path}": (theirs, shipped.attrs.get("protocols", {})),
            f"the run {results_dir}": (ours, dicts),
        }
    )
    if clashes:
        raise ExportError(
            "refusing to join: the run was not made under the export's protocol; rerun it "
            "with the shipped run's config files (its run.yaml), changing only "
            "evaluation.methods and results_dir:\n  " + "\n  ".join(clashes)
        )


def _check_stores(
    results_dir: Path, export_path: Path, shipped: pd.DataFrame, common: list[tuple[str, str]]
) -> None:
    """Refuse a run whose dataset stores differ from the ones the export was scored on."""
    theirs = shipped[["dataset", "system", "store_hash"]].astype("string").drop_duplicates()
    expected: dict[tuple[str, str], set[str]] = {}
    for d, s, h in theirs.itertuples(index=False):
        if not pd.isna(h):
            expected.setdefault((d, s), set()).add(str(h))
    bad = []
    for d, s in common:
        store = layout.dataset_store(results_dir, d, s)
        if (d, s) not in expected:
            continue  # an older export without store hashes: the protocol check stands alone
        got = store_hash(store) if (store / "zarr.json").is_file() else "missing"
        if got not in expected[d, s]:
            want = " or ".join(h[:12] for h in sorted(expected[d, s]))
            bad.append(f"{store} (content hash {got[:12]}; the export's {d}/{s}: {want})")
    if bad:
        raise ExportError(
            f"refusing to join: dataset stores of {results_dir} differ from those the export "
            f"{export_path} was scored on (same protocol, other data: another dysts or "
            "integrator build, or a store changed after the run); simulate them again with "
            "the shipped run's config:\n  " + "\n  ".join(bad)
        )


def _as_metric_table(rows: pd.DataFrame, like: pd.DataFrame) -> pd.DataFrame:
    """The export's metric rows with the columns and dtypes of the run's metric table."""
    out = pd.DataFrame(index=rows.index)
    for col in like.columns:
        src = rows[col] if col in rows else pd.Series(None, index=rows.index, dtype=object)
        if isinstance(src.dtype, pd.CategoricalDtype) or src.dtype == "string":
            src = src.astype(object).where(src.notna(), None)
        try:
            out[col] = src.astype(like[col].dtype)
        except (TypeError, ValueError):
            out[col] = src
    return out.reset_index(drop=True)


def _reference_note(
    dropped: pd.DataFrame, kept: pd.DataFrame, rtol: float, export_run: str
) -> str | None:
    """A sentence when the run's reference rows differ from the export's beyond ``rtol``."""
    if dropped.empty:
        return None
    key = [c for c in METRIC_KEY if c in dropped]
    a = dropped[[*key, "value", "status"]].astype({c: "string" for c in key if c != "seed"})
    b = kept[[*key, "value", "status"]].astype({c: "string" for c in key if c != "seed"})
    a["seed"], b["seed"] = a["seed"].astype("Int64"), b["seed"].astype("Int64")
    both = a.merge(b, on=key, how="inner", suffixes=("_run", "_export"))
    if both.empty:
        return None
    va, vb = both["value_run"].to_numpy(float), both["value_export"].to_numpy(float)
    changed = (
        _changed_value(va, vb, rtol, 0.0)
        | (
            both["status_run"].astype("string").fillna("")
            != both["status_export"].astype("string").fillna("")
        ).to_numpy()
    )
    if not changed.any():
        return None
    with np.errstate(divide="ignore", invalid="ignore"):
        rel = np.nanmax(np.abs(va - vb)[changed] / np.maximum(np.abs(va), np.abs(vb))[changed])
    return (
        f"the reference rows ({', '.join(NAMES)}) of this run differ from run "
        f"{export_run}'s on {int(changed.sum())} of {len(both)} rows beyond rtol {rtol:g} "
        f"(largest relative difference {rel:.3g}); the pages show the export's"
    )


def _prepare_out(out: Path, results_dir: Path) -> None:
    if out.resolve() == results_dir.resolve():
        raise ExportError(f"--out {out} is the run's own results directory; name another one")
    if out.exists() and any(out.iterdir()) and not (out / JOINED_FILE).is_file():
        raise ExportError(
            f"--out {out} exists and is not a joined directory (no {JOINED_FILE}); name a "
            "new directory"
        )
    out.mkdir(parents=True, exist_ok=True)


def _link(out: Path, results_dir: Path) -> None:
    for name in LINKED:
        target, link = results_dir.resolve() / name, out / name
        if link.is_symlink():
            link.unlink()
        elif link.exists():
            raise ExportError(f"{link} exists and is not a link; remove it or name another --out")
        if target.exists():
            os.symlink(target, link, target_is_directory=True)


def join_run(
    results_dir: str | Path, export_path: str | Path, out: str | Path, *, rtol: float = 1e-6
) -> Joined:
    """Join the run in ``results_dir`` with the export ``export_path`` into the directory
    ``out`` (see the module doc); raises :class:`ExportError` naming what does not match."""
    results_dir, export_path, out = Path(results_dir), Path(export_path), Path(out)
    ours = pd.read_parquet(_check_results(results_dir))
    shipped_all = read_export(export_path)
    shipped = shipped_all[shipped_all["kind"] == "metric"]
    shipped.attrs = shipped_all.attrs
    export_run = str(shipped_all.attrs.get("export", {}).get("run") or export_path.stem)
    if shipped.empty:
        raise ExportError(f"{export_path} holds no metric rows; export a finished run")
    ship_pairs, our_pairs = _pairs(shipped), _pairs(ours)
    common = sorted(ship_pairs & our_pairs)
    if not common:
        raise ExportError(
            f"refusing to join: no (dataset setting, system) in common: the export "
            f"{export_path} has {_systems_text(ship_pairs)}; the run {results_dir} has "
            f"{_systems_text(our_pairs)}"
        )
    _check_protocol(results_dir, export_path, shipped, common)
    _check_stores(results_dir, export_path, shipped, common)
    ship_methods = set(shipped["method"].dropna().astype(str))
    our_methods = set(ours["method"].dropna().astype(str))
    clash = (ship_methods & our_methods) - set(NAMES)
    if clash:
        raise ExportError(
            f"refusing to join: the method(s) {_names(clash)} are in both the export "
            f"{export_path} and the run {results_dir}; the export's rows stay unchanged, so a "
            "method comes from one side only: leave it out of evaluation.methods (to compare "
            "two runs of a method, use `dsrbench results diff`)"
        )
    _prepare_out(out, results_dir)
    # the run's reference rows where the export has the same (dataset, system, method)
    shipped_keys = set(
        shipped[["dataset", "system", "method"]].astype(str).itertuples(index=False, name=None)
    )
    ref = ours["method"].isin(NAMES).to_numpy()
    keys = ours[["dataset", "system", "method"]].astype(str).itertuples(index=False, name=None)
    dup = ref & np.array([k in shipped_keys for k in keys], dtype=bool)
    kept_ours, dropped = ours[~dup], ours[dup]
    ship_table = _as_metric_table(shipped, ours)
    table = pd.concat([ship_table, kept_ours], ignore_index=True)
    write_metrics_table(table, layout.merged_metrics(out))
    _link(out, results_dir)

    export_only = sorted(ship_methods - our_methods - set(ROWS_ONLY))
    new = sorted(our_methods - ship_methods - set(ROWS_ONLY))
    hashes = sorted(set(shipped["protocol_hash"].dropna().astype(str)))
    n_common = len(common)
    notes = [
        f"Joined results: {_names(export_only)} from the export of run {export_run} "
        f"({export_path}; protocol {', '.join(h[:12] for h in hashes)}) beside "
        f"{_names(new)} from the run {results_dir}; the export's rows are unchanged "
        f"(its {', '.join(NAMES)} rows stand for the systems it has).",
        f"{n_common} system(s) in common: {_systems_text(set(common))}; only in the "
        f"export: {_systems_text(ship_pairs - our_pairs)}; only in this run: "
        f"{_systems_text(our_pairs - ship_pairs)}.",
    ]
    if export_only:
        notes.append(
            "Figures drawn from prediction stores (attractors, forecasts, power spectra) "
            f"show this run's methods only: the export carries no prediction stores of "
            f"{_names(export_only)}."
        )
    if note := _reference_note(dropped, shipped, rtol, export_run):
        notes.append(note[0].upper() + note[1:])
    info = {
        "results_dir": str(results_dir.resolve()),
        "export": str(export_path.resolve()),
        "export_run": export_run,
        "protocol_hashes": hashes,
        "systems_in_common": [list(p) for p in common],
        "only_in_export": [list(p) for p in sorted(ship_pairs - our_pairs)],
        "only_in_run": [list(p) for p in sorted(our_pairs - ship_pairs)],
        "export_methods": export_only,
        "run_methods": new,
        "notes": notes,
    }
    with atomic_path(out / JOINED_FILE) as tmp:
        Path(tmp).write_text(json.dumps(info, indent=2) + "\n")
    return Joined(out, len(ship_table), len(kept_ours), common, export_only, new, notes)
