"""The `dsrbench` command line (in-process, except for the entry-point check)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from dsrbench.atomic import write_text_atomic
from dsrbench.cli import main

SUMMARY_COLUMNS = [
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


def record(system: str, status: str = "ok", **extra) -> dict:
    rec = {
        "system": system,
        "dataset": "fine",
        "status": status,
        "reason": None if status == "ok" else "diverged",
        "wall_time_s": 1.0,
        "n_trajectories": 3,
        "n_time": 100,
        "n_dim": 3,
        "path": f"results/{system}.zarr",
    }
    rec.update(extra)
    return rec


def test_console_script_installed():
    exe = shutil.which("dsrbench", path=str(Path(sys.executable).parent))
    assert exe, "the dsrbench console script is missing: pip install -e ."
    out = subprocess.run([exe, "--help"], capture_output=True, text=True, timeout=60, check=True)
    assert "systems" in out.stdout and "simulate" in out.stdout and "summary" in out.stdout


def test_systems_csv_and_filters(capsys):
    assert (
        main(["systems", "--no-delay", "--dim", "4", "--contains", "hyper", "--format", "csv"]) == 0
    )
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0] == "name,dim,delay,nonautonomous,lyapunov_max,period,dt,chaotic,chaos_reason"
    assert len(lines) > 5 and all(",4,False," in line for line in lines[1:])
    assert main(["systems", "--nonautonomous", "--format", "csv"]) == 0
    assert len(capsys.readouterr().out.strip().splitlines()) == 1 + 15
    assert main(["systems", "--contains", "PanXu"]) == 0
    out = capsys.readouterr().out
    assert "PanXuZhou" in out and "False" in out and "not chaotic, equilibrium" in out
    assert main(["systems", "--no-chaotic", "--format", "csv"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 1 + 16 and all(',False,"not chaotic' in line for line in lines[1:])


def test_summary_from_directory(tmp_path, capsys):
    d = tmp_path / "data" / "fine"
    d.mkdir(parents=True)
    (d / "Lorenz.json").write_text(json.dumps(record("Lorenz")))
    (d / "Chen.json").write_text(json.dumps(record("Chen", "failed", path=None)))
    out = tmp_path / "summary.csv"
    assert main(["summary", str(tmp_path / "data"), "--out", str(out)]) == 0
    import pandas as pd

    table = pd.read_csv(out)
    assert list(table.columns) == SUMMARY_COLUMNS
    assert sorted(zip(table.system, table.status, strict=True)) == [
        ("Chen", "failed"),
        ("Lorenz", "ok"),
    ]
    assert main(["summary", str(d / "Lorenz.json")]) == 0
    assert "Lorenz,fine,ok" in capsys.readouterr().out


def test_summary_bad_input(tmp_path, capsys):
    assert main(["summary", str(tmp_path / "missing*.json")]) == 2
    assert "no record matches" in capsys.readouterr().err
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    assert main(["summary", str(bad)]) == 2
    assert f"cannot read record {bad}" in capsys.readouterr().err


def test_simulate_bad_input_exits_2(tmp_path, capsys):
    args = [
        "--system",
        "Lorenz",
        "--dataset",
        "fine",
        "--out",
        str(tmp_path / "x.zarr"),
        "--record",
        str(tmp_path / "x.json"),
    ]
    assert main(["simulate", "--config", str(tmp_path / "nope.yaml"), *args]) == 2
    assert "config file not found" in capsys.readouterr().err
    cfg = {
        "systems": ["Lorenz"],
        "datasets": {
            "fine": {"pts_per_period": 20, "length": 100, "n_train": 1, "n_val": 1, "n_test": 1}
        },
    }
    bad = {**cfg, "datasetz": 1}
    assert main(["simulate", "--config-json", json.dumps(bad), *args]) == 2
    assert "unknown config key 'datasetz' (did you mean 'datasets'?)" in capsys.readouterr().err
    args[1] = "Lorenz63"
    assert main(["simulate", "--config-json", json.dumps(cfg), *args]) == 2
    assert "unknown system 'Lorenz63'" in capsys.readouterr().err
    args[1], args[3] = "Lorenz", "coarse"
    assert main(["simulate", "--config-json", json.dumps(cfg), *args]) == 2
    assert "--dataset 'coarse' is not a dataset setting" in capsys.readouterr().err
    assert not (tmp_path / "x.json").exists()


def test_simulate_failure_is_recorded_not_raised(tmp_path):
    pytest.importorskip("dsrbench.datasets")
    # dysts' delay equations take no dynamical noise: build_dataset reports a failure.
    cfg = {
        "systems": ["MackeyGlass"],
        "datasets": {
            "noisy": {
                "pts_per_period": 20,
                "length": 100,
                "n_train": 1,
                "n_val": 1,
                "n_test": 1,
                "burn_in": 100,
                "dynamical_noise": 0.1,
            }
        },
    }
    rec_path = tmp_path / "rec" / "MackeyGlass.json"
    rc = main(
        [
            "simulate",
            "--config-json",
            json.dumps(cfg),
            "--system",
            "MackeyGlass",
            "--dataset",
            "noisy",
            "--out",
            str(tmp_path / "MackeyGlass.zarr"),
            "--record",
            str(rec_path),
        ]
    )
    assert rc == 0
    rec = json.loads(rec_path.read_text())
    assert rec["status"] == "failed" and rec["reason"]
    assert set(SUMMARY_COLUMNS) <= set(rec)
    assert not (tmp_path / "MackeyGlass.zarr").exists()


def test_write_atomic(tmp_path):
    path = write_text_atomic(tmp_path / "a" / "b.txt", "hello")
    assert path.read_text() == "hello"
    assert [p.name for p in path.parent.iterdir()] == ["b.txt"]
