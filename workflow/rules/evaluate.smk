# Training, prediction and evaluation rules. Uses CFG, RESULTS, W, DSRBENCH, SYSTEMS and
# EVAL_DATASETS from the Snakefile; every job gets its own slice of the config
# (dsrbench.config.*_slice), so it reruns exactly when what it depends on changes.
import json

from dsrbench import methods as _methods


def _uses_gpu(w):
    """1 for torch methods unless the config pins the CPU (cluster profiles place them)."""
    if CFG["training"]["device"] == "cpu" or w.method == "truth":
        return 0
    return int(getattr(_methods.get(w.method), "uses_torch", False))


def _job(w):
    """(dataset, method, system, seed) of a per-model job: wildcards or their patterns."""
    return (w.dataset, w.method, w.system, w.seed)


rule train:
    """Fit one method on one dataset setting of one system with one seed (planned only for
    methods that need a fit: not truth, nor a method with needs_fit = False). Checkpoints
    let a killed job resume when rerun; the per-epoch log goes beside the job's log. A
    failing method is recorded in the record (status "failed"), not raised."""
    input:
        dataset=layout.dataset_record(RESULTS, W.dataset, W.system),
    output:
        record=layout.model_record(RESULTS, *_job(W)),
    log:
        layout.train_log(RESULTS, *_job(W)),
    params:
        job=lambda w: json.dumps(train_slice(CFG, w.method, w.system), sort_keys=True),
        model=lambda w: layout.model_dir(RESULTS, *_job(w)),
        checkpoints=lambda w: layout.checkpoint_dir(RESULTS, *_job(w)),
        epoch_log=lambda w: layout.epoch_log(RESULTS, *_job(w)),
    threads: CFG["training"]["threads"]
    resources:
        mem_mb=CFG["training"]["mem_mb"],
        runtime=CFG["training"]["runtime_minutes"],
        gpu=_uses_gpu,
    shell:
        "{DSRBENCH} train --job-json {params.job:q} --dataset-record {input.dataset:q}"
        " --method {wildcards.method} --seed {wildcards.seed} --out {params.model:q}"
        " --record {output.record:q} --checkpoint-dir {params.checkpoints:q}"
        " --epoch-log {params.epoch_log:q} --threads {threads} > {log:q} 2>&1"


def _model_record(w):
    """The training record a prediction reads; none for truth and untrained methods."""
    return [layout.model_record(RESULTS, *_job(w))] if is_trained(w.method) else []


rule predict:
    """Predict with one method on one dataset: forecasts from test contexts and a long free
    run (and the model's Lyapunov exponent when it has a Jacobian), with the trained model
    (a method that needs no fit is built untrained). A failing method is recorded in the
    record (status "failed"), not raised."""
    input:
        dataset=layout.dataset_record(RESULTS, W.dataset, W.system),
        model=_model_record,
    output:
        record=layout.prediction_record(RESULTS, *_job(W)),
    log:
        layout.predict_log(RESULTS, *_job(W)),
    params:
        job=lambda w: json.dumps(predict_slice(CFG, w.method, w.system), sort_keys=True),
        store=lambda w: layout.prediction_store(RESULTS, *_job(w)),
        model_arg=lambda w, input: (
            f"--model-record {shlex.quote(str(input.model[0]))}" if input.model else ""
        ),
    threads: 1
    resources:
        mem_mb=4000,
        runtime=120,
        gpu=_uses_gpu,
    shell:
        "{DSRBENCH} predict --job-json {params.job:q} --dataset-record {input.dataset:q}"
        " {params.model_arg} --method {wildcards.method} --seed {wildcards.seed}"
        " --out {params.store:q} --record {output.record:q} > {log:q} 2>&1"


def prediction_records(datasets, methods=None, systems=None):
    """The prediction records of these dataset settings, methods (default: the configured
    ones) and systems (default: all), for every configured seed."""
    return [
        layout.prediction_record(RESULTS, d, m, s, k)
        for d in datasets
        for m in (methods or CFG["evaluation"]["methods"])
        for s in (systems or SYSTEMS)
        for k in CFG["evaluation"]["seeds"]
    ]


rule evaluate:
    """Every metric of every prediction of one dataset setting, plus its truth floors,
    computed on a Dask cluster (a LocalCluster of the rule's threads, or a scheduler)."""
    input:
        lambda w: prediction_records([w.dataset]),
    output:
        layout.metrics_table(RESULTS, W.dataset),
    log:
        layout.evaluate_log(RESULTS, W.dataset),
    params:
        scheduler=(
            f"--scheduler-address {CFG['evaluation']['dask']['scheduler_address']}"
            if CFG["evaluation"]["dask"]["scheduler_address"]
            else ""
        ),
        workers=lambda w, threads: CFG["evaluation"]["dask"]["n_workers"] or threads,
    threads: workflow.cores
    resources:
        mem_mb=8000,
        runtime=240,
    shell:
        "{DSRBENCH} evaluate {input:q} --out {output:q} --workers {params.workers}"
        " {params.scheduler} > {log:q} 2>&1"


rule metrics:
    """All evaluated dataset settings in one tidy table."""
    input:
        [layout.metrics_table(RESULTS, d) for d in EVAL_DATASETS],
    output:
        layout.merged_metrics(RESULTS),
    log:
        layout.merged_metrics_log(RESULTS),
    shell:
        "{DSRBENCH} merge {input:q} --out {output:q} > {log:q} 2>&1"
