"""Every method of dsrbench.methods on a real Lorenz-63 dataset: the uniform contract.

Each learned method fits a short Lorenz-63 trajectory and beats persistence on PE(20)
(Hess et al. 2023: mean squared error of the 20th free-run step, here from contexts of
100 observed points so delay-based methods get their taps); save then load gives identical
predictions; the same seed gives the same model; a bad hyperparameter name fails before
training, naming the valid ones. A method runs here with its ``quick_hyperparameters``
(small settings for tests and the laptop default run).

The darts forecasters of Gilpin 2023 follow the same contract. Their reference forecasters
(naive drift / mean / seasonal) are references like persistence and are checked against
their closed forms. The statistical families (per-coordinate classical models and the
Kalman forecaster, fitted on each context) are not required to beat persistence: Gilpin
2023 ranks them last, and they are fitted here on 1000-point contexts (as the paper fits
them on 1000 points) and must forecast finite values of the contract's shape. AutoARIMA
(about 10 s per context) runs in the end-to-end tier (e2e/test_methods_contract_e2e.py).
The checks both tiers run are in support/contract.py.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from support.contract import (
    DARTS_REFERENCES,
    LEARNED,
    PRETRAINED,
    REFERENCES,
    SLOW,
    STATISTICAL,
    N,
    check_free_run_has_the_contract_shape,
    check_same_seed_gives_the_same_model,
    check_save_then_load_gives_identical_predictions,
    check_statistical_forecaster_is_finite,
    contexts,
    fit,
    fitted_model,
    pe20,
)
from support.method_package import make_method_package

from dsrbench import methods
from dsrbench.methods import HyperparameterError, RunFiles

BEATS_PERSISTENCE = [
    m for m in methods.available() if m not in REFERENCES | STATISTICAL | PRETRAINED
]


def test_registry_lists_every_method_of_the_issue() -> None:
    expected = {"persistence", "mean", "var", "edmd", "esn", "nvar", "sindy", "node"}
    expected |= {"shplrnn_gtf", "alrnn", "koopman_ae", "phyxmamba"}
    # the 22 darts forecasters of Gilpin 2023
    expected |= {"lstm", "rnn", "nbeats", "nhits", "transformer", "tcn", "dlinear", "nlinear"}
    expected |= {"random_forest", "xgboost", "linear_regression", "kalman"}
    expected |= {"exponential_smoothing", "arima", "autoarima", "theta", "four_theta", "fft"}
    expected |= {"naive_drift", "naive_mean", "naive_seasonal", "tbats"}
    # Zhang & Gilpin 2025: context parroting and the TiDE baseline
    expected |= {"context_parroting", "tide", "chronos"}
    # issue 29: HAVOK (Brunton et al. 2017), EntroPE (Abeywickrama et al. 2025), KoVAE
    # (Naiman et al. 2024)
    expected |= {"havok", "entrope", "kovae"}
    assert expected <= set(methods.available())
    assert PRETRAINED == {"chronos"}


@pytest.mark.parametrize("name", sorted(STATISTICAL - SLOW))
def test_statistical_forecaster_is_finite_from_long_contexts(name, lorenz_splits) -> None:
    check_statistical_forecaster_is_finite(name, lorenz_splits)


def test_darts_reference_forecasters_match_their_closed_forms(lorenz_splits) -> None:
    ctx, _ = contexts(lorenz_splits["test"], stride=300)
    steps = np.arange(1, N + 1)[None, :, None]
    drift = (ctx[:, -1:] - ctx[:, :1]) / (ctx.shape[1] - 1)
    expected = {
        "naive_drift": ctx[:, -1:] + steps * drift,
        "naive_mean": np.repeat(ctx.mean(axis=1, keepdims=True), N, axis=1),
        "naive_seasonal": np.repeat(ctx[:, -1:], N, axis=1),  # K = 1: the last value
    }
    assert set(expected) == DARTS_REFERENCES
    for name, want in expected.items():
        model = fit(name, lorenz_splits)
        np.testing.assert_allclose(model.forecast(ctx, N), want, rtol=1e-9, atol=1e-9)


def test_darts_families_leave_no_process_wide_warning_filter_or_log_level(
    lorenz_splits, tmp_path: Path
) -> None:
    """darts' chatter is silenced inside each call only (``warnings.catch_warnings``): a fit,
    forecast, save and load of a global and a per-context family leave the warning filters
    and the loggers' levels as they were, and a UserWarning raised afterwards is seen."""
    import logging
    import warnings

    from dsrbench.methods._darts import CHATTY_LOGGERS

    for name in ("linear_regression", "naive_mean"):  # lag-regression, per-coordinate
        methods.get(name)  # imports darts (which may set its loggers) before the snapshot
    filters = list(warnings.filters)
    levels = [logging.getLogger(n).level for n in CHATTY_LOGGERS]
    ctx, _ = contexts(lorenz_splits["test"], stride=300)
    for name in ("linear_regression", "naive_mean"):
        model = fit(name, lorenz_splits)
        model.save(tmp_path / name)
        loaded = methods.get(name).load(tmp_path / name)
        np.testing.assert_array_equal(loaded.forecast(ctx, N), model.forecast(ctx, N))
    assert warnings.filters == filters
    assert [logging.getLogger(n).level for n in CHATTY_LOGGERS] == levels
    with pytest.warns(UserWarning, match="still seen"):
        warnings.warn("still seen", UserWarning, stacklevel=1)


@pytest.mark.parametrize("name", BEATS_PERSISTENCE)
def test_method_beats_persistence_on_pe20(name, lorenz_splits, persistence_pe, fitted) -> None:
    model = fitted_model(name, fitted, lorenz_splits)
    pe = pe20(model, lorenz_splits["test"])
    assert np.isfinite(pe)
    assert pe < persistence_pe, f"{name}: PE(20) {pe:.3g} vs persistence {persistence_pe:.3g}"


@pytest.mark.parametrize("name", [m for m in LEARNED + ["mean"] if m not in SLOW])
def test_save_then_load_gives_identical_predictions(
    name, lorenz_splits, fitted, tmp_path: Path
) -> None:
    check_save_then_load_gives_identical_predictions(name, lorenz_splits, fitted, tmp_path)


@pytest.mark.parametrize("name", [m for m in LEARNED if m not in SLOW])
def test_same_seed_gives_the_same_model(name, lorenz_splits, fitted) -> None:
    check_same_seed_gives_the_same_model(name, lorenz_splits, fitted)


@pytest.mark.parametrize("name", [m for m in LEARNED if m not in SLOW])
def test_free_run_has_the_contract_shape(name, lorenz_splits, fitted) -> None:
    check_free_run_has_the_contract_shape(name, lorenz_splits, fitted)


@pytest.mark.parametrize("name", methods.available())
def test_bad_hyperparameter_name_fails_before_training_with_valid_names(name) -> None:
    cls = methods.get(name)
    with pytest.raises(HyperparameterError) as err:
        cls(not_a_hyperparameter=1)
    assert "not_a_hyperparameter" in str(err.value)
    for valid in cls.hyperparameters:
        assert valid in str(err.value)


@pytest.mark.parametrize("name", methods.available())
def test_quick_hyperparameters_are_declared_ones(name) -> None:
    cls = methods.get(name)
    assert set(cls.quick_hyperparameters) <= set(cls.hyperparameters)


@pytest.mark.parametrize("name", [m for m in LEARNED if methods.get(m).has_jacobian])
def test_jacobian_matches_finite_differences(name, lorenz_splits, fitted) -> None:
    model = fitted_model(name, fitted, lorenz_splits)
    ctx, _ = contexts(lorenz_splits["test"], stride=400)
    z = np.asarray(model.initial_state(ctx), dtype=np.float64)
    jac = np.asarray(model.jacobian(z))
    eps = 1e-6
    fd = np.empty_like(jac)
    for j in range(z.shape[1]):
        dz = np.zeros_like(z)
        dz[:, j] = eps
        fd[:, :, j] = (model.step(z + dz) - model.step(z - dz)) / (2 * eps)
    np.testing.assert_allclose(jac, fd, rtol=1e-4, atol=1e-5)
    # the Jacobian-vector product (matrix-free for the reservoir) is the same product
    tangents = np.random.default_rng(0).normal(size=(*z.shape, 2))
    np.testing.assert_allclose(
        model.jvp(z, tangents), jac @ tangents, rtol=1e-12, atol=1e-12 * np.abs(jac).max()
    )


def test_run_files_are_optional_for_every_method(lorenz_splits, tmp_path: Path) -> None:
    run = RunFiles(checkpoint_dir=tmp_path / "ckpt", epoch_log=tmp_path / "epochs.csv")
    model = methods.get("mean")().fit(lorenz_splits["train"], None, run=run)
    assert model.forecast(np.zeros((1, 5, 3)), 2).shape == (1, 2, 3)


def test_an_installed_method_follows_the_contract(
    lorenz_splits, persistence_pe, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A method of another package, registered through the entry-point group
    ``dsrbench.methods`` (support/method_package.py writes it: a linear map fitted by
    least squares): listed, its traits read without importing it, then the contract (fit,
    forecast beating persistence, save/load, a misspelt hyperparameter, its Jacobian); a
    second package claiming its name is refused naming both."""
    import sys

    site = make_method_package(
        tmp_path / "site",
        "dsrb-contract",
        "dsrb_contract",
        {"linmap": "dsrb_contract.linmap:LinearMap"},
    )
    monkeypatch.syspath_prepend(str(site))
    try:
        assert "linmap" in methods.available()
        traits = methods.traits("linmap")
        assert "dsrb_contract.linmap" not in sys.modules
        assert (traits.needs_fit, traits.uses_torch, traits.hyperparameters) == (
            True,
            False,
            frozenset({"ridge"}),
        )
        cls = methods.get("linmap")
        assert cls.__module__ == "dsrb_contract.linmap" and cls.has_jacobian is traits.has_jacobian
        model = fit("linmap", lorenz_splits)
        assert pe20(model, lorenz_splits["test"]) < persistence_pe
        model.save(tmp_path / "linmap")
        ctx, _ = contexts(lorenz_splits["test"], stride=200)
        loaded = methods.get("linmap").load(tmp_path / "linmap")
        np.testing.assert_array_equal(loaded.forecast(ctx, 30), model.forecast(ctx, 30))
        z = model.initial_state(ctx)
        dz = np.zeros_like(z)
        dz[:, 0] = 1e-6
        fd = (model.step(z + dz) - model.step(z - dz)) / 2e-6
        np.testing.assert_allclose(model.jacobian(z)[:, :, 0], fd, rtol=1e-6, atol=1e-8)
        with pytest.raises(HyperparameterError, match="valid: ridge"):
            cls(ridg=1)
        other = make_method_package(
            tmp_path / "other",
            "dsrb-rival",
            "dsrb_rival",
            {"linmap": "dsrb_rival.linmap:LinearMap"},
        )
        monkeypatch.syspath_prepend(str(other))
        with pytest.raises(methods.DuplicateMethodError) as err:
            methods.traits("linmap")
        assert "package 'dsrb-contract'" in str(err.value)
        assert "package 'dsrb-rival'" in str(err.value)
    finally:
        for name in [m for m in sys.modules if m.split(".")[0] in ("dsrb_contract", "dsrb_rival")]:
            del sys.modules[name]


def test_fit_takes_one_context_object_and_its_fields_by_name(lorenz_splits) -> None:
    """The one fit entry point (methods.base.FitContext): ``fit(train, val, ctx)``; fields
    named in the call replace the context's; the same seed gives the same model either way."""
    cls = methods.get("esn")
    hp = dict(cls.quick_hyperparameters)
    train = lorenz_splits["train"]
    by_context = cls(**hp).fit(train, None, methods.FitContext(device="cpu", seed=3))
    by_name = cls(**hp).fit(train, None, seed=3, device="cpu")
    other = cls(**hp).fit(train, None, methods.FitContext(seed=3), seed=4)
    np.testing.assert_array_equal(by_context.w_out_, by_name.w_out_)
    assert not np.array_equal(by_context.w_out_, other.w_out_)
    with pytest.raises(TypeError, match="seeed"):
        cls(**hp).fit(train, None, seeed=3)


def test_a_fit_with_the_keywords_before_the_context_still_runs_and_is_deprecated() -> None:
    """A method of another package written for the keyword signature (``*, device, seed,
    budget, run``) keeps working through the entry point, with a DeprecationWarning."""
    seen = {}
    with pytest.warns(DeprecationWarning, match="ctx: FitContext"):

        class Legacy(methods.Method):
            name = "legacy"

            def fit(self, train, val=None, *, device="auto", seed=0, budget=None, run=None):
                seen.update(device=device, seed=seed, budget=budget, run=run)
                return self

    Legacy().fit(None, None, methods.FitContext(device="cpu", seed=7, budget=2.0))
    assert seen == {"device": "cpu", "seed": 7, "budget": 2.0, "run": None}
