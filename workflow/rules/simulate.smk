# Simulation rules. Uses CFG, RESULTS, JOBS and DSRBENCH from the top-level Snakefile.
import json


rule simulate:
    """One (system, dataset setting) job. The record is the only declared output: the zarr
    store is written by build_dataset on success only, so a failed system does not fail
    the run (its record says status "failed" and why)."""
    output:
        record=f"{RESULTS}/data/{{dataset}}/{{system}}.json",
    log:
        f"{RESULTS}/logs/simulate/{{dataset}}/{{system}}.log",
    params:
        # The job's own slice of the config: the job reruns only when its setting changes.
        config=lambda w: json.dumps(job_config(CFG, w.system, w.dataset), sort_keys=True),
        store=lambda w: f"{RESULTS}/data/{w.dataset}/{w.system}.zarr",
    threads: 1
    resources:
        mem_mb=4000,
        runtime=120,
    shell:
        "{DSRBENCH} simulate --config-json {params.config:q}"
        " --system {wildcards.system} --dataset {wildcards.dataset}"
        " --out {params.store:q} --record {output.record:q} > {log:q} 2>&1"


rule dataset_summary:
    """Aggregate every record into one CSV (one row per system and dataset setting)."""
    input:
        [f"{RESULTS}/data/{dataset}/{system}.json" for system, dataset in JOBS],
    output:
        f"{RESULTS}/dataset_summary.csv",
    log:
        f"{RESULTS}/logs/dataset_summary.log",
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    shell:
        "{DSRBENCH} summary {input:q} --out {output:q} > {log:q} 2>&1"
