"""The shared training loop (dsrbench.methods.trainer): resume after a kill or a budget
stop, the epoch log, atomic checkpoints, best-validation weights, devices, seeds and windows.

Resumption is checked twice: on :class:`Trainer` directly (a small regression model whose
epochs draw from both the numpy Generator and torch's random state) and through a real
method (``shplrnn_gtf`` with tiny settings, its adaptive alpha included), and once end to
end by SIGKILLing a real ``dsrbench train`` process (e2e/test_training_e2e.py).
"""

from __future__ import annotations

import csv
import re
from pathlib import Path

import numpy as np
import pytest
import torch
from support.training import TINY, log_epochs

from dsrbench import methods
from dsrbench.methods import RunFiles, trainer
from dsrbench.methods.trainer import (
    Trainer,
    resolve_device,
    sample_windows,
    seed_everything,
    validation_stsp,
)

LOG_COLUMNS = ["epoch", "loss", "lr", "alpha", "val_stsp", "seconds"]


# -- Trainer on a small regression problem -----------------------------------------------------
class Killed(RuntimeError):
    """Stands for the process dying in the middle of an epoch."""


def _regression_job(
    tmp: Path | None,
    epochs: int = 6,
    *,
    kill_at: int | None = None,
    budget: float | None = None,
    checkpoint_every: int = 1,
    validate: bool = False,
):
    """A Trainer fitting y = X w_true + noise by SGD on random mini-batches; the batches
    come from the numpy Generator, a dropout mask from torch's global random state."""
    seed_everything(0)
    rng = np.random.default_rng(1)
    x_all = rng.normal(size=(256, 4))
    y_all = x_all @ np.array([1.0, -2.0, 0.5, 3.0]) + 0.1 * rng.normal(size=256)
    model = torch.nn.Linear(4, 1).double()
    opt = torch.optim.RAdam(model.parameters(), lr=1e-2)
    sched = torch.optim.lr_scheduler.ExponentialLR(opt, 0.9)
    state = {"calls": 0}

    def epoch_fn(epoch: int) -> dict[str, float]:
        if kill_at is not None and epoch == kill_at:
            raise Killed(epoch)
        total = 0.0
        for _ in range(4):
            idx = rng.integers(0, 256, size=32)
            xb = torch.as_tensor(x_all[idx])
            keep = (torch.rand(32, 1, dtype=torch.float64) > 0.1).double()
            loss = torch.mean(keep * (model(xb) - torch.as_tensor(y_all[idx, None])) ** 2)
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += float(loss.detach())
        lr = opt.param_groups[0]["lr"]
        sched.step()
        state["calls"] += 1
        return {"loss": total / 4, "lr": lr, "alpha": 0.0}

    def validate_fn() -> float:  # a score whose minimum is at epoch 3
        return abs(state["calls"] - 3) + 1.0

    run = None if tmp is None else RunFiles(tmp / "ckpt", tmp / "epochs.csv")
    trainer = Trainer(
        model=model,
        state={"model": model, "optimizer": opt, "scheduler": sched},
        epochs=epochs,
        rng=rng,
        run=run,
        checkpoint_every=checkpoint_every,
        validate_every=1,
        budget=budget,
    )
    result = trainer.fit(epoch_fn, validate_fn if validate else None)
    return model, result


def _weights(model: torch.nn.Module) -> dict[str, np.ndarray]:
    return {k: v.detach().numpy().copy() for k, v in model.state_dict().items()}


def test_trainer_killed_mid_epoch_resumes_to_the_uninterrupted_weights(tmp_path) -> None:
    whole, whole_result = _regression_job(None)
    with pytest.raises(Killed):
        _regression_job(tmp_path, kill_at=3)
    assert log_epochs(tmp_path / "epochs.csv") == [1, 2, 3]
    resumed, result = _regression_job(tmp_path)
    assert result.resumed_from == 3 and result.epochs_run == 6
    assert log_epochs(tmp_path / "epochs.csv") == [1, 2, 3, 4, 5, 6]
    for key, value in _weights(whole).items():
        np.testing.assert_array_equal(_weights(resumed)[key], value)
    # the logged losses of the resumed epochs are those of the uninterrupted run
    assert [h["loss"] for h in result.history] == [h["loss"] for h in whole_result.history]


def test_trainer_drops_log_rows_past_the_last_checkpoint(tmp_path) -> None:
    """Killed after epoch 5 was logged but before its checkpoint (every 2 epochs): the
    rerun continues from epoch 4 and the log holds every epoch once."""
    whole, _ = _regression_job(None, checkpoint_every=2)
    with pytest.raises(Killed):
        _regression_job(tmp_path, kill_at=5, checkpoint_every=2)
    assert log_epochs(tmp_path / "epochs.csv") == [1, 2, 3, 4, 5]
    resumed, result = _regression_job(tmp_path, checkpoint_every=2)
    assert result.resumed_from == 4
    assert log_epochs(tmp_path / "epochs.csv") == [1, 2, 3, 4, 5, 6]
    for key, value in _weights(whole).items():
        np.testing.assert_array_equal(_weights(resumed)[key], value)


def test_trainer_budget_stop_then_rerun_continues(tmp_path) -> None:
    whole, _ = _regression_job(None)
    _, first = _regression_job(tmp_path, budget=0.0)
    assert first.stopped_by_budget and first.epochs_run == 1
    resumed, result = _regression_job(tmp_path)
    assert result.resumed_from == 1 and result.epochs_run == 6 and not result.stopped_by_budget
    for key, value in _weights(whole).items():
        np.testing.assert_array_equal(_weights(resumed)[key], value)
    # a budget that runs out during the last epoch leaves a complete run, not a stopped one
    _, done = _regression_job(None, epochs=1, budget=0.0)
    assert done.epochs_run == 1 and not done.stopped_by_budget


def test_a_rerun_under_the_budget_that_stopped_it_keeps_the_stopped_model(tmp_path) -> None:
    stopped, first = _regression_job(tmp_path, budget=0.0, validate=True)
    assert first.stopped_by_budget and first.epochs_run == 1
    again, result = _regression_job(tmp_path, budget=0.0, validate=True)
    # resumed from the budget's checkpoint: no further epoch, the same weights and log
    assert result.stopped_by == "budget" and result.epochs_run == 1 and result.resumed_from == 1
    assert log_epochs(tmp_path / "epochs.csv") == [1]
    for key, value in _weights(stopped).items():
        np.testing.assert_array_equal(_weights(again)[key], value)
    # a larger budget continues from there to the end
    _, more = _regression_job(tmp_path, budget=1e9)
    assert more.epochs_run == 6 and not more.stopped_by_budget


def test_a_kill_during_a_checkpoint_write_leaves_the_previous_one(tmp_path, monkeypatch) -> None:
    whole, _ = _regression_job(None)
    real_save = torch.save

    def dying_save(obj, path, *args, **kwargs):
        if obj["epoch"] == 3:  # write half a file, then die
            real_save(obj, path, *args, **kwargs)
            data = Path(path).read_bytes()
            Path(path).write_bytes(data[: len(data) // 2])
            raise Killed("killed while writing")
        return real_save(obj, path, *args, **kwargs)

    monkeypatch.setattr(trainer.torch, "save", dying_save)
    with pytest.raises(Killed):
        _regression_job(tmp_path)
    monkeypatch.setattr(trainer.torch, "save", real_save)
    ckpt = tmp_path / "ckpt" / trainer.CHECKPOINT_NAME
    assert torch.load(ckpt, map_location="cpu", weights_only=False)["epoch"] == 2
    resumed, result = _regression_job(tmp_path)
    assert result.resumed_from == 2 and result.epochs_run == 6
    for key, value in _weights(whole).items():
        np.testing.assert_array_equal(_weights(resumed)[key], value)


def test_trainer_restores_the_best_validation_weights(tmp_path) -> None:
    after_three, _ = _regression_job(None, epochs=3)
    best, result = _regression_job(None, epochs=6, validate=True)
    assert result.best_epoch == 3 and result.best_score == 1.0
    for key, value in _weights(after_three).items():
        np.testing.assert_array_equal(_weights(best)[key], value)
    # and a resumed run restores the best weights kept in its checkpoint
    with pytest.raises(Killed):
        _regression_job(tmp_path, kill_at=4, validate=True)
    again, result = _regression_job(tmp_path, validate=True)
    assert result.resumed_from == 4 and result.best_epoch == 3
    for key, value in _weights(after_three).items():
        np.testing.assert_array_equal(_weights(again)[key], value)


# -- through a method: shPLRNN + GTF with tiny settings ---------------------------------------


def _plrnn(**kw) -> methods.Method:
    return methods.get("shplrnn_gtf")(**{**TINY, **kw})


def test_epoch_log_has_the_documented_columns(lorenz_splits, tmp_path) -> None:
    for name, extra in (("shplrnn_gtf", {"hidden_dim": 20}), ("alrnn", {"latent_dim": 5})):
        cls = methods.get(name)
        params = {k: v for k, v in TINY.items() if k in cls.hyperparameters} | extra
        log = tmp_path / f"{name}.csv"
        run = RunFiles(checkpoint_dir=tmp_path / name, epoch_log=log)
        cls(**params).fit(lorenz_splits["train"], lorenz_splits["val"], device="cpu", run=run)
        rows = list(csv.DictReader(log.open()))
        assert list(rows[0]) == LOG_COLUMNS
        assert [int(r["epoch"]) for r in rows] == list(range(1, 7))
        assert np.isfinite(float(rows[2]["val_stsp"])) and rows[0]["val_stsp"] == "nan"
        lrs = [float(r["lr"]) for r in rows]
        assert lrs[0] == pytest.approx(cls.hyperparameters["lr_start"])
        assert all(b < a for a, b in zip(lrs, lrs[1:], strict=False))
        assert all(float(r["seconds"]) > 0 and np.isfinite(float(r["loss"])) for r in rows)


def test_method_budget_stop_then_rerun_matches_an_uninterrupted_run(
    lorenz_splits, tmp_path
) -> None:
    train, val = lorenz_splits["train"], lorenz_splits["val"]
    whole = _plrnn().fit(train, val, device="cpu")
    run = RunFiles(checkpoint_dir=tmp_path / "ckpt", epoch_log=tmp_path / "epochs.csv")
    first = _plrnn().fit(train, val, device="cpu", run=run, budget=0.0)
    assert first.training_result_.stopped_by_budget and first.training_result_.epochs_run == 1
    assert log_epochs(tmp_path / "epochs.csv") == [1]
    again = _plrnn().fit(train, val, device="cpu", run=run)
    assert again.training_result_.resumed_from == 1 and again.training_result_.epochs_run == 6
    assert log_epochs(tmp_path / "epochs.csv") == list(range(1, 7))
    for key, value in whole.weights_.items():
        np.testing.assert_array_equal(again.weights_[key], value)
    # the adaptive alpha and its batch counter were restored too: the logged alphas agree
    alphas = [float(r["alpha"]) for r in csv.DictReader((tmp_path / "epochs.csv").open())]
    assert alphas == [h["alpha"] for h in whole.training_result_.history]


# -- devices, seeds, windows, validation ------------------------------------------------------
def test_device_auto_works_on_this_machine(lorenz_splits) -> None:
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert resolve_device("auto").type == expected
    assert resolve_device(torch.device("cpu")).type == "cpu"
    if not torch.cuda.is_available():
        with pytest.warns(UserWarning, match="CUDA is unavailable"):
            assert resolve_device("cuda").type == "cpu"
    model = _plrnn(epochs=1).fit(lorenz_splits["train"], device="auto")
    assert model.device_.type == expected
    assert np.all(np.isfinite(model.forecast(np.ones((1, 5, 3)), 3)))


def test_seed_everything_makes_every_generator_repeat() -> None:
    draws = []
    for _ in range(2):
        rng = seed_everything(7)
        draws.append((rng.normal(size=3), np.random.rand(3), torch.rand(3).numpy()))  # noqa: NPY002
    for a, b in zip(*draws, strict=True):
        np.testing.assert_array_equal(a, b)


def test_sample_windows_are_consecutive_slices_of_one_trajectory() -> None:
    x = np.arange(2 * 50 * 2, dtype=float).reshape(2, 50, 2)
    windows = sample_windows(x, 7, 100, np.random.default_rng(0))
    assert windows.shape == (100, 7, 2)
    for w in windows:
        hits = [
            (n, s)
            for n in range(2)
            for s in range(44)
            if np.array_equal(x[n, s : s + 7], w)  # one trajectory, consecutive times
        ]
        assert len(hits) == 1
    with pytest.raises(ValueError, match="exceeds"):
        sample_windows(x, 51, 1, np.random.default_rng(0))


def test_validation_stsp_scores_truth_low_and_divergence_inf(lorenz_splits) -> None:
    val = np.asarray(lorenz_splits["val"]["x"].values)
    val = (val - val.mean(axis=(0, 1))) / val.std(axis=(0, 1))

    def truth(ctx, steps):
        return val[:, 1 : 1 + steps]

    def noise(ctx, steps):
        return np.random.default_rng(0).normal(size=(1, steps, 3))

    def diverge(ctx, steps):
        out = np.full((1, steps, 3), 1.0)
        out[0, -1] = np.inf
        return out

    assert validation_stsp(truth, val) == pytest.approx(0.0, abs=1e-6)
    assert validation_stsp(noise, val) > 1.0
    assert validation_stsp(diverge, val) == float("inf")


# -- the checkpoint format -----------------------------------------------------------------------
@pytest.mark.parametrize(
    ("payload", "named"),
    [
        ({"format": "latent_rnn/1", "epoch": 3, "params": {}}, "latent_rnn/1"),
        ({"format": "node/1", "epoch": 3, "params": {}, "adam": {}}, "node/1"),
        ({"epoch": 3, "state": {}, "rng": {}, "best": None}, "trainer (unversioned)"),
    ],
)
def test_a_checkpoint_of_an_old_format_is_refused_with_the_commit_to_resume_it(
    tmp_path, payload, named
) -> None:
    """Checkpoints written before the one training loop (the latent RNNs' ``latent_rnn/1``,
    the vectorised node's ``node/1``, the old Trainer's unversioned one) are not read: the
    error names the format, the commit that resumes it and the directory to delete, for
    the Trainer, a latent RNN and the neural ODE alike."""
    ckpt = tmp_path / "ckpt"
    ckpt.mkdir()
    torch.save(payload, ckpt / trainer.CHECKPOINT_NAME)
    run = RunFiles(ckpt, tmp_path / "epochs.csv")
    expected = (
        rf"{re.escape(repr(named))}.*resume it with dsrbench at commit 4901663.*"
        rf"or delete {re.escape(str(ckpt))} to train from scratch"
    )
    with pytest.raises(ValueError, match=expected):
        trainer.read_checkpoint(ckpt / trainer.CHECKPOINT_NAME)
    with pytest.raises(ValueError, match=expected):
        _regression_job(tmp_path)
    x = np.random.default_rng(0).normal(size=(1, 60, 3))
    from support.method_data import as_dataset

    for name, hp in (
        ("alrnn", {"latent_dim": 4, "epochs": 2, "seq_len": 10, "code_steps": 10}),
        ("node", {"method": "rk4", "epochs": 2, "seq_len": 5, "hidden_dim": 4}),
    ):
        task = methods.FitTask(as_dataset(x), seed=0, hyperparameters=hp, run=run, name="m")
        (outcome,) = methods.get(name).fit_many([task], device="cpu")
        assert not outcome.ok and re.search(expected, outcome.error), outcome.error
    # a file of no known format: delete it
    torch.save({"weights": 1}, ckpt / trainer.CHECKPOINT_NAME)
    with pytest.raises(ValueError, match=rf"not a .*delete {re.escape(str(ckpt))}"):
        _regression_job(tmp_path)


def test_a_checkpoint_of_other_weights_is_refused(lorenz_splits, tmp_path) -> None:
    """A rerun with other hyperparameters does not load weights of the wrong shapes, nor
    the state of another kind of training."""
    run = RunFiles(checkpoint_dir=tmp_path / "ckpt", epoch_log=tmp_path / "epochs.csv")
    _plrnn(epochs=1, checkpoint_every=1).fit(lorenz_splits["train"], device="cpu", run=run)
    assert (tmp_path / "ckpt" / trainer.CHECKPOINT_NAME).exists()
    with pytest.raises(ValueError, match="holds weights of shapes .* delete"):
        _plrnn(epochs=2, hidden_dim=7).fit(lorenz_splits["train"], device="cpu", run=run)
    # the node's vectorised (rk4, Adam) and lone (dopri5 or RAdam) paths hold other states
    node = methods.get("node")
    hp = {"epochs": 2, "batches_per_epoch": 1, "seq_len": 5, "hidden_dim": 4, "method": "rk4"}
    for i, (first, then) in enumerate((({}, {"optimizer": "radam"}), ({"optimizer": "radam"}, {}))):
        run = RunFiles(checkpoint_dir=tmp_path / f"node{i}", epoch_log=None)
        node(**hp, **first, checkpoint_every=1).fit(lorenz_splits["train"], device="cpu", run=run)
        with pytest.raises(ValueError, match="the state of another training.* delete"):
            node(**hp, **then).fit(lorenz_splits["train"], device="cpu", run=run)


def _documented_torch_method() -> type:
    """The torch method of docs/api.md (its one python block with a ``TrainingStep``)."""
    text = (Path(__file__).resolve().parents[2] / "docs" / "api.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", text, flags=re.S)
    (code,) = [b for b in blocks if "(TrainingStep)" in b]
    namespace: dict = {}
    exec(compile(code, "docs/api.md", "exec"), namespace)  # noqa: S102 (our own docs)
    return namespace["MyTorchMethod"]


def test_the_documented_torch_method_trains_through_the_one_loop(lorenz_splits, tmp_path):
    """The extension point as docs/api.md shows it: a step with a loss and a validation,
    fitted by train_one; it learns, keeps its best validated epoch, and a budget stop
    resumes to the uninterrupted weights."""
    cls = _documented_torch_method()
    train, val = lorenz_splits["train"], lorenz_splits["val"]
    whole = cls().fit(train, val, seed=3)
    r = whole.training_result_
    assert r.epochs_run == 20 and r.stopped_by == "epochs" and r.best_epoch in (5, 10, 15, 20)
    losses = [h["loss"] for h in r.history]
    assert losses[-1] < 0.2 * losses[0]  # it learns the one-step map
    run = RunFiles(tmp_path / "ckpt", tmp_path / "epochs.csv")
    first = cls().fit(train, val, seed=3, run=run, budget=0.0)
    assert first.training_result_.stopped_by == "budget"
    again = cls().fit(train, val, seed=3, run=run)
    assert again.training_result_.resumed_from == 1 and again.training_result_.epochs_run == 20
    assert log_epochs(tmp_path / "epochs.csv") == list(range(1, 21))
    for key, value in _weights(whole.net_).items():
        np.testing.assert_array_equal(_weights(again.net_)[key], value)
    assert np.all(np.isfinite(again.forecast(np.ones((1, 5, 3)), 4)))
