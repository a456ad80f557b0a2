"""Context parroting (Zhang & Gilpin 2025, Algorithm 1) against answers known in advance.

An exactly periodic context is continued exactly; a planted copy of the last motif is the
match found (earliest on ties, each coordinate on its own, never a candidate overlapping the
query); the forecast equals the authors' reference code (``y-z-zhang/parroting``,
``models/parrot.py``) with the copied block ending at the last context point, as in the
algorithm; a chaotic context gives a finite forecast that repeats the context's values; the
method needs no fit and is deterministic.
"""

from __future__ import annotations

import numpy as np
import pytest

from dsrbench import methods
from dsrbench.methods.context_parroting import ContextParroting, min_context_length

H = 300


def _reference(series: np.ndarray, dim: int, tau: int, horizon: int) -> np.ndarray:
    """models/parrot.py of y-z-zhang/parroting (delay_embedding, embedding_distance,
    context_parroting_forecast) written out, the copied block taken through the last point."""
    n = len(series)
    rows = np.arange(dim) * tau + np.arange(n - (dim - 1) * tau)[:, None]
    embedded = series[rows]
    dist = np.linalg.norm(embedded[: -dim * tau] - embedded[-1], axis=1)
    start = int(np.argmin(dist)) + (dim - 1) * tau + 1
    block = series[start:]
    return np.tile(block, horizon // len(block) + 1)[:horizon]


def test_is_registered_as_a_method_that_needs_no_fit() -> None:
    cls = methods.get("context_parroting")
    assert cls is ContextParroting
    assert not cls.needs_fit and not cls.uses_torch
    assert cls.pretrained_on == "none" and not cls.fit_on_context
    assert cls.hyperparameters == {"embedding_dim": 10, "delay": 1}
    assert methods.traits("context_parroting").needs_fit is False


@pytest.mark.parametrize("period", [7, 25, 64])
def test_an_exactly_periodic_context_is_continued_exactly(period: int) -> None:
    """A sampled sine (and a 3-d periodic orbit) of integer period: the forecast is the
    continuation to 1e-12, over a horizon longer than the copied block."""
    t = np.arange(512 + H)
    phase = 2 * np.pi * t / period
    orbit = np.stack([np.sin(phase), np.cos(phase), 0.5 * np.sin(2 * phase) + 3.0], axis=-1)
    model = ContextParroting()
    pred = model.forecast(orbit[None, :512], H)
    assert pred.shape == (1, H, 3)
    np.testing.assert_allclose(pred[0], orbit[512:], rtol=0, atol=1e-12)
    # the copy starts one period (or a multiple) after a phase-matched motif
    assert np.all((512 - model.matches(orbit[None, :512])) % period == 0)


def test_the_planted_copy_of_the_last_motif_is_the_match() -> None:
    """Noise with the last 10 points planted earlier: the match ends there, and the forecast
    copies what followed it through the last context point, then repeats that block."""
    rng = np.random.default_rng(1)
    x = rng.normal(size=(200, 1))
    x[80:90] = x[-10:]  # the query motif, planted to end at index 89
    model = ContextParroting()
    assert model.matches(x[None]).tolist() == [[90]]
    pred = model.forecast(x[None], 250)[0, :, 0]
    block = x[90:, 0]  # 110 points, repeated
    np.testing.assert_array_equal(pred, np.tile(block, 3)[:250])


def test_ties_go_to_the_earliest_match_and_overlapping_windows_are_excluded() -> None:
    rng = np.random.default_rng(2)
    x = rng.normal(size=120)
    x[20:30] = x[-10:]
    x[60:70] = x[-10:]  # an exact tie, later
    assert ContextParroting().matches(x[None, :, None]).tolist() == [[30]]
    # a constant series: every candidate ties; the earliest wins, never one overlapping the
    # query (the last D * tau delay vectors), so the block is at least D * tau long
    const = np.ones((1, 50, 1))
    model = ContextParroting(embedding_dim=4, delay=3)
    assert model.matches(const).tolist() == [[(4 - 1) * 3 + 1]]
    np.testing.assert_array_equal(model.forecast(const, 30), np.ones((1, 30, 1)))


def test_coordinates_are_matched_each_on_its_own() -> None:
    rng = np.random.default_rng(3)
    x = rng.normal(size=(300, 2))
    x[40:50, 0] = x[-10:, 0]
    x[150:160, 1] = x[-10:, 1]
    assert ContextParroting().matches(x[None]).tolist() == [[50, 160]]
    pred = ContextParroting().forecast(x[None], 5)[0]
    np.testing.assert_array_equal(pred, np.stack([x[50:55, 0], x[160:165, 1]], axis=1))


@pytest.mark.parametrize(("dim", "tau"), [(10, 1), (5, 1), (30, 1), (4, 3)])
def test_the_forecast_is_the_reference_code_s(dim: int, tau: int) -> None:
    """The vectorised forecast equals the authors' per-series code on logistic-map series."""
    rng = np.random.default_rng(4)
    x = np.empty((6, 512, 3))
    x[:, 0] = rng.uniform(0.1, 0.9, size=(6, 3))
    for k in range(1, 512):
        x[:, k] = 3.9 * x[:, k - 1] * (1 - x[:, k - 1])
    pred = ContextParroting(embedding_dim=dim, delay=tau).forecast(x, H)
    want = np.stack(
        [np.stack([_reference(x[b, :, d], dim, tau, H) for d in range(3)], -1) for b in range(6)]
    )
    np.testing.assert_array_equal(pred, want)


def test_a_chaotic_context_gives_a_finite_deterministic_forecast(lorenz_splits) -> None:
    """Lorenz-63 contexts of 512 points: the forecast is finite, made of context values, the
    same on every call and for each context alone as in a batch; generate is forecast."""
    x = np.asarray(lorenz_splits["test"]["x"].values[0])
    ctx = np.stack([x[s - 512 : s] for s in (512, 900, 1300)])
    model = methods.get("context_parroting")()
    pred = model.forecast(ctx, H)
    assert pred.shape == (3, H, 3) and np.all(np.isfinite(pred))
    for b in range(3):
        for d in range(3):
            assert np.isin(pred[b, :, d], ctx[b, :, d]).all()
    np.testing.assert_array_equal(model.forecast(ctx, H), pred)
    np.testing.assert_array_equal(ContextParroting().forecast(ctx, H), pred)
    alone = np.concatenate([model.forecast(c[None], H) for c in ctx])
    np.testing.assert_array_equal(alone, pred)
    np.testing.assert_array_equal(model.generate(ctx, H), pred)


def test_save_and_load_keep_the_hyperparameters(tmp_path) -> None:
    model = ContextParroting(embedding_dim=6, delay=2)
    model.save(tmp_path / "m")
    loaded = ContextParroting.load(tmp_path / "m")
    assert loaded.params == {"embedding_dim": 6, "delay": 2}


def test_a_too_short_context_and_bad_settings_fail_clearly() -> None:
    assert min_context_length(10, 1) == 20 == ContextParroting().min_context
    ContextParroting().forecast(np.zeros((1, 20, 1)), 3)  # the shortest that works
    with pytest.raises(ValueError, match="shorter than the 20"):
        ContextParroting().forecast(np.zeros((1, 19, 1)), 3)
    for bad in ({"embedding_dim": 0}, {"delay": 1.5}, {"embedding_dim": True}):
        with pytest.raises(methods.HyperparameterError, match="integer >= 1"):
            ContextParroting(**bad)


def test_the_predict_job_builds_it_untrained(lorenz_store, tmp_path) -> None:
    """Prediction without a model or a train job, as for persistence: every forecast is the
    method's forecast of its stored context."""
    from dsrbench import stores
    from dsrbench.pipeline.predict import predict_to_store

    settings = {"context_length": 100, "horizon": 50, "contexts_per_trajectory": 3}
    store = predict_to_store(
        "context_parroting", lorenz_store, tmp_path / "p.zarr", long_run_length=200, **settings
    )
    pred = stores.open_predictions(store)
    x = stores.open_dataset(lorenz_store)["x"].values
    traj, start = pred["context_trajectory"].values, pred["context_start"].values
    ctx = np.stack([x[k, s - 100 : s] for k, s in zip(traj, start, strict=True)])
    np.testing.assert_array_equal(pred["forecast"].values, ContextParroting().forecast(ctx, 50))
    assert "fit_seconds" not in pred.attrs["timing"]
