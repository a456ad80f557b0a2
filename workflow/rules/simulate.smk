# Simulation rules. Uses CFG, RESULTS, RESOLVED, CHUNKS, DATASETS, W and DSRBENCH from the
# top-level Snakefile.


rule simulate:
    """One (dataset setting, chunk of systems) job. Each system gets its own record and
    store (dsrbench.layout); the chunk record listing them is the only declared output,
    written last. The store is written by build_dataset on success only, so a failed
    system does not fail the run (its record says status "failed" and why), and a rerun
    keeps the systems finished before with the same inputs (their records' job_key)."""
    output:
        record=layout.dataset_chunk(RESULTS, W.dataset, W.chunk),
    log:
        layout.simulate_chunk_log(RESULTS, W.dataset, W.chunk),
    params:
        results=RESULTS,
        config=RESOLVED,
        # The hash of its systems' slices: the job reruns only when one of them changes.
        slices=lambda w: slice_hash(chunk_slices(CFG, "simulate", w.dataset, w.chunk)),
    threads: 1
    resources:
        mem_mb=4000,
        runtime=lambda w: 30 + 20 * len(CHUNKS[w.chunk]),
    shell:
        "{DSRBENCH} simulate-chunk --resolved-config {params.config:q}"
        " --slice-hash {params.slices} --dataset {wildcards.dataset} --chunk {wildcards.chunk}"
        " --results-dir {params.results:q}"
        " --chunk-record {output.record:q} > {log:q} 2>&1"


rule true_runs:
    """The long true runs of one (evaluated dataset setting, chunk of systems), integrated
    once: the truth oracle's free runs and, when the long runs outlast the stored
    trajectories, those of the truth floor and of the comparison of each free run
    (dsrbench.truth.true_run_keys). Predict (truth) and evaluate read them; a failed
    system's dataset gives a skipped record. A results directory without them gets them
    with --forcerun true_runs, without any training."""
    input:
        dataset=layout.dataset_chunk(RESULTS, W.dataset, W.chunk),
    output:
        record=layout.true_runs_chunk(RESULTS, W.dataset, W.chunk),
    log:
        layout.true_runs_chunk_log(RESULTS, W.dataset, W.chunk),
    params:
        results=RESULTS,
        config=RESOLVED,
        slices=lambda w: slice_hash(chunk_slices(CFG, "truth", w.dataset, w.chunk)),
    threads: 1
    resources:
        mem_mb=4000,
        runtime=lambda w: 30 + 10 * len(CHUNKS[w.chunk]),
    shell:
        "{DSRBENCH} truth-chunk --resolved-config {params.config:q}"
        " --slice-hash {params.slices} --dataset {wildcards.dataset} --chunk {wildcards.chunk}"
        " --results-dir {params.results:q} --chunk-record {output.record:q} > {log:q} 2>&1"


rule dataset_summary:
    """Aggregate every record into one CSV (one row per system and dataset setting)."""
    input:
        [layout.dataset_chunk(RESULTS, dataset, chunk) for dataset in DATASETS for chunk in CHUNKS],
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
