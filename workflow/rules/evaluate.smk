# Training, prediction and evaluation rules. Uses CFG, RESULTS, RESOLVED, W, DSRBENCH,
# METHOD_CHUNKS, CHUNK_OF, SEEDS and EVAL_DATASETS from the Snakefile. A train or predict job
# covers one (dataset setting, method, chunk of systems) with every seed; each system gets
# its own slice of the config (dsrbench.pipeline.plan.chunk_slices), and the job gets their hash, so
# it reruns exactly when what one of its systems depends on changes, and then redoes only
# the systems whose inputs changed (job_key).
# Planning reads the methods' traits from the classes' source (dsrbench.methods.traits): no
# method module, hence no torch, is imported here.
from dsrbench import methods as _methods
from dsrbench import references


def _uses_gpu(w):
    """1 for torch methods unless the config pins the CPU (cluster profiles place them)."""
    if CFG["training"]["device"] == "cpu":
        return 0
    return int(_methods.traits(w.method).uses_torch)


def _systems(w):
    """The systems of a train or predict job: its chunk's, those of its method."""
    return METHOD_CHUNKS[w.method][w.chunk]


def _models(w):
    """Models of a chunk job: its systems times the seeds."""
    return len(_systems(w)) * len(SEEDS)


rule train:
    """Fit one method on one dataset setting of a chunk of systems, every seed (planned only
    for methods that need a fit: not truth, nor a method with needs_fit = False): one
    Method.fit_many call fits the models not finished before. Each model goes to its own
    directory with its record (dsrbench.layout); checkpoints let a killed job resume, and
    the per-epoch logs go beside the per-system logs. A failing model is recorded in its
    record (status "failed"), not raised; the chunk record is written last."""
    input:
        dataset=layout.dataset_chunk(RESULTS, W.dataset, W.chunk),
    output:
        record=layout.model_chunk(RESULTS, W.dataset, W.method, W.chunk),
    log:
        layout.train_chunk_log(RESULTS, W.dataset, W.method, W.chunk),
    params:
        results=RESULTS,
        config=RESOLVED,
        slices=lambda w: slice_hash(
            chunk_slices(CFG, "train", w.dataset, w.chunk, w.method), SEEDS
        ),
    threads: CFG["training"]["threads"]
    resources:
        mem_mb=CFG["training"]["mem_mb"],
        runtime=lambda w: CFG["training"]["runtime_minutes"] * _models(w),
        gpu=_uses_gpu,
    shell:
        "{DSRBENCH} train-chunk --resolved-config {params.config:q}"
        " --slice-hash {params.slices} --dataset {wildcards.dataset} --chunk {wildcards.chunk}"
        " --method {wildcards.method}"
        " --results-dir {params.results:q} --chunk-record {output.record:q}"
        " --threads {threads} > {log:q} 2>&1"


def _true_runs_chunk(w):
    """The true runs a prediction of the truth oracle reads; none for the methods."""
    if not references.is_truth(w.method):
        return []
    return [layout.true_runs_chunk(RESULTS, w.dataset, w.chunk)]


def _model_chunk(w):
    """The train job's chunk record a prediction reads; none for truth and untrained
    methods."""
    if not is_trained(w.method):
        return []
    return [layout.model_chunk(RESULTS, w.dataset, w.method, w.chunk)]


rule predict:
    """Predict with one method on one dataset setting of a chunk of systems, every seed,
    one after another: forecasts from test contexts and a long free run (and the model's
    Lyapunov exponent when it has a Jacobian), with the trained models (a method that needs
    no fit is built untrained). A failing prediction is recorded in its record (status
    "failed"), not raised; the chunk record is written last."""
    input:
        dataset=layout.dataset_chunk(RESULTS, W.dataset, W.chunk),
        model=_model_chunk,
        truth=_true_runs_chunk,
    output:
        record=layout.prediction_chunk(RESULTS, W.dataset, W.method, W.chunk),
    log:
        layout.predict_chunk_log(RESULTS, W.dataset, W.method, W.chunk),
    params:
        results=RESULTS,
        config=RESOLVED,
        slices=lambda w: slice_hash(
            chunk_slices(CFG, "predict", w.dataset, w.chunk, w.method), SEEDS
        ),
    threads: 1
    resources:
        mem_mb=4000,
        runtime=lambda w: 30 + 15 * _models(w),
    shell:
        "{DSRBENCH} predict-chunk --resolved-config {params.config:q}"
        " --slice-hash {params.slices} --dataset {wildcards.dataset} --chunk {wildcards.chunk}"
        " --method {wildcards.method}"
        " --results-dir {params.results:q} --chunk-record {output.record:q} > {log:q} 2>&1"


def prediction_records(datasets, methods=None, systems=None):
    """The prediction chunk records (each lists its systems' records for every seed) of
    these dataset settings, methods (default: the configured ones) and systems (default:
    all). A method restricted by evaluation.systems_by_method has no chunk without its
    systems."""
    wanted = {CHUNK_OF[s] for s in systems} if systems else None
    return [
        layout.prediction_chunk(RESULTS, d, m, c)
        for d in datasets
        for m in (methods or CFG["evaluation"]["methods"])
        for c in METHOD_CHUNKS[m]
        if wanted is None or c in wanted
    ]


def _evaluate_threads(w):
    """Cores of the evaluate job: one when the metrics run on an existing Dask scheduler
    (evaluation.dask.scheduler_address), else evaluation.dask.n_workers or every core
    Snakemake was given (--cores; the slurm profile sets it)."""
    dask = CFG["evaluation"]["dask"]
    if dask["scheduler_address"]:
        return 1
    return dask["n_workers"] or workflow.cores


rule evaluate:
    """Every metric of every prediction of one dataset setting, plus its truth floors,
    computed on a Dask cluster (a LocalCluster of the rule's threads, or a scheduler)."""
    input:
        predictions=lambda w: prediction_records([w.dataset]),
        # the long true runs of the floors and of each free run's comparison
        truth=lambda w: [layout.true_runs_chunk(RESULTS, w.dataset, c) for c in CHUNKS],
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
    threads: _evaluate_threads
    resources:
        mem_mb=8000,
        runtime=240,
    shell:
        "{DSRBENCH} evaluate {input.predictions:q} --out {output:q} --workers {params.workers}"
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
        "{DSRBENCH} results merge {input:q} --out {output:q} > {log:q} 2>&1"
