"""The Snakemake workflow: planning, config validation before any job, and a real run.

Every test here starts the real ``snakemake`` command (a few seconds of imports and
planning each), so the module is in the end-to-end tier (``make test-e2e``); the config
checks themselves are unit-tested in ``test_config.py`` and ``test_slices.py``.

Every run uses a temporary working directory (``--directory``) and ``results_dir``, so
nothing is written into the repository.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml
from support import TINY
from support.shipped_configs import stack, stacked_config

from dsrbench import layout
from dsrbench.pipeline.config import load_config
from dsrbench.pipeline.plan import evaluation_datasets, is_trained, method_chunks, system_chunks

REPO = Path(__file__).resolve().parents[2]
SNAKEMAKE = Path(sys.executable).parent / "snakemake"


def snakemake(tmp_path: Path, *args: str, timeout: int = 300) -> subprocess.CompletedProcess:
    """Run the repository's workflow with ``tmp_path`` as working directory."""
    cmd = [
        str(SNAKEMAKE),
        "--snakefile",
        str(REPO / "Snakefile"),
        "--directory",
        str(tmp_path),
        *args,
    ]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=tmp_path)


def planned(output: str) -> dict[str, int]:
    """Job counts of a dry run's "Job stats" table."""
    return {m[1]: int(m[2]) for m in re.finditer(r"^(\w+)\s+(\d+)$", output, re.MULTILINE)}


@pytest.mark.parametrize("name", ["full.yaml", "lyapunov.yaml"])
def test_dry_run_plans_every_system(tmp_path, name):
    configfile = REPO / "configs" / name
    n_settings = len(load_config(configfile)["datasets"])
    res = snakemake(
        tmp_path,
        "-n",
        "--configfile",
        str(configfile),
        "--config",
        f"results_dir={tmp_path / 'results'}",
    )
    assert res.returncode == 0, res.stderr + res.stdout
    counts = planned(res.stdout + res.stderr)
    n_chunks = len(system_chunks(load_config(configfile)))
    assert n_chunks == 9  # 135 systems, 16 per job
    assert counts["simulate"] == n_chunks * n_settings
    assert counts["dataset_summary"] == 1
    assert not (tmp_path / "results").exists()


@pytest.mark.parametrize(
    "name",
    # gilpin2023.yaml plans all 135 systems (about 15 s of CPU): end-to-end tier
    ["dsr.yaml", "gilpin2023.yaml"],
)
def test_paper_configs_plan_train_predict_evaluate_and_their_page(tmp_path, name):
    cfg = load_config(REPO / "configs" / name)
    res = snakemake(
        tmp_path,
        "-n",
        "--configfile",
        str(REPO / "configs" / name),
        "--config",
        f"results_dir={tmp_path / 'results'}",
    )
    assert res.returncode == 0, res.stderr + res.stdout
    counts = planned(res.stdout + res.stderr)
    n_sys = 135 if cfg["systems"] == "all" else len(cfg["systems"])
    n_chunks = len(system_chunks(cfg))
    methods = cfg["evaluation"]["methods"]
    trained = [m for m in methods if is_trained(m)]
    assert "persistence" in methods and "persistence" not in trained
    # one job per chunk of systems and every method but the oracle and those that need no
    # fit (persistence), every seed in the job
    n_eval = len(evaluation_datasets(cfg))
    assert counts["train"] == n_chunks * len(trained) * n_eval
    assert counts["predict"] == n_chunks * len(methods) * n_eval
    out = res.stdout + res.stderr
    models = {m for m in methods if re.search(rf"/models/[^/\s]+/{m}/", out)}
    assert models == set(trained)
    # one page per system and learned method, the leaderboard and this paper's page
    assert counts["report_page"] == 1 + n_sys + (len(methods) - 1) + len(cfg["reports"]["papers"])
    assert name.removesuffix(".yaml") in cfg["reports"]["papers"]
    paper = layout.report_page(tmp_path / "results", f"papers/{name.removesuffix('.yaml')}")
    assert str(paper) in out
    assert counts["evaluate"] == n_eval
    # the whole database with every method of the paper stays under 400 jobs
    assert counts["total"] == sum(v for k, v in counts.items() if k != "total")
    assert counts["total"] <= 400, counts


def paper_of(override: str) -> str:
    """The paper config an override file goes on: ``gilpin2023_cpu.yaml`` ->
    ``gilpin2023.yaml``."""
    return override.split("_")[0] + ".yaml"


def documented_layers(override: str) -> list[str]:
    """The config files, relative to ``configs/``, of the first ``snakemake`` command in
    the header of ``configs/overrides/<override>``: the paper config, then the overrides it
    goes on top of, then itself (``gilpin2023_cpu_budget.yaml`` under the others)."""
    header = []
    for line in (REPO / "configs" / "overrides" / override).read_text().splitlines():
        if not line.startswith("#"):
            break
        header.append(line.lstrip("#").strip())
    text = " ".join(header).replace("\\ ", " ")
    command = text[text.index("snakemake") :].split(" snakemake")[0].split()
    files = [w.removeprefix("configs/") for w in command if w.endswith(".yaml")]
    papers = [f for f in files if not f.startswith("overrides/")]  # zeroshot: on lyapunov
    assert paper_of(override) in papers and files[-1] == f"overrides/{override}", files
    return files


@pytest.mark.parametrize(
    "override", sorted(p.name for p in (REPO / "configs" / "overrides").glob("*.yaml"))
)
def test_cpu_overrides_of_paper_configs_plan(tmp_path, override):
    """``configs/overrides/<paper>_<what>.yaml`` goes on top of ``configs/<paper>.yaml``
    and the overrides its header's command names (the pages' commands), and the result
    still validates and plans."""
    files = [REPO / "configs" / f for f in documented_layers(override)]
    res = snakemake(
        tmp_path,
        "-n",
        "--configfile",
        *(str(f) for f in files),
        "--config",
        f"results_dir={tmp_path / 'results'}",
    )
    assert res.returncode == 0, res.stderr + res.stdout
    merged = stacked_config(*files)  # as snakemake merges the config files, in order
    counts = planned(res.stdout + res.stderr)
    trained = [m for m in merged["evaluation"]["methods"] if is_trained(m)]
    # none for a run of methods that forecast from the context alone (the chronos smoke run)
    assert not {"truth", "persistence"} & set(trained)
    assert trained or "chronos" in merged["evaluation"]["methods"], merged["evaluation"]
    merged_cfg = load_config(merged)
    n_eval = len(evaluation_datasets(merged_cfg))
    chunks = sum(len(method_chunks(merged_cfg, m)) for m in trained)
    assert counts.get("train", 0) == chunks * n_eval


def test_a_method_restricted_to_some_systems_gets_jobs_only_for_their_chunks(tmp_path):
    """evaluation.systems_by_method: var runs on 2 of 5 systems (chunks of 2), so it gets
    train and predict jobs for the 2 chunks that hold them; persistence for all 3."""
    configfile = write_config(
        tmp_path / "tiny.yaml",
        systems=["Lorenz", "Rossler", "Chen", "Aizawa", "Thomas"],
        results_dir=str(tmp_path / "results"),
        datasets=TINY,
        chunking={"systems_per_job": 2},
        evaluation={
            "methods": ["persistence", "var"],
            "context_length": 20,
            "horizon": 40,
            "systems_by_method": {"var": ["Aizawa", "Thomas"]},
        },
        reports={"enabled": False},
    )
    res = snakemake(tmp_path, "-n", "-p", "--configfile", str(configfile))
    assert res.returncode == 0, res.stderr + res.stdout
    counts = planned(res.stdout + res.stderr)
    assert counts["train"] == 2 and counts["predict"] == 3 + 2, counts
    out = res.stdout + res.stderr
    assert "models/tiny/var/chunks/c001.json" not in out  # Lorenz, Rossler: no var
    # the jobs cut their systems from the resolved config: c000 (Aizawa), c002 (Thomas)
    assert "--chunk c000 --method var" in out and "--chunk c002 --method var" in out
    assert "--chunk c001 --method var" not in out


CONFIGS = [stack(name) for name in sorted(p.name for p in (REPO / "configs").glob("*.yaml"))] + [
    documented_layers(override)
    for override in sorted(p.name for p in (REPO / "configs" / "overrides").glob("*.yaml"))
]


@pytest.mark.parametrize("files", CONFIGS, ids=["+".join(f) for f in CONFIGS])
def test_every_config_over_all_systems_plans_at_most_400_jobs(tmp_path, files):
    """Chunk jobs: neither the methods nor the seeds multiply the job count by the number
    of systems (the README gives the dry-run times). An override that names its own
    systems (one part of a run split by systems, such as the EntroPE parts and the torch-20
    run, or a subset chosen for a claim) is planned over those: over all 135 it would be
    another run."""
    merged = stacked_config(*files)  # as snakemake merges the config files, in order
    own_systems = files[-1].startswith("overrides/") and isinstance(
        stacked_config(files[-1]).get("systems"), list
    )
    if not own_systems:
        merged["systems"] = "all"
    res = snakemake(
        tmp_path,
        "-n",
        "--configfile",
        *(str(REPO / "configs" / f) for f in files),
        "--config",
        *([] if own_systems else ["systems=all"]),
        f"results_dir={tmp_path / 'results'}",
    )
    assert res.returncode == 0, res.stderr + res.stdout
    counts = planned(res.stdout + res.stderr)
    assert 0 < counts["total"] <= 400, counts
    cfg = load_config(merged)
    assert counts["simulate"] == len(system_chunks(cfg)) * len(cfg["datasets"])


def test_default_config_and_configfile_replaces_it(tmp_path):
    res = snakemake(tmp_path, "-n", "--config", f"results_dir={tmp_path / 'r'}")
    assert res.returncode == 0, res.stderr
    default = load_config(REPO / "config.yaml")
    jobs = planned(res.stdout + res.stderr)
    # both systems in one chunk: one simulate job per setting, one train and one predict
    # job per method
    assert len(system_chunks(default)) == 1
    assert jobs["simulate"] == len(default["datasets"]) == 1
    methods = default["evaluation"]["methods"]
    assert jobs["predict"] == len(methods)
    assert jobs["train"] == sum(is_trained(m) for m in methods)  # not truth, persistence
    # --configfile replaces config.yaml rather than merging its dataset settings into it.
    res = snakemake(
        tmp_path,
        "-n",
        "--configfile",
        str(REPO / "configs" / "lyapunov.yaml"),
        "--config",
        f"results_dir={tmp_path / 'r'}",
    )
    assert res.returncode == 0, res.stderr
    assert "/data/fine/" not in res.stdout + res.stderr
    lyap = str(layout.dataset_chunk(tmp_path / "r", "lyap30", "c000"))
    assert lyap in res.stdout + res.stderr


def write_config(path: Path, **cfg) -> Path:
    path.write_text(yaml.safe_dump(cfg))
    return path


@pytest.mark.parametrize(
    ("cfg", "expected"),
    [
        (
            {"systems": ["Lorenz"], "datasetz": TINY},
            "unknown config key 'datasetz' (did you mean 'datasets'?)",
        ),
        (
            {"systems": ["Lorenz", "Lorenz63"], "datasets": TINY},
            "unknown system 'Lorenz63' (did you mean",
        ),
        (
            {"systems": ["Lorenz"], "datasets": {"tiny": {**TINY["tiny"], "timescale": "hours"}}},
            "config key 'datasets.tiny.timescale' must be one of fourier, lyapunov",
        ),
        # the fault matrix (docs/faults.md): one of each kind through the command line; every
        # top-level key with a wrong type is checked in process (test_config.py)
        (
            {"systems": ["Lorenz"], "datasets": TINY, "seed": [1]},
            "config key 'seed' must be an integer (got [1])",
        ),
        (
            {"systems": ["Lorenz"], "datasets": {"tiny": {**TINY["tiny"], "length": -100}}},
            "config key 'datasets.tiny.length' must be >= 10 (got -100)",
        ),
        (
            {"systems": ["Lorenz"], "datasets": TINY, "evaluation": {"methods": ["vaar"]}},
            "config key 'evaluation.methods': unknown method 'vaar' (did you mean 'var'",
        ),
        (
            {
                "systems": ["Lorenz"],
                "datasets": TINY,
                "evaluation": {"methods": ["truth"], "datasets": ["coarse"]},
            },
            "config key 'evaluation.datasets': 'coarse' is not a dataset setting; choose from tiny",
        ),
        (
            {"systems": ["Lorenz"], "datasets": TINY, "training": {"device": "gpu"}},
            "config key 'training.device' must be auto, cpu, cuda or cuda:N",
        ),
    ],
    ids=[
        "unknown-key",
        "unknown-system",
        "bad-timescale",
        "wrong-type",
        "negative-length",
        "unknown-method",
        "unknown-dataset",
        "unknown-device",
    ],
)
def test_bad_config_fails_before_any_job(tmp_path, cfg, expected):
    configfile = write_config(tmp_path / "bad.yaml", results_dir=str(tmp_path / "r"), **cfg)
    res = snakemake(tmp_path, "-n", "--configfile", str(configfile))
    out = res.stdout + res.stderr
    assert res.returncode != 0
    assert expected in out
    assert "Job stats" not in out and "rule simulate" not in out


def test_bad_command_line_override_fails(tmp_path):
    res = snakemake(tmp_path, "-n", "--config", "seed=-1", f"results_dir={tmp_path / 'r'}")
    assert res.returncode != 0
    assert "config key 'seed' must be >= 0 (got -1)" in res.stdout + res.stderr


def test_real_run_two_systems(tmp_path):
    from dsrbench.stores import open_dataset

    results = tmp_path / "results"
    configfile = write_config(
        tmp_path / "tiny.yaml",
        systems=["Lorenz", "MackeyGlass"],
        results_dir=str(results),
        datasets=TINY,
        evaluation={
            "methods": ["truth", "persistence", "var"],
            "context_length": 20,
            "horizon": 40,
            "contexts_per_trajectory": 2,
            "long_run_length": 2000,
        },
    )
    res = snakemake(tmp_path, "--cores", "2", "--configfile", str(configfile), timeout=600)
    assert res.returncode == 0, res.stderr[-5000:]

    summary = pd.read_csv(layout.dataset_summary(results))
    assert list(summary.columns) == [
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
    assert sorted(summary.system) == ["Lorenz", "MackeyGlass"]
    assert set(summary.status) == {"ok"}, summary.to_string()
    for system, dim in [("Lorenz", 3), ("MackeyGlass", 10)]:
        ds = open_dataset(layout.dataset_store(results, "tiny", system))
        assert ds["x"].sizes["trajectory"] == 3 and ds["x"].sizes["time"] == 100
        assert dim in ds["x"].shape
        assert layout.simulate_log(results, "tiny", system).is_file()
        assert layout.dataset_record(results, "tiny", system).is_file()
    assert layout.summary_log(results).is_file()

    # predict -> evaluate (real Dask LocalCluster) -> merged metrics
    metrics = pd.read_parquet(layout.merged_metrics(results))
    assert set(metrics.method) == {"truth", "persistence", "var", "floor"}
    assert set(metrics.system) == {"Lorenz", "MackeyGlass"}
    ok = metrics[metrics.status.isin(["ok", "diverged"])]
    assert len(ok) == len(metrics), metrics[~metrics.index.isin(ok.index)].to_string()
    truth = metrics[(metrics.method == "truth") & (metrics.metric == "mse")]
    assert (truth.value == 0).all()
    stsp = metrics[(metrics.metric == "D_stsp") & (metrics.method != "floor")]
    assert stsp.floor.notna().all() and (stsp.n_points == 2000).all()
    for system in ("Lorenz", "MackeyGlass"):
        rec = layout.prediction_record(results, "tiny", "persistence", system, 0)
        assert rec.is_file()
        assert json.loads(rec.read_text())["status"] == "ok"
        # persistence needs no fit: no training job, no model
        assert not layout.model_record(results, "tiny", "persistence", system, 0).exists()
        assert not layout.train_log(results, "tiny", "persistence", system, 0).exists()
    assert layout.evaluate_log(results, "tiny").is_file()

    # train -> model directories with their records; the learned map's Lyapunov exponent
    for system in ("Lorenz", "MackeyGlass"):
        model_dir = layout.model_dir(results, "tiny", "var", system, 0)
        assert (model_dir / "training.json").is_file() and (model_dir / "arrays.npz").is_file()
        assert layout.train_log(results, "tiny", "var", system, 0).is_file()
    lyap = metrics[(metrics.method == "var") & (metrics.metric == "lyapunov_qr_rel_error")]
    assert len(lyap) == 2 and lyap.floor.notna().all(), lyap.to_string()
    assert not (results / "models" / "tiny" / "truth").exists()  # the oracle is not trained
    assert {f.names["method"] for f in layout.find(results, "model_record")} == {"var"}
    import pyarrow.parquet as pq

    meta = pq.read_schema(layout.merged_metrics(results)).metadata
    prov = json.loads(meta[b"dsrbench_provenance"])
    assert {"packages", "git_revision"} <= set(prov)

    again = snakemake(tmp_path, "-n", "--configfile", str(configfile))
    assert "Nothing to be done" in again.stdout + again.stderr

    # a method added to the finished run: evaluate scores its stores only and reads the
    # others' rows back from metrics/cache/, bit for bit
    before = _metrics(results)
    methods = '{"methods": ["truth", "persistence", "var", "mean"]}'
    added = snakemake(
        tmp_path, "--cores", "2", "--configfile", str(configfile), "--config",
        f"evaluation={methods}", timeout=600,
    )  # fmt: skip
    assert added.returncode == 0, added.stderr[-5000:]
    log = layout.evaluate_log(results, "tiny").read_text()
    assert "6 of 8 prediction stores read back" in log, log[-3000:]
    after = _metrics(results)
    assert set(after.method) == {"truth", "persistence", "var", "mean", "floor"}
    pd.testing.assert_frame_equal(after[after.method != "mean"].reset_index(drop=True), before)

    # the long true runs (T = 2000 > the stored 100 points) were integrated once; a results
    # directory that lost them gets them back with --forcerun true_runs, and no training
    for system in ("Lorenz", "MackeyGlass"):
        assert layout.true_runs(results, "tiny", system).is_file()
    shutil.rmtree(results / "truth" / "runs")
    older = snakemake(tmp_path, "-n", "--forcerun", "true_runs", "--configfile", str(configfile))
    counts = planned(older.stdout + older.stderr)
    assert counts["true_runs"] == 1 and "train" not in counts, counts


def _records(results: Path, kind: str) -> dict[str, dict]:
    return {f.names["system"]: json.loads(f.path.read_text()) for f in layout.find(results, kind)}


def _metrics(results: Path) -> pd.DataFrame:
    table = pd.read_parquet(layout.merged_metrics(results))
    keys = ["system", "dataset", "method", "seed", "metric", "horizon"]
    return table.sort_values(keys, na_position="first").reset_index(drop=True)


def test_a_killed_train_chunk_redoes_only_its_unfinished_systems(tmp_path):
    """SIGKILL the train chunk job (its whole process group, Snakemake included) after one
    system's model record and before the chunk record; the rerun retrains only the other
    systems of the chunk, and the metrics equal those of an uninterrupted run."""
    import os
    import signal
    import time

    from dsrbench.pipeline.train_job import PAUSE_ENV

    alrnn = {"epochs": 4, "batches_per_epoch": 2, "batch_size": 8, "seq_len": 10}
    alrnn |= {"latent_dim": 6, "validate_every": 2}

    def config(name: str) -> tuple[Path, Path]:
        results = tmp_path / name / "results"
        results.parent.mkdir()
        return results, write_config(
            results.parent / "tiny.yaml",
            systems=["Lorenz", "Chen", "Rossler"],
            results_dir=str(results),
            datasets=TINY,
            chunking={"systems_per_job": 2},  # c000: Chen, Lorenz; c001: Rossler
            training={"device": "cpu"},
            evaluation={
                "methods": ["truth", "alrnn"],
                "context_length": 20,
                "horizon": 40,
                "contexts_per_trajectory": 2,
                "long_run_length": 500,
                "hyperparameters": {"alrnn": alrnn},
            },
            reports={"enabled": False},
        )

    reference, ref_config = config("reference")
    res = snakemake(ref_config.parent, "--cores", "1", "--configfile", str(ref_config), timeout=900)
    assert res.returncode == 0, res.stderr[-5000:]
    assert set(_records(reference, "model_record")) == {"Chen", "Lorenz", "Rossler"}

    results, cfg_file = config("killed")
    first = layout.model_record(results, "tiny", "alrnn", "Chen", 0)
    chunk = layout.model_chunk(results, "tiny", "alrnn", "c000")
    cmd = [str(SNAKEMAKE), "--snakefile", str(REPO / "Snakefile"), "--directory"]
    cmd += [str(cfg_file.parent), "--cores", "1", "--configfile", str(cfg_file)]
    proc = subprocess.Popen(
        cmd,
        cwd=cfg_file.parent,
        env={**os.environ, PAUSE_ENV: "120"},  # a long pause after each model's record
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 600
        while not first.exists() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.2)
        assert first.exists() and not chunk.exists(), "the train job did not get that far"
        os.killpg(proc.pid, signal.SIGKILL)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    assert not layout.model_record(results, "tiny", "alrnn", "Lorenz", 0).exists()
    before = _records(results, "model_record")
    chen_mtime = first.stat().st_mtime_ns

    assert (
        snakemake(
            cfg_file.parent, "--unlock", "--cores", "1", "--configfile", str(cfg_file)
        ).returncode
        == 0
    )
    res = snakemake(
        cfg_file.parent,
        "--cores",
        "1",
        "--rerun-incomplete",
        "--configfile",
        str(cfg_file),
        timeout=900,
    )
    assert res.returncode == 0, res.stderr[-5000:]
    after = _records(results, "model_record")
    # Chen's record was kept as it was; Lorenz was trained by the rerun
    assert first.stat().st_mtime_ns == chen_mtime and after["Chen"] == before["Chen"]
    assert after["Lorenz"]["job_key"] and after["Lorenz"]["status"] == "ok"
    log = layout.train_chunk_log(results, "tiny", "alrnn", "c000").read_text()
    assert "Chen / tiny / alrnn / 0: finished before" in log
    assert "training 1 alrnn model(s) in one fit_many call" in log
    assert json.loads(chunk.read_text())["statuses"] == {"ok": 2}
    pd.testing.assert_frame_equal(_metrics(results), _metrics(reference))
