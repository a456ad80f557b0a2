# Training, prediction and evaluation rules. Uses CFG, RESULTS, DSRBENCH and EVAL_* from
# the Snakefile.
import json

from dsrbench import methods as _methods
from dsrbench.config import method_hyperparameters


def _train_config(w):
    """The part of the config a trained model depends on (retrains only when it changes).
    The evaluation's context and horizon are left out (a model does not depend on them);
    minimal values keep the config valid for any trajectory length."""
    return json.dumps(
        {
            "systems": [w.system],
            "seed": CFG["seed"],
            "integration": CFG["integration"],
            "datasets": {w.dataset: CFG["datasets"][w.dataset]},
            "training": CFG["training"],
            "evaluation": {
                "methods": [w.method],
                "context_length": 1,
                "horizon": 2,
                "hyperparameters": {
                    w.method: method_hyperparameters(CFG, w.method, w.system)
                },
            },
        },
        sort_keys=True,
    )


def _uses_gpu(w):
    """1 for torch methods unless the config pins the CPU (cluster profiles place them)."""
    if CFG["training"]["device"] == "cpu" or w.method == "truth":
        return 0
    return int(getattr(_methods.get(w.method), "uses_torch", False))


def _eval_config(w):
    """The part of the config a prediction depends on (reruns only when it changes)."""
    return json.dumps(
        {
            "systems": [w.system],
            "seed": CFG["seed"],
            "integration": CFG["integration"],
            "datasets": {w.dataset: CFG["datasets"][w.dataset]},
            "evaluation": {
                **{k: v for k, v in CFG["evaluation"].items() if k not in ("dask", "datasets")},
                "methods": [w.method],
                "hyperparameters": {
                    w.method: method_hyperparameters(CFG, w.method, w.system)
                }
                if w.method != "truth"
                else {},
            },
            # predictions depend on the device only (budgets and lengths act through the model)
            "training": {"device": CFG["training"]["device"]},
        },
        sort_keys=True,
    )


rule train:
    """Fit one method on one dataset setting of one system with one seed. Checkpoints let a
    killed job resume when rerun; the per-epoch log goes under logs/train. A failing method
    is recorded in the record (status "failed"), not raised."""
    input:
        dataset=f"{RESULTS}/data/{{dataset}}/{{system}}.json",
    output:
        record=f"{RESULTS}/models/{{dataset}}/{{method}}/{{system}}/seed{{seed}}.json",
    log:
        f"{RESULTS}/logs/train/{{dataset}}/{{method}}/{{system}}/seed{{seed}}.log",
    params:
        config=_train_config,
        model=lambda w: f"{RESULTS}/models/{w.dataset}/{w.method}/{w.system}/seed{w.seed}",
        checkpoints=lambda w: (
            f"{RESULTS}/checkpoints/{w.dataset}/{w.method}/{w.system}/seed{w.seed}"
        ),
        epoch_log=lambda w: (
            f"{RESULTS}/logs/train/{w.dataset}/{w.method}/{w.system}/seed{w.seed}.epochs.csv"
        ),
    threads: CFG["training"]["threads"]
    resources:
        mem_mb=CFG["training"]["mem_mb"],
        runtime=CFG["training"]["runtime_minutes"],
        gpu=_uses_gpu,
    shell:
        "{DSRBENCH} train --config-json {params.config:q} --dataset-record {input.dataset:q}"
        " --method {wildcards.method} --seed {wildcards.seed} --out {params.model:q}"
        " --record {output.record:q} --checkpoint-dir {params.checkpoints:q}"
        " --epoch-log {params.epoch_log:q} > {log:q} 2>&1"


def _model_record(w):
    if w.method == "truth":
        return []
    return [f"{RESULTS}/models/{w.dataset}/{w.method}/{w.system}/seed{w.seed}.json"]


rule predict:
    """Predict with one trained method on one dataset: forecasts from test contexts and a
    long free run (and the model's Lyapunov exponent when it has a Jacobian). A failing
    method is recorded in the record (status "failed"), not raised."""
    input:
        dataset=f"{RESULTS}/data/{{dataset}}/{{system}}.json",
        model=_model_record,
    output:
        record=f"{RESULTS}/predictions/{{dataset}}/{{method}}/{{system}}/seed{{seed}}.json",
    log:
        f"{RESULTS}/logs/predict/{{dataset}}/{{method}}/{{system}}/seed{{seed}}.log",
    params:
        config=_eval_config,
        store=lambda w: f"{RESULTS}/predictions/{w.dataset}/{w.method}/{w.system}/seed{w.seed}.zarr",
        model_arg=lambda w, input: (
            f"--model-record {shlex.quote(input.model[0])}" if input.model else ""
        ),
    threads: 1
    resources:
        mem_mb=4000,
        runtime=120,
        gpu=_uses_gpu,
    shell:
        "{DSRBENCH} predict --config-json {params.config:q} --dataset-record {input.dataset:q}"
        " {params.model_arg} --method {wildcards.method} --seed {wildcards.seed}"
        " --out {params.store:q}"
        " --record {output.record:q} > {log:q} 2>&1"


rule evaluate:
    """Every metric of every prediction of one dataset setting, plus its truth floors,
    computed on a Dask cluster (a LocalCluster of the rule's threads, or a scheduler)."""
    input:
        lambda w: [
            f"{RESULTS}/predictions/{w.dataset}/{m}/{s}/seed{seed}.json"
            for m in CFG["evaluation"]["methods"]
            for s in SYSTEMS
            for seed in CFG["evaluation"]["seeds"]
        ],
    output:
        f"{RESULTS}/metrics/{{dataset}}.parquet",
    log:
        f"{RESULTS}/logs/evaluate/{{dataset}}.log",
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
        [f"{RESULTS}/metrics/{d}.parquet" for d in EVAL_DATASETS],
    output:
        f"{RESULTS}/metrics.parquet",
    log:
        f"{RESULTS}/logs/metrics.log",
    shell:
        "{DSRBENCH} merge {input:q} --out {output:q} > {log:q} 2>&1"
