"""dsrbench workflow: simulate the dysts systems into zarr datasets, train each configured
method on each dataset, predict (forecasts from test contexts, long free runs) and evaluate
(forecast metrics and attractor statistics against truth floors, on Dask).

The simulate, train and predict jobs each run over a chunk of systems (config key
chunking.systems_per_job; dsrbench.pipeline.plan.system_chunks), every seed in one job; each
system keeps its own records, and a rerun of a killed chunk job redoes only the systems it
had not finished (dsrbench.pipeline).

    snakemake --cores all                                   # default config.yaml
    snakemake --cores all --configfile configs/full.yaml    # all 135 systems
    snakemake --profile profiles/slurm --configfile configs/full.yaml

The configuration is validated (dsrbench.pipeline.config.load_config) before any job is planned;
an invalid one stops here with a message naming the key and the fix. The validated config,
every default filled, is written once as the run's resolved config (dsrbench.pipeline.plan); each
job gets its wildcards, that file and the hash of its slices, and cuts its slices itself.
"""

import fcntl
import os
import shlex
import socket
import sys
from types import SimpleNamespace

from snakemake.exceptions import WorkflowError

from dsrbench import layout
from dsrbench.cluster import slurm_gpu_problem
from dsrbench.pipeline.config import ConfigError, load_config
from dsrbench.pipeline.plan import (
    chunk_slices,
    evaluation_datasets,
    expand as expand_jobs,
    is_trained,
    method_chunks,
    slice_hash,
    system_chunks,
    write_resolved_config,
)

# The default config applies only when no --configfile is given; Snakemake would otherwise
# merge config.yaml's dataset settings into those of the --configfile.
if not workflow.overwrite_configfiles:
    configfile: os.path.join(workflow.basedir, "config.yaml")

try:
    CFG = load_config(dict(config))
except ConfigError as _exc:
    _sources = [str(p) for p in workflow.overwrite_configfiles] or ["config.yaml"]
    raise WorkflowError(
        f"{_exc}\n(configuration read from {', '.join(_sources)} and --config overrides; "
        "the keys are documented in workflow/schemas/config.schema.yaml)"
    ) from None

RESULTS = os.path.normpath(CFG["results_dir"])
# written in onstart, under the results directory's lock, before the first job
RESOLVED = str(layout.resolved_config(RESULTS))
JOBS = expand_jobs(CFG)
SYSTEMS = sorted({s for s, _ in JOBS})
DATASETS = list(CFG["datasets"])
# chunk id -> its systems (consecutive runs of the sorted systems)
CHUNKS = system_chunks(CFG)
CHUNK_OF = {s: c for c, members in CHUNKS.items() for s in members}
# method -> its chunks, each cut to the method's systems (evaluation.systems_by_method)
METHOD_CHUNKS = {m: method_chunks(CFG, m) for m in CFG["evaluation"]["methods"]}
SEEDS = list(CFG["evaluation"]["seeds"])
EVAL_DATASETS = evaluation_datasets(CFG)

# Every path comes from dsrbench.layout; W holds the wildcards (the patterns of the rules,
# e.g. layout.dataset_record(RESULTS, W.dataset, W.system)).
W = SimpleNamespace(
    **{k: f"{{{k}}}" for k in ("dataset", "system", "method", "seed", "page", "chunk")}
)

# The CLI of the Python running Snakemake: works without an activated virtual environment.
DSRBENCH = f"{shlex.quote(sys.executable)} -m dsrbench.cli"

wildcard_constraints:
    system="[A-Za-z0-9]+",
    dataset="[A-Za-z0-9_]+",
    method="[a-z0-9_]+",
    seed="[0-9]+",
    chunk="c[0-9]+",


rule all:
    input:
        layout.dataset_summary(RESULTS),
        [layout.merged_metrics(RESULTS)] if EVAL_DATASETS else [],
        (
            [layout.report_index(RESULTS)]
            if EVAL_DATASETS and CFG["reports"]["enabled"]
            else []
        ),


# seconds each: where Snakemake runs, not submitted to a cluster
localrules:
    dataset_summary,
    metrics,


# One run at a time on a results directory. Snakemake's own lock covers runs from the same
# working directory (the second is refused: "Directory cannot be locked"); this one covers
# runs from different working directories that share results_dir. It is a flock on
# results_dir/.dsrbench-run.lock, held by this snakemake process until it exits, so a
# killed run leaves nothing to unlock.
_RESULTS_LOCK = []


def hold_results_lock():
    path = os.path.join(RESULTS, ".dsrbench-run.lock")
    os.makedirs(RESULTS, exist_ok=True)
    fh = open(path, "a+")
    try:
        fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        fh.seek(0)
        holder = fh.read().strip() or "another process"
        fh.close()
        raise WorkflowError(
            f"results_dir {RESULTS} is in use by another snakemake run ({holder}); "
            "wait for it to finish or stop it, then run again (two runs must not write "
            "one results directory)"
        ) from None
    fh.seek(0)
    fh.truncate()
    fh.write(f"pid {os.getpid()} on {socket.gethostname()}, working directory {os.getcwd()}\n")
    fh.flush()
    _RESULTS_LOCK.append(fh)  # kept open: the lock lasts as long as this process


include: "workflow/rules/simulate.smk"
include: "workflow/rules/evaluate.smk"
include: "workflow/rules/report.smk"


# Hooks run in the main snakemake process only (jobs spawned on a cluster get --no-hooks).
onstart:
    # Before the first job of a run on SLURM (--executor slurm): a job asking for a GPU in a
    # partition without one stops the run here with the fix (sbatch would refuse it with
    # "Requested node configuration is not available").
    if workflow.executor_plugin is not None and workflow.executor_plugin.name == "slurm":
        _gpu_requests = {}
        for _job in workflow.dag.needrun_jobs():
            if _job.resources.get("gpu", 0):
                _gpu_requests.setdefault(_job.resources.get("slurm_partition"), []).append(
                    f"{_job.rule.name} "
                    + "/".join(str(v) for v in _job.wildcards_dict.values())
                )
        _problem = slurm_gpu_problem(_gpu_requests)
        if _problem:
            raise WorkflowError(_problem)
    # then the results directory's lock (it creates results_dir: a refused run writes none)
    hold_results_lock()
    # and, under it, the resolved config the jobs cut their slices from
    write_resolved_config(CFG, RESOLVED)
