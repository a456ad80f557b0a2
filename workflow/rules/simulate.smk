# Simulation rules. Uses CFG, RESULTS, JOBS, W and DSRBENCH from the top-level Snakefile.
import json


rule simulate:
    """One (system, dataset setting) job. The record is the only declared output: the zarr
    store is written by build_dataset on success only, so a failed system does not fail
    the run (its record says status "failed" and why)."""
    output:
        record=layout.dataset_record(RESULTS, W.dataset, W.system),
    log:
        layout.simulate_log(RESULTS, W.dataset, W.system),
    params:
        # The job's own slice of the config: the job reruns only when its setting changes.
        job=lambda w: json.dumps(simulate_slice(CFG, w.system, w.dataset), sort_keys=True),
        store=lambda w: layout.dataset_store(RESULTS, w.dataset, w.system),
    threads: 1
    resources:
        mem_mb=4000,
        runtime=120,
    shell:
        "{DSRBENCH} simulate --job-json {params.job:q}"
        " --system {wildcards.system} --dataset {wildcards.dataset}"
        " --out {params.store:q} --record {output.record:q} > {log:q} 2>&1"


rule dataset_summary:
    """Aggregate every record into one CSV (one row per system and dataset setting)."""
    input:
        [layout.dataset_record(RESULTS, dataset, system) for system, dataset in JOBS],
    output:
        layout.dataset_summary(RESULTS),
    log:
        layout.summary_log(RESULTS),
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    shell:
        "{DSRBENCH} summary {input:q} --out {output:q} > {log:q} 2>&1"
