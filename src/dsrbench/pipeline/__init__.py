"""The pipeline: how a config becomes jobs, and what each job does. Imports nothing here.

Planning a run:

* :mod:`~dsrbench.pipeline.config`: validation of a config (``load_config``);
* :mod:`~dsrbench.pipeline.plan`: chunks, per-job slices and their hash, the resolved config;
* :mod:`~dsrbench.pipeline.slices`: a job's slices cut from a config or the resolved config;
* :mod:`~dsrbench.pipeline.records`: the one job wrapper (``run_job``), records, job keys.

The stages, one job module each (what a ``dsrbench`` job command runs, in workflow order):

1. :mod:`~dsrbench.pipeline.simulate_job`: build the dataset stores (and their summary);
2. :mod:`~dsrbench.pipeline.true_runs_job`: integrate the long true runs once per store;
3. :mod:`~dsrbench.pipeline.train_job`: fit the models (:mod:`~dsrbench.pipeline.train`,
   with the Gilpin 2023 protocol of :mod:`~dsrbench.pipeline.tuning`);
4. :mod:`~dsrbench.pipeline.predict_job`: forecasts and long free runs
   (:mod:`~dsrbench.pipeline.predict`);
5. :mod:`~dsrbench.pipeline.evaluate_job`: every metric on Dask
   (:mod:`~dsrbench.pipeline.evaluate`), and the merge of metric tables.

Beside them: :mod:`~dsrbench.pipeline.snapshots` (scores of weight snapshots taken during
training) and :mod:`~dsrbench.pipeline.warmup` (compiles the numba kernels once).
"""

#: the stage modules, in workflow order (tests/unit/test_layers.py checks them)
STAGES = ("simulate_job", "true_runs_job", "train_job", "predict_job", "evaluate_job")
