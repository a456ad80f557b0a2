# Prediction and evaluation rules. Uses CFG, RESULTS, DSRBENCH and EVAL_* from the Snakefile.
import json


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
                    w.method: CFG["evaluation"]["hyperparameters"].get(w.method, {})
                }
                if w.method != "truth"
                else {},
            },
        },
        sort_keys=True,
    )


rule predict:
    """Fit one method on one dataset and predict: forecasts from test contexts and a long
    free run. A failing method is recorded in the record (status "failed"), not raised."""
    input:
        dataset=f"{RESULTS}/data/{{dataset}}/{{system}}.json",
    output:
        record=f"{RESULTS}/predictions/{{dataset}}/{{method}}/{{system}}/seed{{seed}}.json",
    log:
        f"{RESULTS}/logs/predict/{{dataset}}/{{method}}/{{system}}/seed{{seed}}.log",
    params:
        config=_eval_config,
        store=lambda w: f"{RESULTS}/predictions/{w.dataset}/{w.method}/{w.system}/seed{w.seed}.zarr",
    threads: 1
    resources:
        mem_mb=4000,
        runtime=120,
        gpu=0,
    shell:
        "{DSRBENCH} predict --config-json {params.config:q} --dataset-record {input.dataset:q}"
        " --method {wildcards.method} --seed {wildcards.seed} --out {params.store:q}"
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
