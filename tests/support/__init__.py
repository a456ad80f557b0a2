"""What the tests share that is not a fixture (the fixtures are in tests/conftest.py).

Test files import from here (``from support.tiny_run import make_run``), never from
another test file. The modules:

- ``tiny_run``: a finished tiny run made through the job layer (the ``tiny_run`` fixture);
- ``report_run``: one real tiny workflow run with the reports on (end-to-end tier);
- ``readme``: the README's shell commands, parsed, and how each is covered;
- ``method_package``: an installed package that adds a method through the entry point;
- ``contract``: the method contract's method sets and checks, shared by the two tiers;
- ``method_data``, ``synthetic_metrics``: small data sets and metric tables;
- ``reproductions``: a published table with a row of each status, and a run that gives them;
- ``shipped_configs``: the shipped config files and what each is stacked on;
- ``zeroshot``: the zero-shot protocol's tiny config;
- ``training``: the trainer tests' tiny shPLRNN settings and epoch logs;
- ``chronos_models``: the chronos adapter's checks against direct package calls;
- ``latent_rnn_oracles``: single-model torch rollouts the latent RNN kernels are checked
  against.
"""

from __future__ import annotations

from pathlib import Path

#: the repository's root
REPO = Path(__file__).resolve().parents[2]
#: the test suite's root (tests/: data/ and fixtures/ hold its files)
TESTS = REPO / "tests"

#: the largest Lyapunov exponent of Lorenz-63 (Sprott 2003)
LORENZ_LAMBDA = 0.9056

#: the smallest dataset setting of the workflow tests (a few seconds a run)
TINY = {
    "tiny": {
        "pts_per_period": 20,
        "length": 100,
        "n_train": 1,
        "n_val": 1,
        "n_test": 1,
        "burn_in": 100,
    }
}

#: Lorenz-63 at about 0.030 time units per point (50 points per Fourier period),
#: close to the dt = 0.025 of Gauthier et al. 2021: the setting of conftest's ``lorenz_store``.
LORENZ_SETTING = {
    "pts_per_period": 50,
    "timescale": "fourier",
    "length": 2000,
    "n_train": 2,
    "n_val": 1,
    "n_test": 1,
}
