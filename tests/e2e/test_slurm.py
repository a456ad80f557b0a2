"""The workflow on a real SLURM cluster: the profile profiles/slurm and Dask on SLURM.

Needs the single-node cluster of ``.ci/slurm-cluster start`` (slurmctld, slurmd, slurmdbd
on this machine; partition ``debug`` with one GPU declared as a generic resource, and
``nogpu`` without) and the ``slurm`` extra (the Snakemake executor plugin, dask-jobqueue).
Without them these tests fail under CI (env CI set) and are skipped elsewhere, with the
commands to run.

* one run of a tiny config through the profile: every job goes through sbatch, carries
  the resources its rule asks for (sacct), a train job killed by scancel is resubmitted by
  the profile's retries, and the metrics equal those of a local run, value for value;
* a job asking for a GPU in a partition without one stops the run before any submission,
  with the fix;
* the evaluate rule on a Dask scheduler whose workers are SLURM jobs (dask-jobqueue):
  the same table as on a LocalCluster, also when a worker's job is cancelled mid-way.

Every run has its own working directory under ``tmp_path``; the profile is the
repository's, copied with a shorter latency wait and status-check interval (a test
cluster answers at once).
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import yaml
from support import TINY

from dsrbench import layout
from dsrbench.pipeline.train_job import PAUSE_ENV

REPO = Path(__file__).resolve().parents[2]
SNAKEMAKE = Path(sys.executable).parent / "snakemake"
#: partitions of the test cluster (.ci/slurm-cluster)
GPU_PARTITION, NO_GPU_PARTITION = "debug", "nogpu"
#: the node's CPUs (slurm.conf: CPUs = nproc, the CPUs this process may use); no job may
#: ask for more
CORES = str(len(os.sched_getaffinity(0)))


#: a few epochs of the AL-RNN: its train job asks for gpu=1 (training.device auto)
ALRNN = {"epochs": 4, "batches_per_epoch": 2, "batch_size": 8, "seq_len": 10}
ALRNN |= {"latent_dim": 6, "validate_every": 2}


def _missing(what: str, fix: str) -> None:
    msg = f"{what}; {fix}"
    if os.environ.get("CI"):
        pytest.fail(msg, pytrace=False)
    pytest.skip(msg)


@pytest.fixture(scope="session")
def slurm() -> None:
    """The cluster of `.ci/slurm-cluster start`, up, and the `slurm` extra."""
    if shutil.which("sinfo") is None:
        _missing(
            "SLURM is not installed (no sinfo)",
            "run: .ci/slurm-cluster install && .ci/slurm-cluster start",
        )
    res = subprocess.run(
        ["sinfo", "-h", "-p", GPU_PARTITION, "-o", "%t|%G"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    states = res.stdout.split()
    if res.returncode != 0 or not any(s.split("|")[0] in ("idle", "mix", "alloc") for s in states):
        _missing(
            f"no SLURM node up in partition {GPU_PARTITION!r} "
            f"(sinfo: {(res.stdout + res.stderr).strip() or 'nothing'})",
            "run: .ci/slurm-cluster start",
        )
    for module in ("snakemake_executor_plugin_slurm", "dask_jobqueue"):
        try:
            __import__(module)
        except ImportError:
            _missing(f"{module} is not installed", "run: pip install -e '.[slurm]'")


def _env(**extra: str) -> dict[str, str]:
    # one BLAS thread in every run and job (as report_run.py): runs give the same bits
    return {**os.environ, "OMP_NUM_THREADS": "1", **extra}


def _snakemake_cmd(workdir: Path, *args: str) -> list[str]:
    return [str(SNAKEMAKE), "--snakefile", str(REPO / "Snakefile"), "--directory", str(workdir)]


def snakemake(workdir: Path, *args: str, timeout: int = 600) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*_snakemake_cmd(workdir), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=workdir,
        env=_env(),
    )


def write_profile(directory: Path, **resources: str) -> Path:
    """The repository's SLURM profile in ``directory`` with test timings (and
    ``resources`` added to its default-resources)."""
    profile = yaml.safe_load((REPO / "profiles" / "slurm" / "config.yaml").read_text())
    assert profile["executor"] == "slurm" and profile["retries"] >= 1
    profile["latency-wait"] = 5
    profile["seconds-between-status-checks"] = 1
    profile["slurm-init-seconds-before-status-checks"] = 1
    profile["default-resources"] = {**profile["default-resources"], **resources}
    directory.mkdir(parents=True)
    (directory / "config.yaml").write_text(yaml.safe_dump(profile))
    return directory


def write_config(workdir: Path, **changes) -> Path:
    """A tiny config over Lorenz and Rossler (one chunk), results under ``workdir``."""
    cfg = {
        "systems": ["Lorenz", "Rossler"],
        "results_dir": str(workdir / "results"),
        "datasets": TINY,
        "evaluation": {
            "methods": ["truth", "persistence", "var", "alrnn"],
            "context_length": 20,
            "horizon": 40,
            "contexts_per_trajectory": 2,
            "long_run_length": 500,
            "hyperparameters": {"alrnn": ALRNN},
        },
        "reports": {"enabled": False},
        **changes,
    }
    workdir.mkdir(parents=True, exist_ok=True)
    path = workdir / "config.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def metrics(table: Path) -> pd.DataFrame:
    keys = ["system", "dataset", "method", "seed", "metric", "horizon"]
    frame = pd.read_parquet(table)
    return frame.sort_values(keys, na_position="first").reset_index(drop=True)


def sacct(*args: str) -> list[dict[str, str]]:
    fields = ["JobID", "JobName%60", "State", "Partition", "ReqMem", "Timelimit"]
    fields += ["ReqCPUS", "AllocTRES%120", "Comment%120"]
    res = subprocess.run(
        ["sacct", "-X", "-P", "-n", "-o", ",".join(fields), *args],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    names = [f.split("%")[0] for f in fields]
    return [dict(zip(names, line.split("|"), strict=True)) for line in res.stdout.splitlines()]


def minutes(timelimit: str) -> int:
    """sacct's [D-]HH:MM:SS in minutes."""
    days, _, clock = timelimit.rpartition("-")
    h, m, s = (int(x) for x in clock.split(":"))
    return int(days or 0) * 1440 + h * 60 + m + (s > 0)


def planned_jobs(output: str) -> dict[str, dict]:
    """The jobs of a dry run, by the comment the slurm plugin gives each (rule and
    wildcard values): threads and resources as Snakemake evaluated them."""
    jobs = {}
    for block in re.split(r"\n(?=\[|rule )", output):
        head = re.match(r"rule (\w+):", block)
        if not head:
            continue
        wildcards = re.search(r"^\s+wildcards: (.*)$", block, re.MULTILINE)
        values = [kv.split("=", 1)[1] for kv in wildcards[1].split(", ")] if wildcards else []
        resources = re.search(r"^\s+resources: (.*)$", block, re.MULTILINE)
        res = dict(kv.split("=", 1) for kv in resources[1].split(", ")) if resources else {}
        threads = re.search(r"^\s+threads: (\d+)$", block, re.MULTILINE)
        comment = f"rule_{head[1]}" + (f"_wildcards_{'_'.join(values)}" if values else "")
        jobs[comment] = {
            "rule": head[1],
            "threads": int(threads[1]) if threads else 1,
            "mem_mb": int(res["mem_mb"]),
            "runtime": int(res["runtime"]),
            "gpu": int(res.get("gpu", 0)),
        }
    return jobs


def squeue_job(comment: str) -> str | None:
    """The id of the running SLURM job with this comment, if any."""
    res = subprocess.run(
        ["squeue", "-h", "-t", "RUNNING", "-o", "%i|%k"], capture_output=True, text=True
    )
    for line in res.stdout.splitlines():
        job, _, text = line.partition("|")
        if text == comment:
            return job
    return None


def test_profile_run_sbatch_resources_and_scancel_retry(tmp_path, slurm):
    """(a) every job of a tiny config goes through sbatch, and the merged metrics equal
    those of a local run, value for value; (b) sacct shows each job with the CPUs, memory,
    time limit and GPU its rule asked for; (c) the var train job, cancelled with scancel
    after its first model's record, is resubmitted by the profile's retries and keeps
    that model."""
    local_dir, slurm_dir = tmp_path / "local", tmp_path / "slurm"
    local_cfg, slurm_cfg = write_config(local_dir), write_config(slurm_dir)
    profile = write_profile(tmp_path / "profile")
    pause = "5"  # seconds each train job waits after each model's record
    env = _env(**{PAUSE_ENV: pause})

    # what the rules ask for, as Snakemake evaluates it with the profile
    dry = snakemake(
        slurm_dir, "-n", "--profile", str(profile), "--cores", CORES, "--configfile", str(slurm_cfg)
    )
    assert dry.returncode == 0, dry.stderr[-5000:]
    planned = planned_jobs(dry.stdout + dry.stderr)
    alrnn = "rule_train_wildcards_tiny_alrnn_c000"
    var = "rule_train_wildcards_tiny_var_c000"
    assert planned[alrnn]["gpu"] == 1 and planned[var]["gpu"] == 0
    assert planned["rule_evaluate_wildcards_tiny"]["threads"] == int(CORES)  # --cores

    # the local reference runs beside the SLURM run (the cluster's jobs leave gaps)
    t0 = time.monotonic()
    local = subprocess.Popen(
        [*_snakemake_cmd(local_dir), "--cores", CORES, "--configfile", str(local_cfg)],
        cwd=local_dir,
        env=_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    run = subprocess.Popen(
        [*_snakemake_cmd(slurm_dir), "--profile", str(profile), "--cores", CORES]
        + ["--configfile", str(slurm_cfg)],
        cwd=slurm_dir,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    results = slurm_dir / "results"
    first = layout.model_record(results, "tiny", "var", "Lorenz", 0)
    chunk = layout.model_chunk(results, "tiny", "var", "c000")
    cancelled = None
    try:
        deadline = time.monotonic() + 300
        while cancelled is None and run.poll() is None and time.monotonic() < deadline:
            if first.exists() and not chunk.exists():
                cancelled = squeue_job(var)
                if cancelled:
                    subprocess.run(["scancel", cancelled], check=True)
            time.sleep(0.2)
        out, _ = run.communicate(timeout=600)
        _, local_err = local.communicate(timeout=300)
    finally:
        for proc in (run, local):
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
    print(f"SLURM run and local run: {time.monotonic() - t0:.0f} s")
    assert cancelled, "the var train job was not caught between its two model records"
    assert run.returncode == 0, out[-8000:]
    assert local.returncode == 0, local_err[-5000:]

    # (a) one SLURM job per Snakemake job but the localrules (seconds each), plus the retry
    local_rules = set(re.findall(r"^localrule (\w+):", out, re.MULTILINE))
    assert local_rules == {"dataset_summary", "metrics", "all"}
    submitted = {c: j for c, j in planned.items() if j["rule"] not in local_rules}
    assert {j["rule"] for j in submitted.values()} == {
        "simulate",
        "true_runs",
        "train",
        "predict",
        "evaluate",
    }
    run_id = re.search(r"SLURM run ID: (\S+)", out)[1]
    jobs = sacct("--name", run_id)
    comments = sorted(j["Comment"] for j in jobs)
    assert comments == sorted([*submitted, var]), comments
    assert {j["Partition"] for j in jobs} == {GPU_PARTITION}
    pd.testing.assert_frame_equal(
        metrics(layout.merged_metrics(results)),
        metrics(layout.merged_metrics(local_dir / "results")),
        check_exact=True,
    )

    # (b) the resources of every job, as its rule asked for them
    for job in jobs:
        want = submitted[job["Comment"]]
        tres = dict(kv.split("=", 1) for kv in job["AllocTRES"].split(","))
        got = {
            "threads": int(job["ReqCPUS"]),
            "mem_mb": int(job["ReqMem"].removesuffix("M")),
            "runtime": minutes(job["Timelimit"]),
            "gpu": int(tres.get("gres/gpu", 0)),
        }
        assert got == {k: want[k] for k in got}, (job, want)
    gpu_jobs = [j for j in jobs if "gres/gpu=1" in j["AllocTRES"]]
    assert [j["Comment"] for j in gpu_jobs] == [alrnn]
    assert gpu_jobs[0]["State"] == "COMPLETED"

    # (c) the cancelled train job and its resubmission, which kept the finished model
    var_jobs = sorted((j for j in jobs if j["Comment"] == var), key=lambda j: int(j["JobID"]))
    assert [j["JobID"] for j in var_jobs][0] == cancelled
    assert [j["State"].split()[0] for j in var_jobs] == ["CANCELLED", "COMPLETED"]
    log = layout.train_chunk_log(results, "tiny", "var", "c000").read_text()
    assert "Lorenz / tiny / var / 0: finished before" in log
    assert "training 1 var model(s) in one fit_many call" in log
    assert {j["State"] for j in jobs if j["Comment"] != var} == {"COMPLETED"}


def test_a_gpu_job_on_a_partition_without_gpus_stops_with_the_fix(tmp_path, slurm):
    """The AL-RNN's train job asks for a GPU (training.device auto); sent to a partition
    whose nodes have none, the run stops before its first sbatch and says what to change."""
    workdir = tmp_path / "run"
    cfg = write_config(workdir)
    profile = write_profile(tmp_path / "profile", slurm_partition=NO_GPU_PARTITION)
    res = snakemake(workdir, "--profile", str(profile), "--cores", CORES, "--configfile", str(cfg))
    out = res.stdout + res.stderr
    assert res.returncode != 0
    assert (
        "1 job(s) ask for a GPU (gpu=1: train tiny/alrnn/c000), but partition 'nogpu' has "
        "no GPU (its nodes' GRES: none)." in out
    ), out[-5000:]
    assert "set `training.device: cpu` in the config" in out
    assert "Gres=gpu:N on the NodeName line" in out
    run_id = re.search(r"SLURM run ID: (\S+)", out)[1]
    assert sacct("--name", run_id) == []  # nothing was submitted
    assert "has been submitted" not in out
    assert not (workdir / "results").exists()


def test_gpu_check_reads_the_partitions_from_sinfo(slurm):
    """dsrbench.cluster on the test cluster: the default partition has a GPU, nogpu none,
    and an unknown partition is named."""
    from dsrbench.cluster import partition_gres, slurm_gpu_problem

    gres, default = partition_gres()
    assert default == GPU_PARTITION
    assert gres[GPU_PARTITION] == {"gpu:1"} and gres[NO_GPU_PARTITION] == set()
    assert slurm_gpu_problem({None: ["train x"], GPU_PARTITION: ["train y"]}) is None
    assert slurm_gpu_problem({NO_GPU_PARTITION: []}) is None
    problem = slurm_gpu_problem({"nosuch": ["train x"]})
    assert "SLURM has no partition 'nosuch' (sinfo lists: debug, nogpu)" in problem


def test_evaluate_on_dask_slurm_workers_equals_a_local_cluster(tmp_path, slurm):
    """The evaluate rule with evaluation.dask.scheduler_address on a dask-jobqueue
    SLURMCluster (two single-core worker jobs): the metric table of the LocalCluster run,
    value for value, also though one worker's job is cancelled while it holds tasks (Dask
    computes them again on the other worker)."""
    from dask.distributed import Client
    from dask_jobqueue import SLURMCluster

    workdir = tmp_path / "run"
    evaluation = {
        "methods": ["truth", "persistence"],
        "context_length": 20,
        "horizon": 40,
        "contexts_per_trajectory": 2,
        "long_run_length": 4000,
    }
    cfg = write_config(workdir, evaluation=evaluation)
    t0 = time.monotonic()
    res = snakemake(workdir, "--cores", CORES, "--configfile", str(cfg))
    assert res.returncode == 0, res.stderr[-5000:]
    table = layout.metrics_table(workdir / "results", "tiny")
    on_local_cluster = metrics(table)
    print(f"local run: {time.monotonic() - t0:.0f} s")

    with (
        SLURMCluster(
            queue=GPU_PARTITION,
            cores=1,
            processes=1,
            memory="2GB",
            walltime="00:20:00",
            python=sys.executable,
            # as the LocalCluster's workers (dsrbench.pipeline.evaluate.dask_client): one
            # thread each
            job_script_prologue=[
                f"export {v}=1"
                for v in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")
            ],
            scheduler_options={"host": "127.0.0.1", "dashboard_address": ":0"},
            log_directory=str(tmp_path / "dask-logs"),
        ) as cluster,
        Client(cluster) as client,
    ):
        cluster.scale(jobs=2)
        client.wait_for_workers(2, timeout=300)
        job_of = {name: job.job_id for name, job in cluster.workers.items()}
        cfg = write_config(
            workdir,
            evaluation={**evaluation, "dask": {"scheduler_address": cluster.scheduler_address}},
        )
        # every store scored again on the SLURM workers: with its cached rows the rerun
        # would read them back and send no task (docs/evaluation.md)
        shutil.rmtree(workdir / "results" / "metrics" / "cache")
        t1 = time.monotonic()
        run = subprocess.Popen(
            [*_snakemake_cmd(workdir), "--cores", CORES, "--configfile", str(cfg)],
            cwd=workdir,
            env=_env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        killed = None
        try:
            while killed is None and run.poll() is None:
                for addr, keys in client.processing().items():
                    if keys:
                        name = client.scheduler_info()["workers"][addr]["name"]
                        killed = (name, job_of[name], list(keys))
                        subprocess.run(["scancel", job_of[name]], check=True)
                        break
                time.sleep(0.05)
            out, _ = run.communicate(timeout=600)
        finally:
            if run.poll() is None:
                os.killpg(run.pid, signal.SIGTERM)
                run.wait()
        print(f"evaluation on SLURM workers: {time.monotonic() - t1:.0f} s")
        assert run.returncode == 0, out[-8000:]
        assert killed, "no worker was seen with a task"
        name, job, keys = killed
        # every task the cancelled worker held went back to processing (on the other
        # worker) and finished there
        for key in keys:
            finished = [t.finish for t in cluster.scheduler.story(key) if t.key == key]
            assert finished.count("processing") >= 2 and "memory" in finished, finished
    state = {j["JobID"]: j["State"].split()[0] for j in sacct("-j", ",".join(job_of.values()))}
    assert state[job] == "CANCELLED", state
    # the second run evaluated again (its params changed), nothing before it
    assert re.search(r"^evaluate\s+1$", out, re.MULTILINE), out[-5000:]
    assert not re.search(r"^(simulate|train|predict)\s+\d+$", out, re.MULTILINE)
    pd.testing.assert_frame_equal(metrics(table), on_local_cluster, check_exact=True)
