"""The fault matrix (docs/faults.md): each test injects one fault into a real, tiny workflow
run (the Snakemake command line, real zarr stores) and checks what the user sees and what a
rerun gives.

One uninterrupted reference run (Chen and Lorenz in one chunk, the truth oracle and
``var``, epoch-free methods, so every rerun must give the same numbers) is shared by the
whole module, and under pytest-xdist by every worker (a file lock). Most cases start from a
copy of it with the outputs of one rule and of everything after it deleted: the state of a
first run right before that rule's job started; a SIGKILL case then kills the job (with
Snakemake: the whole process group) at the point where it has written an output under its
temporary name and pauses before the rename (``dsrbench.atomic.PAUSE_ENV``), unlocks, reruns
with ``--rerun-incomplete`` and compares ``metrics.parquet`` with the reference's. The
report pages are rendered only in the reference and in the report cases.

The training chunk's SIGKILL case (an AL-RNN resuming from its checkpoints) is
``test_workflow.py::test_a_killed_train_chunk_redoes_only_its_unfinished_systems``; the
malformed configs are ``test_config.py`` (in process, every top-level key) and
``test_workflow.py::test_bad_config_fails_before_any_job`` (the command line).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import resource
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest
import yaml
import zarr
from support import TINY

from dsrbench import layout, stores
from dsrbench.atomic import leftovers
from dsrbench.faults import FAIL_ENV
from dsrbench.faults import PAUSE_BEFORE_RENAME_ENV as PAUSE_ENV

REPO = Path(__file__).resolve().parents[2]
SNAKEMAKE = Path(sys.executable).parent / "snakemake"
RESULTS = "results"  # relative to the working directory: a copied run is self-contained
FULL, FAST = "config.yaml", "fast.yaml"  # with and without the report pages
CONFIG = {
    "systems": ["Lorenz", "Chen"],  # one chunk, Chen first
    "results_dir": RESULTS,
    "datasets": TINY,
    "training": {"device": "cpu"},
    "evaluation": {
        "methods": ["truth", "var"],
        "context_length": 20,
        "horizon": 40,
        "contexts_per_trajectory": 2,
        "long_run_length": 500,
        "model_lyapunov": False,
        "dask": {"n_workers": 1},  # one worker starts faster than two on 2 cores
    },
    "reports": {"bootstrap_samples": 100},
}
KEYS = ["system", "dataset", "method", "seed", "metric", "horizon"]
TEMPORARY = re.compile(r"\.(tmp|old)-[0-9a-f]{12}")


def snakemake(
    workdir: Path,
    *args: str,
    configfile: str = FAST,
    env: dict[str, str] | None = None,
    timeout: int = 600,
    preexec_fn: Callable[[], None] | None = None,
) -> subprocess.CompletedProcess:
    """The repository's workflow in ``workdir`` with its ``configfile``."""
    cmd = [str(SNAKEMAKE), *args, "--snakefile", str(REPO / "Snakefile")]
    cmd += ["--directory", str(workdir), "--configfile", str(workdir / configfile)]
    return subprocess.run(
        cmd,
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=workdir,
        env={**os.environ, "OMP_NUM_THREADS": "1", **(env or {})},
        preexec_fn=preexec_fn,
    )


def ok(res: subprocess.CompletedProcess) -> subprocess.CompletedProcess:
    assert res.returncode == 0, res.stderr[-6000:]
    return res


def metrics(workdir: Path) -> pd.DataFrame:
    table = pd.read_parquet(layout.merged_metrics(workdir / RESULTS))
    return table.sort_values(KEYS, na_position="first").reset_index(drop=True)


def temporaries(workdir: Path) -> list[Path]:
    """Temporary siblings (partial writes) anywhere under the results."""
    return sorted(p for p in (workdir / RESULTS).rglob("*") if TEMPORARY.search(p.name))


def _build_reference(workdir: Path) -> None:
    (workdir / FULL).write_text(yaml.safe_dump(CONFIG))
    fast = {**CONFIG, "reports": {**CONFIG["reports"], "enabled": False}}
    (workdir / FAST).write_text(yaml.safe_dump(fast))
    ok(snakemake(workdir, "--cores", "2", configfile=FULL))


def _shared(tmp_path_factory: pytest.TempPathFactory, name: str, build) -> Path:
    """A working directory built once per test session (under xdist: once per machine;
    the other workers wait on a file lock and reuse it)."""
    base = tmp_path_factory.getbasetemp()
    root = base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base
    workdir, done = root / name, root / f"{name}.done"
    with open(root / f"{name}.lock", "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            if not done.exists():
                shutil.rmtree(workdir, ignore_errors=True)
                workdir.mkdir()
                build(workdir)
                done.write_text("built\n")
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)
    return workdir


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The working directory of the uninterrupted run (reports on); copy it, never change it."""
    return _shared(tmp_path_factory, "faults-reference", _build_reference)


def copy_of(reference: Path, dest: Path, *delete: str) -> Path:
    """A copy of the reference working directory (Snakemake's metadata included, times
    kept) without the outputs ``delete`` (paths under the results)."""
    shutil.copytree(reference, dest, symlinks=True)
    for rel in delete:
        path = dest / RESULTS / rel
        if path.is_dir():
            shutil.rmtree(path)
        else:
            path.unlink()
    return dest


# --------------------------------------------------------------------------- SIGKILL


def start_paused(
    workdir: Path, target: Path, log: Path, configfile: str = FAST, timeout: float = 300
) -> subprocess.Popen:
    """Start snakemake in a new process group; return it once the job writing ``target``
    has written it under its temporary name and waits before the rename (its ``log``
    says so)."""
    cmd = [str(SNAKEMAKE), "--snakefile", str(REPO / "Snakefile"), "--directory", str(workdir)]
    cmd += ["--cores", "2", "--configfile", str(workdir / configfile)]
    out = open(workdir / "paused-run.out", "w")  # noqa: SIM115 - closed with the run
    proc = subprocess.Popen(
        cmd,
        cwd=workdir,
        env={**os.environ, "OMP_NUM_THREADS": "1", PAUSE_ENV: f"*{target}=600"},
        start_new_session=True,
        stdout=out,
        stderr=subprocess.STDOUT,
    )
    proc.out = out  # type: ignore[attr-defined]
    deadline = time.monotonic() + timeout
    while not (log.is_file() and "dsrbench: pausing" in log.read_text(errors="replace")):
        if proc.poll() is not None or time.monotonic() > deadline:
            kill_group(proc)
            text = (workdir / "paused-run.out").read_text()[-5000:]
            raise AssertionError(f"the run did not pause before renaming {target}:\n{text}")
        time.sleep(0.2)
    return proc


def kill_group(proc: subprocess.Popen) -> None:
    """SIGKILL the run's whole process group (Snakemake, the job's shell, its Python and
    any Dask workers) and wait until none of them is left."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    proc.out.close()  # type: ignore[attr-defined]
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            os.killpg(proc.pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.1)
    raise AssertionError(f"processes of the killed group {proc.pid} are still running")


R = layout  # the paths below are layout's, relative to the working directory
#: rule -> (outputs deleted from the reference copy: the state of a first run right before
#: the rule's job started (None: a fresh working directory), the output whose rename the
#: job is killed before, the job's log, a per-system record the job finished before the
#: kill and the rerun keeps (its log line), the config)
KILLS = {
    "simulate": (
        None,
        R.dataset_store(RESULTS, "tiny", "Lorenz"),
        R.simulate_chunk_log(RESULTS, "tiny", "c000"),
        "simulate Chen / tiny: finished before with the same inputs",
        FAST,
    ),
    "true_runs": (
        None,
        R.true_runs(RESULTS, "tiny", "Lorenz"),
        R.true_runs_chunk_log(RESULTS, "tiny", "c000"),
        "true runs Chen / tiny: finished before with the same inputs",
        FAST,
    ),
    "dataset_summary": (
        ["dataset_summary.csv"],
        R.dataset_summary(RESULTS),
        R.summary_log(RESULTS),
        None,
        FAST,
    ),
    "predict": (
        ["predictions/tiny/var", "metrics", "metrics.parquet", "reports"],
        R.prediction_store(RESULTS, "tiny", "var", "Lorenz", 0),
        R.predict_chunk_log(RESULTS, "tiny", "var", "c000"),
        "predict Chen / tiny / var / 0: finished before with the same inputs",
        FAST,
    ),
    "evaluate": (
        ["metrics", "metrics.parquet", "reports"],
        R.metrics_table(RESULTS, "tiny"),
        R.evaluate_log(RESULTS, "tiny"),
        None,
        FAST,
    ),
    "metrics": (
        ["metrics.parquet", "reports"],
        R.merged_metrics(RESULTS),
        R.merged_metrics_log(RESULTS),
        None,
        FAST,
    ),
    "report_page": (
        [
            "reports/systems/Lorenz.html",
            "reports/systems/Lorenz.ipynb",
            "reports/figures/systems/Lorenz",
            "reports/index.html",
        ],
        R.report_page(RESULTS, "systems/Lorenz"),
        R.report_log(RESULTS, "systems/Lorenz"),
        None,
        FULL,
    ),
    "report_index": (
        ["reports/index.html"],
        R.report_index(RESULTS),
        R.report_index_log(RESULTS),
        None,
        FULL,
    ),
}


def test_the_kill_cases_cover_every_rule():
    """Every rule of workflow/rules is killed here, but train (test_workflow.py) and the
    target rule `all` (no job)."""
    rules = {
        m[1]
        for f in (REPO / "workflow" / "rules").glob("*.smk")
        for m in re.finditer(r"^rule (\w+):", f.read_text(), re.MULTILINE)
    }
    assert rules == set(KILLS) | {"train"}


@pytest.mark.parametrize("rule", list(KILLS))
def test_a_job_killed_mid_write_leaves_nothing_complete_and_the_rerun_equals_the_reference(
    reference, tmp_path, rule
):
    delete, target, log, kept, configfile = KILLS[rule]
    if delete is None:
        work = tmp_path / "run"
        work.mkdir()
        shutil.copy(reference / FAST, work / FAST)
    else:
        work = copy_of(reference, tmp_path / "run", *delete)
    kill_group(start_paused(work, target, work / log, configfile))

    # the output the job was writing is not there under its name; its temporary is
    assert not (work / target).exists()
    assert leftovers(work / target), "the killed write left no temporary sibling"
    assert ok(snakemake(work, "--unlock", configfile=configfile))
    res = ok(snakemake(work, "--cores", "2", "--rerun-incomplete", configfile=configfile))
    assert f"localrule {rule}:" in res.stdout + res.stderr  # the killed job ran again
    pd.testing.assert_frame_equal(metrics(work), metrics(reference))
    assert (work / target).exists() and temporaries(work) == []
    if kept:  # the system finished before the kill was kept, not redone
        assert kept in (work / log).read_text()
    if configfile == FULL:
        index = (work / R.report_index(RESULTS)).read_text()
        assert "systems/Lorenz.html" in index
        assert (work / R.report_notebook(RESULTS, "systems/Lorenz")).is_file()


# --------------------------------------------------------------------------- stores


FORCERUN = re.compile(r"`--forcerun (\S+)`")


def failed_logs(res: subprocess.CompletedProcess, workdir: Path) -> str:
    """The logs of the jobs Snakemake reports as failed, concatenated."""
    out = res.stdout + res.stderr
    assert "Error in rule" in out, out[-4000:]
    logs = re.findall(r"log: (\S+) \(check log file", out)
    assert logs, out[-4000:]
    return "\n".join((workdir / p).read_text() for p in logs)


def test_a_corrupted_dataset_chunk_stops_the_next_job_and_the_named_command_regenerates_it(
    reference, tmp_path
):
    """Bytes overwritten in a chunk of Lorenz's dataset store between simulate and the jobs
    that read it: their checksum fails, the job stops naming the store and the command;
    that command rebuilds only Lorenz's store and the run ends as the reference did."""
    work = copy_of(reference, tmp_path / "run", "models", "predictions", "metrics")
    (work / RESULTS / "metrics.parquet").unlink()
    store = work / R.dataset_store(RESULTS, "tiny", "Lorenz")
    chunk = store / "x" / "c" / "0" / "0" / "0"
    data = bytearray(chunk.read_bytes())
    data[len(data) // 2 : len(data) // 2 + 8] = bytes(8)
    chunk.write_bytes(bytes(data))

    res = snakemake(work, "--cores", "2")
    assert res.returncode == 1 and "non-zero exit status 2" in res.stdout + res.stderr
    logs = failed_logs(res, work)
    assert f"error: {R.dataset_store(RESULTS, 'tiny', 'Lorenz')} could not be loaded" in logs
    assert "Stored and computed checksum do not match" in logs
    (command,) = set(FORCERUN.findall(logs))
    assert command == str(R.dataset_chunk(RESULTS, "tiny", "c000"))
    assert not (work / R.model_chunk(RESULTS, "tiny", "var", "c000")).exists()
    for method in ("truth", "var"):  # no record of Lorenz: nothing to keep by mistake
        assert not (work / R.prediction_record(RESULTS, "tiny", method, "Lorenz", 0)).exists()
    assert not (work / R.model_record(RESULTS, "tiny", "var", "Lorenz", 0)).exists()

    chen = (work / R.dataset_record(RESULTS, "tiny", "Chen")).stat().st_mtime_ns
    ok(snakemake(work, "--cores", "2", "--forcerun", command))
    pd.testing.assert_frame_equal(metrics(work), metrics(reference))
    assert (work / R.dataset_record(RESULTS, "tiny", "Chen")).stat().st_mtime_ns == chen
    sim_log = (work / R.simulate_chunk_log(RESULTS, "tiny", "c000")).read_text()
    assert "its output is not sound, redoing it" in sim_log


def test_a_deleted_store_file_goes_unnoticed_until_read_then_the_named_command_regenerates_it(
    reference, tmp_path
):
    """The zarr.json of the forecast array of Chen's var prediction deleted after a finished
    run: Snakemake sees every output present (nothing to do); the evaluation that reads it
    stops naming the store and the command, which redoes that prediction only."""
    work = copy_of(reference, tmp_path / "run")
    store = work / R.prediction_store(RESULTS, "tiny", "var", "Chen", 0)
    (store / "forecast" / "zarr.json").unlink()
    assert "Nothing to be done" in ok(snakemake(work, "-n")).stdout

    # the evaluation runs again (as after a change of the evaluation settings)
    shutil.rmtree(work / RESULTS / "metrics")
    (work / RESULTS / "metrics.parquet").unlink()
    res = snakemake(work, "--cores", "2")
    assert res.returncode != 0
    logs = failed_logs(res, work)
    rel_store = R.prediction_store(RESULTS, "tiny", "var", "Chen", 0)
    assert f"{rel_store} does not follow the prediction schema: missing variable 'forecast'" in (
        logs
    )
    (command,) = set(FORCERUN.findall(logs))
    assert command == str(R.prediction_chunk(RESULTS, "tiny", "var", "c000"))

    lorenz = (work / R.prediction_record(RESULTS, "tiny", "var", "Lorenz", 0)).stat()
    ok(snakemake(work, "--cores", "2", "--forcerun", command))
    pd.testing.assert_frame_equal(metrics(work), metrics(reference))
    assert (store / "forecast" / "zarr.json").is_file()
    again = (work / R.prediction_record(RESULTS, "tiny", "var", "Lorenz", 0)).stat()
    assert again.st_mtime_ns == lorenz.st_mtime_ns  # the sound prediction was kept


def test_nan_in_a_dataset_store_fails_that_system_with_the_reason_and_the_others_complete(
    reference, tmp_path
):
    """A NaN written into Lorenz's (otherwise sound) dataset store before training: every
    job on Lorenz records it as failed with the reason, Chen's results equal the reference's
    and the run ends normally."""
    work = copy_of(reference, tmp_path / "run", "models", "predictions", "metrics")
    (work / RESULTS / "metrics.parquet").unlink()
    store = work / R.dataset_store(RESULTS, "tiny", "Lorenz")
    zarr.open_array(store / "x", mode="r+")[0, 3, 1] = float("nan")

    ok(snakemake(work, "--cores", "2"))
    reason = f"{R.dataset_store(RESULTS, 'tiny', 'Lorenz')} holds invalid data: variable 'x' "
    reason += "holds non-finite values"
    model = json.loads((work / R.model_record(RESULTS, "tiny", "var", "Lorenz", 0)).read_text())
    assert model["status"] == "failed" and reason in model["reason"]
    for method in ("truth", "var"):
        pred = work / R.prediction_record(RESULTS, "tiny", method, "Lorenz", 0)
        assert json.loads(pred.read_text())["status"] == "failed"
    table, ref = metrics(work), metrics(reference)
    lorenz = table[table.system == "Lorenz"]
    assert set(lorenz.method) == {"truth", "var"} and set(lorenz.status) == {"failed"}
    assert lorenz.reason.str.contains("non-finite values").all(), lorenz.reason.tolist()
    pd.testing.assert_frame_equal(
        table[table.system == "Chen"].reset_index(drop=True),
        ref[ref.system == "Chen"].reset_index(drop=True),
    )


# --------------------------------------------------------------------------- the machine


def _mount_tmpfs(path: Path, size: str) -> bool:
    """Mount a tmpfs of ``size`` at ``path`` (root with CAP_SYS_ADMIN); False if refused."""
    if os.geteuid() != 0 or shutil.which("mount") is None:
        return False
    res = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)],
        capture_output=True,
        text=True,
    )
    return res.returncode == 0


def _pages(path: Path) -> int:
    """4 KiB pages the files under ``path`` (or the file) take on a tmpfs."""
    files = [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file()]
    return sum(-(-p.stat().st_size // 4096) for p in files)


def test_a_full_disk_stops_the_job_clearly_keeps_nothing_partial_and_the_rerun_finishes(
    reference, tmp_path
):
    """The results, as before the var predictions, on a tmpfs with room for Chen's
    prediction and half of Lorenz's (where mounting is refused: an 8 KiB file size limit,
    RLIMIT_FSIZE, on the snakemake process, which the first prediction store exceeds):
    the predict job stops with the message, nothing partial is left, and once the space is
    there a rerun keeps what was finished and ends as the reference did."""
    work = copy_of(
        reference, tmp_path / "run", "predictions/tiny/var", "metrics", "metrics.parquet"
    )
    results = work / RESULTS
    copied = results.rename(work / "results.copy")
    results.mkdir()
    mounted = _mount_tmpfs(results, "64m")
    try:
        shutil.copytree(copied, results, symlinks=True, dirs_exist_ok=True)  # times kept
        shutil.rmtree(copied)
        if mounted:  # room for Chen's prediction, its logs and half of Lorenz's
            ref = reference / RESULTS
            need = {
                s: _pages(ref / R.prediction_store("", "tiny", "var", s, 0))
                + _pages(ref / R.prediction_record("", "tiny", "var", s, 0))
                for s in ("Chen", "Lorenz")
            }
            st = os.statvfs(results)
            used = (st.f_blocks - st.f_bfree) * st.f_frsize // 4096
            size = 4096 * (used + need["Chen"] + 4 + need["Lorenz"] // 2)
            subprocess.run(["mount", "-o", f"remount,size={size}", str(results)], check=True)

        def cap() -> None:
            resource.setrlimit(resource.RLIMIT_FSIZE, (8192, 8192))

        res = snakemake(work, "--cores", "1", preexec_fn=None if mounted else cap)
        assert res.returncode == 1 and "non-zero exit status 3" in res.stdout + res.stderr
        logs = failed_logs(res, work)
        why = "No space left on device" if mounted else "File too large"
        said = rf"dsrbench predict-chunk: error: {why} writing (under )?{RESULTS}\S* \[errno"
        assert re.search(said, logs), logs[-3000:]
        assert "Free space there (or lift the limit), then run snakemake again" in logs
        # nothing partial is there under an output's name, nor left behind
        assert not (work / R.prediction_chunk(RESULTS, "tiny", "var", "c000")).exists()
        assert temporaries(work) == []
        for system in ("Chen", "Lorenz"):
            record = work / R.prediction_record(RESULTS, "tiny", "var", system, 0)
            store = work / R.prediction_store(RESULTS, "tiny", "var", system, 0)
            assert record.exists() == store.exists() == (mounted and system == "Chen")
            if store.exists():
                stores.open_predictions(store)  # complete
        if mounted:  # the space is freed
            subprocess.run(["mount", "-o", "remount,size=64m", str(results)], check=True)
        ok(snakemake(work, "--cores", "2", "--rerun-incomplete"))
        pd.testing.assert_frame_equal(metrics(work), metrics(reference))
        if mounted:  # the prediction finished before the full disk was kept
            log = (work / R.predict_chunk_log(RESULTS, "tiny", "var", "c000")).read_text()
            assert "predict Chen / tiny / var / 0: finished before with the same inputs" in log
    finally:
        if mounted:
            subprocess.run(["umount", "--lazy", str(results)], check=False)


def test_a_second_run_on_the_same_results_is_refused_and_unlock_frees_a_killed_ones_lock(
    reference, tmp_path
):
    """While a run holds the working directory, a second one is refused with Snakemake's
    lock message, and one from another working directory on the same results_dir with
    dsrbench's (neither changes anything); after the first is killed, Snakemake's message
    stays until `snakemake --unlock` with the same config (the README's command), then a
    rerun ends as the reference did."""
    work = copy_of(reference, tmp_path / "run", "metrics.parquet", "reports")
    target = R.merged_metrics(RESULTS)
    first = start_paused(work, target, work / R.merged_metrics_log(RESULTS))
    try:
        second = snakemake(work, "--cores", "2")
        assert second.returncode == 1
        for text in ("Directory cannot be locked", "--unlock"):
            assert text in second.stdout + second.stderr
        other = tmp_path / "other"
        other.mkdir()
        cfg = {**yaml.safe_load((work / FAST).read_text()), "results_dir": str(work / RESULTS)}
        (other / FAST).write_text(yaml.safe_dump(cfg))
        third = snakemake(other, "--cores", "2")
        assert third.returncode == 1
        assert f"results_dir {work / RESULTS} is in use by another snakemake run (pid " in (
            third.stdout + third.stderr
        )
        assert first.poll() is None and not (work / target).exists()
    finally:
        kill_group(first)
    stale = snakemake(work, "--cores", "2", "--rerun-incomplete")
    assert stale.returncode != 0 and "Directory cannot be locked" in stale.stdout + stale.stderr
    ok(snakemake(work, "--unlock"))
    ok(snakemake(work, "--cores", "2", "--rerun-incomplete"))
    pd.testing.assert_frame_equal(metrics(work), metrics(reference))


# --------------------------------------------------------------------------- training


ALRNN = {"epochs": 4, "batches_per_epoch": 2, "batch_size": 8, "seq_len": 10}
ALRNN |= {"latent_dim": 6, "validate_every": 2, "code_steps": 200}


def _build_faulty_training(reference: Path) -> Callable[[Path], None]:
    """The reference plus the AL-RNN, whose Chen model raises at the end of its epoch 2
    (:data:`dsrbench.faults.FAIL_ENV`) and whose Lorenz model, with a learning rate
    of 1e3 (its own group), diverges."""

    def build(workdir: Path) -> None:
        shutil.rmtree(workdir)
        copy_of(reference, workdir)
        cfg = yaml.safe_load((workdir / FAST).read_text())
        cfg["evaluation"]["methods"].append("alrnn")
        lorenz = {"lr_start": 1e3, "lr_end": 1e2}
        cfg["evaluation"]["hyperparameters"] = {"alrnn": {**ALRNN, "by_system": {"Lorenz": lorenz}}}
        (workdir / FAST).write_text(yaml.safe_dump(cfg))
        res = snakemake(workdir, "--cores", "2", env={FAIL_ENV: "Chen/seed0@2"})
        (workdir / "run.out").write_text(res.stdout + res.stderr)
        (workdir / "run.rc").write_text(str(res.returncode))

    return build


@pytest.fixture(scope="module")
def faulty_training(reference, tmp_path_factory) -> Path:
    return _shared(tmp_path_factory, "faults-training", _build_faulty_training(reference))


def test_a_method_that_raises_mid_training_is_recorded_and_the_run_goes_on(
    faulty_training, reference
):
    work = faulty_training
    assert (work / "run.rc").read_text() == "0", (work / "run.out").read_text()[-5000:]
    rec = json.loads((work / R.model_record(RESULTS, "tiny", "alrnn", "Chen", 0)).read_text())
    assert rec["status"] == "failed"
    assert rec["reason"] == (
        "RuntimeError: injected failure of Chen/seed0 at the end of epoch 2 "
        f"({FAIL_ENV}=Chen/seed0@2)"
    )
    log = (work / R.train_log(RESULTS, "tiny", "alrnn", "Chen", 0)).read_text()
    assert "training Chen raised:" in log and "Traceback" in log
    epochs = (work / R.epoch_log(RESULTS, "tiny", "alrnn", "Chen", 0)).read_text().splitlines()
    assert len(epochs) == 1 + 2  # the header, then epochs 1 and 2: it failed mid-training
    pred = json.loads((work / R.prediction_record(RESULTS, "tiny", "alrnn", "Chen", 0)).read_text())
    assert pred["status"] == "failed" and pred["reason"].startswith("training failed: Runtime")
    table = metrics(work)
    chen = table[(table.method == "alrnn") & (table.system == "Chen")]
    assert list(chen.status) == ["failed"] and "injected failure" in chen.reason.iloc[0]
    # the other methods' results are the reference's
    ref = metrics(reference)
    pd.testing.assert_frame_equal(
        table[table.method != "alrnn"].reset_index(drop=True), ref.reset_index(drop=True)
    )


def test_a_diverging_model_is_recorded_and_the_run_goes_on(faulty_training):
    work = faulty_training
    assert (work / "run.rc").read_text() == "0", (work / "run.out").read_text()[-5000:]
    rec = json.loads((work / R.model_record(RESULTS, "tiny", "alrnn", "Lorenz", 0)).read_text())
    assert rec["status"] == "ok" and rec["stopped_by"] == "diverged"
    assert rec["epochs_run"] < ALRNN["epochs"]
    training = json.loads((Path(work / rec["model_path"]) / "training.json").read_text())
    assert training["stopped_by"] == "diverged"
    pred = work / R.prediction_record(RESULTS, "tiny", "alrnn", "Lorenz", 0)
    assert json.loads(pred.read_text())["status"] == "ok"
    table = metrics(work)
    lorenz = table[(table.method == "alrnn") & (table.system == "Lorenz")]
    assert len(lorenz) > 10 and set(lorenz.status) <= {"ok", "diverged", "error"}
