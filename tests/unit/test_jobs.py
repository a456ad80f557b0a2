"""The job wrapper (dsrbench.pipeline.records.run_job) and the jobs around it: a failing job
writes a ``failed`` record and exits 0, an upstream failure skips the job, a killed job leaves no
record, a method that needs no fit predicts without a training job."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest

from dsrbench import stores
from dsrbench.atomic import leftovers
from dsrbench.cli import main
from dsrbench.pipeline import evaluate_job, records

EVALUATION = {"context_length": 10, "horizon": 20, "contexts_per_trajectory": 1}
#: the config the one-system job commands here cut their slices from
CONFIG = json.dumps(
    {
        "systems": ["Lorenz"],
        "datasets": {
            "methods": {"pts_per_period": 20, "length": 100, "n_train": 1, "n_val": 1, "n_test": 1}
        },
        "evaluation": {
            **EVALUATION,
            "methods": ["persistence", "mean"],
            "long_run_length": 200,
        },
        "training": {"device": "cpu"},
    }
)


def dataset_record(tmp_path: Path, status: str = "ok", path: Path | None = None) -> Path:
    rec = tmp_path / f"dataset-{status}.json"
    rec.write_text(
        json.dumps(
            {
                "system": "Lorenz",
                "dataset": "methods",
                "status": status,
                "reason": None if status == "ok" else "blow-up",
                "path": str(path) if path else None,
            }
        )
    )
    return rec


def predict(tmp_path: Path, dataset: Path, *extra: str, method: str = "persistence") -> dict:
    record = tmp_path / "pred.json"
    args = ["predict", "--config-json", CONFIG, "--dataset-record", str(dataset)]
    args += ["--method", method, "--out", str(tmp_path / "pred.zarr"), "--record", str(record)]
    assert main([*args, *extra]) == 0
    return json.loads(record.read_text())


def test_a_failing_job_writes_a_failed_record_and_exits_0(lorenz_nan_store, tmp_path):
    rec = predict(tmp_path, dataset_record(tmp_path, path=lorenz_nan_store))
    assert rec["status"] == "failed"
    assert "holds invalid data: variable 'x' holds non-finite values" in rec["reason"]
    assert rec["method"] == "persistence" and rec["system"] == "Lorenz" and rec["seed"] == 0
    assert rec["wall_time_s"] >= 0 and rec["prediction_path"] is None
    assert not (tmp_path / "pred.zarr").exists()
    assert leftovers(tmp_path / "pred.json") == []


def test_an_input_store_that_is_not_sound_stops_the_job_without_a_record(tmp_path, capsys):
    """Not the system's result: a ``failed`` record would be kept by every rerun (its
    job_key does not change), so the job stops (exit 2) with the store and the fix."""
    broken = tmp_path / "broken.zarr"
    broken.mkdir()
    record = tmp_path / "pred.json"
    args = ["predict", "--config-json", CONFIG, "--dataset-record"]
    args += [str(dataset_record(tmp_path, path=broken)), "--method", "persistence"]
    assert main([*args, "--out", str(tmp_path / "pred.zarr"), "--record", str(record)]) == 2
    err = capsys.readouterr().err
    assert f"dsrbench predict: error: {broken} is not a zarr v3 store" in err
    assert f"regenerate it: delete {broken} and run snakemake again" in err
    assert not record.exists() and not (tmp_path / "pred.zarr").exists()


def test_a_full_disk_stops_the_job_and_says_what_to_do(lorenz_store, tmp_path, capsys):
    """A write refused by the file size limit (EFBIG, as on a full disk ENOSPC) is the
    machine's fault: no record, no partial store, exit 3 and the message."""
    import resource

    record = tmp_path / "pred.json"
    args = ["predict", "--config-json", CONFIG, "--dataset-record"]
    args += [str(dataset_record(tmp_path, path=lorenz_store)), "--method", "persistence"]
    args += ["--out", str(tmp_path / "pred.zarr"), "--record", str(record)]
    code = f"import sys\nfrom dsrbench.cli import main\nsys.exit(main({args!r}))\n"
    limit = 512  # bytes: the prediction store's metadata (zarr.json) is larger

    def cap() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=300, preexec_fn=cap
    )
    assert proc.returncode == 3, proc.stderr[-3000:]
    said = r"dsrbench predict: error: File too large writing (under )?\S*pred\.zarr"
    assert re.search(said, proc.stderr), proc.stderr[-3000:]
    assert "Free space there (or lift the limit)" in proc.stderr
    assert not record.exists() and not (tmp_path / "pred.zarr").exists()
    assert leftovers(tmp_path / "pred.zarr") == [] and leftovers(record) == []
    assert main(args) == 0  # the limit lifted, the same command finishes
    assert json.loads(record.read_text())["status"] == "ok"


def test_run_job_records_the_exception_and_the_body_fields(tmp_path):
    def boom() -> dict:
        raise RuntimeError("no luck")

    rec = records.run_job("demo", tmp_path / "a.json", {"system": "Lorenz"}, boom)
    assert rec == json.loads((tmp_path / "a.json").read_text())
    assert rec["status"] == "failed" and rec["reason"] == "RuntimeError: no luck"
    rec = records.run_job("demo", tmp_path / "b.json", {"system": "Lorenz"}, lambda: {"n": 3})
    assert rec["status"] == "ok" and rec["n"] == 3 and rec["reason"] is None
    ran = []
    rec = records.run_job(
        "demo", tmp_path / "c.json", {}, lambda: ran.append(1), skip=("skipped", "why")
    )
    assert (rec["status"], rec["reason"], ran) == ("skipped", "why", [])


def test_upstream_failures_skip_or_fail_the_job(tmp_path):
    failed_dataset = dataset_record(tmp_path, "failed")
    rec = predict(tmp_path, failed_dataset)
    assert rec["status"] == "skipped" and "dataset not available: blow-up" in rec["reason"]
    train_rec = tmp_path / "train.json"
    train = ["train", "--config-json", CONFIG, "--dataset-record", str(failed_dataset)]
    train += ["--method", "mean", "--out", str(tmp_path / "m"), "--record", str(train_rec)]
    assert main(train) == 0
    assert json.loads(train_rec.read_text())["status"] == "skipped"
    assert not (tmp_path / "m").exists()

    ok_dataset = dataset_record(tmp_path, "ok", tmp_path / "never-opened.zarr")
    for model_status, expected in [("failed", "failed"), ("skipped", "skipped")]:
        model = tmp_path / f"model-{model_status}.json"
        model.write_text(json.dumps({"status": model_status, "reason": "diverged"}))
        rec = predict(tmp_path, ok_dataset, "--model-record", str(model), method="mean")
        assert rec["status"] == expected
        assert rec["reason"] == f"training {model_status}: diverged"
        assert not (tmp_path / "pred.zarr").exists()


def test_a_killed_job_leaves_no_record(tmp_path):
    record = tmp_path / "rec.json"
    code = (
        "import os, signal\n"
        "from dsrbench.pipeline.records import run_job\n"
        f"run_job('demo', {str(record)!r}, {{'system': 'Lorenz'}},"
        " lambda: os.kill(os.getpid(), signal.SIGKILL))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, timeout=120)
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    assert not record.exists() and leftovers(record) == []
    assert list(tmp_path.iterdir()) == []


def test_a_method_that_needs_no_fit_predicts_without_a_model(lorenz_store, tmp_path):
    rec = predict(tmp_path, dataset_record(tmp_path, path=lorenz_store))
    assert rec["status"] == "ok", rec
    pred = stores.open_predictions(rec["prediction_path"])
    assert "fit_seconds" not in pred.attrs["timing"]  # built untrained, not fitted
    ds = stores.open_dataset(lorenz_store)
    start = int(pred["context_start"].values[0])
    traj = int(pred["context_trajectory"].values[0])
    last = ds["x"].values[traj, start - 1]
    assert (pred["forecast"].values[0] == last).all()  # persistence repeats the context's end


def test_metric_tables_carry_provenance_and_are_written_atomically(tmp_path):
    out = tmp_path / "m" / "metrics.parquet"
    records.write_metrics_table(pd.DataFrame({"a": [1, 2]}), out)
    assert pd.read_parquet(out)["a"].tolist() == [1, 2]
    prov = json.loads(pq.read_schema(out).metadata[b"dsrbench_provenance"])
    assert {"packages", "git_revision"} <= set(prov)
    assert [p.name for p in out.parent.iterdir()] == ["metrics.parquet"]
    merged = tmp_path / "merged.parquet"
    evaluate_job.merge([out, out], merged)
    assert len(pd.read_parquet(merged)) == 4


def test_a_damaged_record_names_the_command_that_rewrites_it(tmp_path):
    """A record listed by a chunk record: `--forcerun <chunk record>` reruns its job; one
    that no chunk record lists: delete it and rerun."""
    from dsrbench import layout

    record = layout.dataset_record(tmp_path, "tiny", "Lorenz")
    record.parent.mkdir(parents=True)
    record.write_text('{"status": "ok", "pa')  # cut short
    with pytest.raises(records.JobInputError, match="delete it and run snakemake again"):
        records.read_record(record, "dataset record")
    chunk = layout.dataset_chunk(tmp_path, "tiny", "c000")
    chunk.parent.mkdir()
    chunk.write_text(json.dumps({"chunk_of": "simulate", "records": ["../Lorenz.json"]}))
    with pytest.raises(records.JobInputError) as info:
        records.read_record(record, "dataset record")
    assert str(info.value).startswith(f"cannot read dataset record {record}: ")
    assert f"run snakemake again with `--forcerun {chunk}` added" in str(info.value)
