"""The zero-shot protocol's tiny config, shared by unit/test_zeroshot.py and
e2e/test_zeroshot_e2e.py."""

from __future__ import annotations

DATASET, SYSTEM = "lyap30", "Lorenz"
#: the zero-shot protocol scaled down: 4 initial conditions (2/1/1), 60-point contexts,
#: a 40-point horizon, the sweep 20 / 60 / 120
CONFIG = {
    "systems": [SYSTEM],
    "datasets": {
        DATASET: {
            "pts_per_period": 30,
            "timescale": "lyapunov",
            "length": 160,
            "n_train": 2,
            "n_val": 1,
            "n_test": 1,
            "burn_in": 200,
        }
    },
    "training": {"refit_on": "context", "device": "cpu"},
    "evaluation": {
        "methods": ["truth", "context_parroting", "linear_regression"],
        "hyperparameters": {"context_parroting": {"embedding_dim": 3}},
        "context_length": 60,
        "horizon": 40,
        "contexts_per_trajectory": 1,
        "context_splits": ["train", "val", "test"],
        "context_lengths": [20, 60, 120],
        "lyapunov_horizons": [0.5, 1],
        "long_run_length": 160,
        "model_lyapunov": False,
    },
}
