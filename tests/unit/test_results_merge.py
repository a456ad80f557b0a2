"""``dsrbench results merge`` and ``dsrbench results diff`` (dsrbench.reports.combine), and
the deprecated ``dsrbench merge``.

The exports are of conftest's ``tiny_run`` (Lorenz, dataset ``tiny``: truth, persistence,
mean), cut by method into two parts as two machines (or two sessions) would have written
them; another protocol is made by editing the horizon in the protocol the export carries.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
from support.tiny_run import DATASET, SYSTEM

from dsrbench import layout
from dsrbench.cli import main
from dsrbench.reports import export
from dsrbench.reports.combine import KEY, diff_exports, merge_exports
from dsrbench.reports.export import ExportError


@pytest.fixture(scope="module")
def full(tiny_run: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return export.export_run(tiny_run, tmp_path_factory.mktemp("export") / "tiny.parquet")


def _part(full: Path, out: Path, methods: list[str]) -> Path:
    """The rows of ``methods`` (and the references truth and floor) of the export ``full``."""
    table = export.read_export(full)
    keep = table["method"].isin([*methods, "truth", "floor"])
    return export.write_export(table[keep], out, run=out.stem)


def _sorted(df: pd.DataFrame) -> pd.DataFrame:
    cols = [c for c in export.COLUMNS if c not in ("run",)]
    out = df[cols].astype(object).where(df[cols].notna(), None)
    return out.sort_values(KEY, na_position="first", key=lambda s: s.astype(str))[cols].reset_index(
        drop=True
    )


def _other_protocol(full: Path, out: Path, horizon: int = 61, keep_dicts: bool = True) -> Path:
    """The export ``full`` as if run with another evaluation horizon."""
    table = export.read_export(full)
    (old,) = table.attrs["protocols"].values()
    proto = copy.deepcopy(old)
    proto["evaluation"]["horizon"] = float(horizon)
    h = export.protocol_hash(proto)
    table["protocol_hash"] = h
    return export.write_export(table, out, protocols={h: proto} if keep_dicts else {})


def test_the_export_keeps_its_protocol_dicts_and_older_exports_still_read(
    full: Path, tmp_path: Path
) -> None:
    protocols = export.read_protocols(full)
    table = export.read_export(full)
    (h,) = set(table["protocol_hash"])
    assert list(protocols) == [h] and export.protocol_hash(protocols[h]) == h
    assert table.attrs["protocols"] == protocols
    # an export written before the protocols were kept: read, without them
    arrow = pq.read_table(full)
    meta = dict(arrow.schema.metadata)
    info = json.loads(meta[export.META_KEY])
    del info["protocols"]
    meta[export.META_KEY] = json.dumps(info).encode()
    older = tmp_path / "older.parquet"
    pq.write_table(arrow.replace_schema_metadata(meta), older)
    assert export.read_protocols(older) == {}
    assert len(export.read_export(older)) == len(table)


def test_protocol_differences_name_the_keys() -> None:
    a = {"evaluation": {"horizon": 60.0, "context_length": 20}, "seed": 0}
    b = {"evaluation": {"horizon": 61, "context_length": 20}, "seed": 0, "x": 1}
    assert export.protocol_differences(a, b) == [
        "evaluation.horizon: 60 != 61",
        "x: absent != 1",
    ]


def test_two_parts_merge_into_the_whole_run_with_the_shared_rows_kept_once(
    full: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    a = _part(full, tmp_path / "a.parquet", ["persistence"])
    b = _part(full, tmp_path / "b.parquet", ["mean"])
    out = tmp_path / "merged.parquet"
    assert main(["results", "merge", str(a), str(b), "--out", str(out)]) == 0
    assert "found twice, equal, kept once" in capsys.readouterr().err
    merged = export.read_export(out)
    whole = export.read_export(full)
    pd.testing.assert_frame_equal(_sorted(merged), _sorted(whole))
    assert merged.attrs["protocols"] == whole.attrs["protocols"]
    assert [m["run"] for m in merged.attrs["export"]["merged_from"]] == ["a", "b"]


def test_a_key_found_twice_with_another_value_or_status_is_refused(
    full: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    a = _part(full, tmp_path / "a.parquet", ["persistence"])
    table = export.read_export(_part(full, tmp_path / "b0.parquet", ["mean"]))
    row = table.index[(table["method"] == "truth") & (table["metric"] == "D_stsp")][0]
    original = table.loc[row, "value"]
    table.loc[row, "value"] = np.nextafter(original, np.inf)  # one ulp
    b = export.write_export(table, tmp_path / "b.parquet")
    out = tmp_path / "merged.parquet"
    assert main(["results", "merge", str(a), str(b), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "2 rows share a key" in err and "D_stsp" in err and "truth" in err
    assert not out.exists()
    table.loc[row, "value"] = original
    table["status"] = table["status"].astype(str)
    table.loc[row, "status"] = "diverged"
    b = export.write_export(table, tmp_path / "b.parquet")
    with pytest.raises(ExportError, match="differ in value or status"):
        merge_exports([a, b], out)


def test_exports_of_different_protocols_or_data_are_refused_naming_keys_and_stores(
    full: Path, tmp_path: Path
) -> None:
    other = _other_protocol(full, tmp_path / "h61.parquet")
    with pytest.raises(ExportError, match=r"evaluation\.horizon: 60 != 61") as info:
        merge_exports([full, other], tmp_path / "m.parquet")
    assert f"dataset {DATASET}: {SYSTEM}" in str(info.value)
    older = _other_protocol(full, tmp_path / "h61_old.parquet", keep_dicts=False)
    with pytest.raises(ExportError, match="holds no protocol dicts"):
        merge_exports([full, older], tmp_path / "m.parquet")
    table = export.read_export(full)
    table["store_hash"] = "0" * 64
    moved = export.write_export(table, tmp_path / "store.parquet")
    with pytest.raises(ExportError, match=rf"dataset store {DATASET}/{SYSTEM} differs"):
        merge_exports([full, moved], tmp_path / "m.parquet")


def test_metric_tables_merge_into_a_metric_table_and_the_old_command_still_works(
    tiny_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    table = layout.metrics_table(tiny_run, DATASET)
    out = tmp_path / "metrics.parquet"
    assert main(["results", "merge", str(table), str(table), "--out", str(out)]) == 0
    assert "metric table" in capsys.readouterr().err
    pd.testing.assert_frame_equal(pd.read_parquet(out), pd.read_parquet(table))
    old = tmp_path / "old.parquet"
    assert main(["merge", str(table), "--out", str(old)]) == 0
    err = capsys.readouterr().err
    assert "deprecated" in err and "dsrbench results merge" in err
    pd.testing.assert_frame_equal(pd.read_parquet(old), pd.read_parquet(table))


def test_migration_note_lists_the_old_command() -> None:
    text = (Path(__file__).resolve().parents[2] / "docs" / "migration.md").read_text()
    assert "| `dsrbench merge` | `dsrbench results merge` |" in text


def _changed(full: Path, out: Path) -> Path:
    """``full`` with one value changed by 1e-3 relative, one status changed, one metric
    row dropped and one added."""
    table = export.read_export(full)
    table["status"] = table["status"].astype(str)
    table["metric"] = table["metric"].astype(str)
    metric = table["kind"] == "metric"
    pick = table.index[metric & (table["method"] == "mean")]
    table.loc[pick[0], "value"] *= 1 + 1e-3
    table.loc[pick[1], "status"] = "diverged"
    extra = table.loc[[pick[2]]].assign(metric="new_metric")
    table = pd.concat([table.drop(index=pick[3]), extra], ignore_index=True)
    return export.write_export(table, out)


def test_diff_lists_what_changed_beyond_the_tolerance(
    full: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    assert main(["results", "diff", str(full), str(full)]) == 0
    out = capsys.readouterr()
    assert out.out == "" and ": equal (rtol 1e-06, atol 0)" in out.err
    b = _changed(full, tmp_path / "b.parquet")
    assert main(["results", "diff", str(full), str(b)]) == 1
    out = capsys.readouterr()
    assert "1 only in A, 1 only in B, 1 value, 1 status" in out.err
    for word in ("only in A", "only in B", "new_metric", "diverged"):
        assert word in out.out, word
    d = diff_exports(full, b, rtol=1e-2)
    assert sorted(d.table["change"]) == ["only in A", "only in B", "status"]
    assert main(["results", "diff", str(full), str(b), "--atol", "1e9", "--format", "csv"]) == 1
    csv = capsys.readouterr().out
    assert csv.startswith("change,dataset,system,method,seed,metric,horizon")
    assert len(csv.strip().splitlines()) == 4  # header and 3 rows: the value is within atol


def test_diff_of_different_protocols_exits_2_naming_the_keys(
    full: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    other = _other_protocol(full, tmp_path / "h61.parquet")
    assert main(["results", "diff", str(full), str(other)]) == 2
    err = capsys.readouterr().err
    assert "different protocols" in err and "evaluation.horizon: 60 != 61" in err
    assert main(["results", "diff", str(full), str(tmp_path / "missing.parquet")]) == 2
    assert "does not exist" in capsys.readouterr().err
