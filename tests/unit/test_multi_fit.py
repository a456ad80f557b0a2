"""Training many latent RNNs at once (``LatentRNN.fit_many``) against training each alone.

The reference is the lone run (``fit``) of each model with the same seed and data: the
models of a group share one optimiser step, but the loss is a sum of per-model losses and
RAdam is elementwise, so each model's weights, teacher-forcing alphas and logs must equal
its lone run up to floating-point rounding. Also: a diverging model is frozen while the
others go on, per-model checkpoints resume to the uninterrupted run, ``stopped_by``.
"""

from __future__ import annotations

import csv

import numpy as np
import pytest
import xarray as xr
from support.method_data import as_dataset

from dsrbench import methods
from dsrbench.methods import FitTask, RunFiles

SMALL = {
    "hidden_dim": 16,
    "seq_len": 12,
    "batch_size": 8,
    "batches_per_epoch": 5,
    "epochs": 20,
    "validate_every": 5,
    "checkpoint_every": 2,
    "lr_start": 5e-3,
    "lr_end": 5e-4,
}


def _hp(name: str, **kw) -> dict:
    cls = methods.get(name)
    return {k: v for k, v in SMALL.items() if k in cls.hyperparameters} | kw


@pytest.fixture(scope="module")
def datasets(lorenz_splits) -> list[tuple[xr.Dataset, xr.Dataset | None]]:
    """Four different training sets of dimension 3 (lengths and trajectory counts
    differ): Lorenz, Lorenz reversed in time, Lorenz with permuted and rescaled
    coordinates, a noisy limit cycle; validation splits for two of them."""
    lor = np.asarray(lorenz_splits["train"]["x"].values)
    val = np.asarray(lorenz_splits["val"]["x"].values)
    t = 0.1 * np.arange(300)
    cycle = np.stack([np.cos(t), np.sin(t), 0.5 * np.sin(2 * t)], axis=-1)
    noise = np.random.default_rng(5).normal(scale=0.05, size=(3, 300, 3))
    return [
        (as_dataset(lor, standardize=True), as_dataset(val[:, :400])),
        (as_dataset(lor[1:, 700:0:-1].copy(), standardize=True), None),
        (as_dataset(3.0 * lor[:1, :1200][..., [2, 0, 1]], standardize=True), None),
        (as_dataset(cycle[None] + noise, standardize=True), as_dataset(cycle[None, :200])),
    ]


def _tasks(name: str, datasets, hp: dict, runs=None) -> list[FitTask]:
    runs = runs or [None] * len(datasets)
    return [
        FitTask(train, val, seed=10 + i, hyperparameters=hp, run=runs[i], name=f"m{i}")
        for i, ((train, val), run) in enumerate(zip(datasets, runs, strict=True))
    ]


def _together_and_alone(name: str, datasets, hp: dict):
    outcomes = methods.get(name).fit_many(_tasks(name, datasets, hp), device="cpu")
    assert all(o.ok for o in outcomes), [o.error for o in outcomes]
    alone = [
        methods.get(name)(**hp).fit(train, val, device="cpu", seed=10 + i)
        for i, (train, val) in enumerate(datasets)
    ]
    return [o.model for o in outcomes], alone


def _assert_same_models(together, alone, atol: float) -> None:
    for a, b in zip(together, alone, strict=True):
        assert a.weights_.keys() == b.weights_.keys()
        for key in a.weights_:
            np.testing.assert_allclose(a.weights_[key], b.weights_[key], rtol=0, atol=atol)
        ra, rb = a.training_result_, b.training_result_
        assert (ra.epochs_run, ra.best_epoch, ra.stopped_by) == (
            rb.epochs_run,
            rb.best_epoch,
            rb.stopped_by,
        )
        np.testing.assert_allclose(
            [h["loss"] for h in ra.history], [h["loss"] for h in rb.history], rtol=1e-8
        )


def test_shplrnn_fixed_alpha_together_equals_alone(datasets) -> None:
    hp = _hp("shplrnn_gtf", latent_dim=5, alpha_mode="fixed", alpha=0.3)
    together, alone = _together_and_alone("shplrnn_gtf", datasets, hp)
    _assert_same_models(together, alone, atol=1e-8)
    # the models differ from each other (own seeds and data) and all trained 20 epochs
    assert not np.allclose(together[0].weights_["W1"], together[1].weights_["W1"])
    assert all(m.training_result_.stopped_by == "epochs" for m in together)
    assert all(m.training_result_.epochs_run == 20 for m in together)
    # the two with a validation split were validated and keep their best weights
    assert np.isfinite(together[0].training_result_.best_score)
    assert together[1].training_result_.best_epoch == -1


def test_shplrnn_adaptive_alpha_together_equals_alone(datasets) -> None:
    hp = _hp("shplrnn_gtf", latent_dim=4, alpha=0.9, alpha_update_every=2)
    together, alone = _together_and_alone("shplrnn_gtf", datasets, hp)
    alphas = []
    for a, b in zip(together, alone, strict=True):
        ha = [h["alpha"] for h in a.training_result_.history]
        hb = [h["alpha"] for h in b.training_result_.history]
        np.testing.assert_allclose(ha, hb, rtol=1e-10, atol=0)
        alphas.append(ha)
    # each model annealed its own alpha (estimates above the decaying alpha on some)
    assert len({round(h[-1], 12) for h in alphas}) > 1
    _assert_same_models(together, alone, atol=1e-6)


def test_alrnn_together_equals_alone(datasets) -> None:
    hp = _hp("alrnn", latent_dim=6, relu_units=2, forcing_interval=4, noise_level=0.05)
    hp["code_steps"] = 200
    together, alone = _together_and_alone("alrnn", datasets, hp)
    _assert_same_models(together, alone, atol=1e-8)
    for a, b in zip(together, alone, strict=True):
        assert a.symbolic_code()["regions"] == b.symbolic_code()["regions"]


def test_a_diverging_model_is_frozen_and_the_others_go_on(datasets) -> None:
    """Model 1's data hold a stretch of NaN that its windows reach during training: its
    loss turns non-finite, it stops with its last finite weights and "diverged"; the
    others equal their lone runs."""
    x = np.asarray(datasets[1][0]["x"].values).copy()
    x = (x - x.mean(axis=(0, 1))) / x.std(axis=(0, 1))
    x[0, 600:] = np.nan
    data = [datasets[0], (as_dataset(x), None), datasets[2]]
    hp = _hp("shplrnn_gtf", latent_dim=4, alpha_mode="fixed", alpha=0.2, epochs=10)
    together, alone = _together_and_alone("shplrnn_gtf", data, hp)
    bad = together[1].training_result_
    assert bad.stopped_by == "diverged" and 1 <= bad.epochs_run < 10
    assert len(bad.history) == bad.epochs_run and not np.isfinite(bad.history[-1]["loss"])
    assert all(np.all(np.isfinite(w)) for w in together[1].weights_.values())
    assert alone[1].training_result_.stopped_by == "diverged"
    _assert_same_models(together, alone, atol=1e-8)
    assert [m.training_result_.stopped_by for m in together] == ["epochs", "diverged", "epochs"]


def _log_epochs(path) -> list[int]:
    return [int(r["epoch"]) for r in csv.DictReader(path.open())]


def test_per_model_checkpoints_resume_to_the_uninterrupted_run(datasets, tmp_path) -> None:
    """A budget stop after epoch 1 (checkpoints of models 0 and 1), then a rerun of all
    three: the two resume together from their checkpoints, model 2 starts afresh, and all
    equal an uninterrupted run; stopped_by says "budget", then "epochs"."""
    cls = methods.get("shplrnn_gtf")
    hp = _hp("shplrnn_gtf", latent_dim=4, alpha=0.9, alpha_update_every=2, epochs=6)
    data = datasets[:3]
    whole = cls.fit_many(_tasks("shplrnn_gtf", data, hp), device="cpu")
    runs = [RunFiles(tmp_path / f"ckpt{i}", tmp_path / f"log{i}.csv") for i in range(3)]
    first = cls.fit_many(_tasks("shplrnn_gtf", data[:2], hp, runs[:2]), device="cpu", budget=0)
    for o, i in zip(first, range(2), strict=True):
        assert o.model.training_result_.stopped_by == "budget"
        assert o.model.training_result_.stopped_by_budget
        assert o.model.training_result_.epochs_run == 1
        assert _log_epochs(tmp_path / f"log{i}.csv") == [1]
    again = cls.fit_many(_tasks("shplrnn_gtf", data, hp, runs), device="cpu")
    for i, (a, w) in enumerate(zip(again, whole, strict=True)):
        r = a.model.training_result_
        assert r.resumed_from == (1 if i < 2 else 0) and r.epochs_run == 6
        assert r.stopped_by == "epochs" and not r.stopped_by_budget
        assert _log_epochs(tmp_path / f"log{i}.csv") == list(range(1, 7))
        for key, value in w.model.weights_.items():
            np.testing.assert_allclose(a.model.weights_[key], value, rtol=0, atol=1e-12)
        assert [h["alpha"] for h in r.history] == pytest.approx(
            [h["alpha"] for h in w.model.training_result_.history], rel=1e-12
        )


def test_a_failing_task_is_reported_and_the_others_train(datasets) -> None:
    hp = _hp("alrnn", latent_dim=5, epochs=2, code_steps=50)
    tasks = _tasks("alrnn", datasets[:2], hp)
    tasks.insert(1, FitTask(datasets[0][0], hyperparameters={**hp, "latent_dim": 2}))
    tasks.append(FitTask(datasets[0][0], hyperparameters={**hp, "latent_dims": 5}))
    outcomes = methods.get("alrnn").fit_many(tasks, device="cpu")
    assert [o.ok for o in outcomes] == [True, False, True, False]
    assert "latent_dim 2 < observation dimension 3" in outcomes[1].error
    assert "did you mean 'latent_dim'" in outcomes[3].error


@pytest.mark.parametrize("name", ["shplrnn_gtf", "alrnn"])
def test_numba_and_torch_backends_train_the_same_models(datasets, monkeypatch, name) -> None:
    """The CPU float64 path (numba kernels) and the batched torch path (autograd; the one
    CUDA runs) train the same models, up to rounding."""
    from dsrbench.methods import _latent_rnn, shplrnn_gtf

    hp = _hp(name, latent_dim=5, epochs=8)
    if name == "alrnn":
        hp |= {"relu_units": 2, "forcing_interval": 4, "code_steps": 50}
    else:
        hp |= {"alpha_update_every": 2}
    tasks = _tasks(name, datasets[:2], hp)
    assert _latent_rnn.gradient_backend(torch_cpu(), torch_f64()) == "numba"
    fast = methods.get(name).fit_many(tasks, device="cpu")
    for module in (_latent_rnn, shplrnn_gtf):
        monkeypatch.setattr(module, "gradient_backend", lambda device, dtype: "torch")
    slow = methods.get(name).fit_many(tasks, device="cpu")
    _assert_same_models([o.model for o in fast], [o.model for o in slow], atol=1e-8)


def torch_cpu():
    import torch

    return torch.device("cpu")


def torch_f64():
    import torch

    return torch.float64


# -- the neural ODE (node): a fixed-step solver and Adam train vectorised -------------------

NODE = {
    "method": "rk4",
    "substeps": 1,
    "hidden_dim": 8,
    "seq_len": 8,
    "batch_size": 8,
    "batches_per_epoch": 5,
    "epochs": 20,
    "validate_every": 10,
    "checkpoint_every": 2,
    "lr_start": 1e-2,
    "lr_end": 1e-3,
    "dtype": "float64",
}


def _node_weights(model) -> dict[str, np.ndarray]:
    return {k: v.detach().numpy() for k, v in model.field_.state_dict().items()}


def _assert_same_nodes(together, alone, atol: float) -> None:
    for a, b in zip(together, alone, strict=True):
        wa, wb = _node_weights(a), _node_weights(b)
        assert wa.keys() == wb.keys()
        for key in wa:
            np.testing.assert_allclose(wa[key], wb[key], rtol=0, atol=atol)
        ra, rb = a.training_result_, b.training_result_
        assert (ra.epochs_run, ra.best_epoch, ra.stopped_by) == (
            rb.epochs_run,
            rb.best_epoch,
            rb.stopped_by,
        )
        for key in ("loss", "skipped", "lr"):
            np.testing.assert_allclose(
                [h[key] for h in ra.history], [h[key] for h in rb.history], rtol=1e-8
            )


def test_node_together_equals_alone(datasets) -> None:
    """Four neural ODEs in one vectorised fit (stacked fields, one RK4 solve and one Adam
    step a batch) against each model's lone ``fit``, float64, 20 epochs."""
    assert methods.get("node")(**NODE).trains_together()
    together, alone = _together_and_alone("node", datasets, NODE)
    _assert_same_nodes(together, alone, atol=1e-8)
    w = [_node_weights(m)["mlp.0.weight"] for m in together]
    assert not np.allclose(w[0], w[1])  # own seeds and data
    assert all(m.training_result_.epochs_run == 20 for m in together)
    assert np.isfinite(together[0].training_result_.best_score)
    assert together[1].training_result_.best_epoch == -1  # no validation split


def test_node_vectorised_training_equals_the_torch_adam_trainer(datasets) -> None:
    """The vectorised path of one model (StackedField, MaskedAdam) against the lone
    Trainer path (VectorField, torch.optim.Adam, ExponentialLR) on the same seed."""
    from dsrbench.methods.node import NeuralODE

    train, val = datasets[0]
    ours = NeuralODE(**NODE).fit(train, val, device="cpu", seed=4)
    torch_adam = NeuralODE(**NODE)._fit_alone(
        train, val, device="cpu", seed=4, budget=None, run=None
    )
    _assert_same_nodes([ours], [torch_adam], atol=1e-8)


def test_node_skips_non_finite_batches_per_model(datasets) -> None:
    """Model 1's data hold NaN: the batches that reach them are skipped for that model
    alone (no step, no moment update, as in its lone run); the others are untouched."""
    x = np.asarray(datasets[1][0]["x"].values).copy()
    x = (x - x.mean(axis=(0, 1))) / x.std(axis=(0, 1))
    x[0, 600:610] = np.nan
    data = [datasets[0], (as_dataset(x), None), datasets[2]]
    hp = NODE | {"epochs": 8}
    together, alone = _together_and_alone("node", data, hp)
    skipped = [sum(h["skipped"] for h in m.training_result_.history) for m in together]
    assert skipped[0] == skipped[2] == 0 and 0 < skipped[1] < 8 * 5
    _assert_same_nodes(together, alone, atol=1e-8)


def test_node_checkpoints_resume_to_the_uninterrupted_run(datasets, tmp_path) -> None:
    cls = methods.get("node")
    hp = NODE | {"epochs": 6}
    data = datasets[:2]
    whole = cls.fit_many(_tasks("node", data, hp), device="cpu")
    runs = [RunFiles(tmp_path / f"ckpt{i}", tmp_path / f"log{i}.csv") for i in range(2)]
    first = cls.fit_many(_tasks("node", data, hp, runs), device="cpu", budget=0)
    assert all(o.model.training_result_.stopped_by == "budget" for o in first)
    again = cls.fit_many(_tasks("node", data, hp, runs), device="cpu")
    for i, (a, w) in enumerate(zip(again, whole, strict=True)):
        r = a.model.training_result_
        assert r.resumed_from == 1 and r.epochs_run == 6 and r.stopped_by == "epochs"
        assert _log_epochs(tmp_path / f"log{i}.csv") == list(range(1, 7))
        for key, value in _node_weights(w.model).items():
            np.testing.assert_array_equal(_node_weights(a.model)[key], value)


def test_node_with_an_adaptive_solver_trains_one_model_after_another(datasets) -> None:
    hp = NODE | {"method": "dopri5", "epochs": 2, "batches_per_epoch": 2}
    assert not methods.get("node")(**hp).trains_together()
    together, alone = _together_and_alone("node", datasets[:2], hp)
    _assert_same_nodes(together, alone, atol=0)
