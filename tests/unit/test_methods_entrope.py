"""EntroPE (Abeywickrama et al. 2025): the entropy boundary rule on entropy profiles with
known jumps, the same rule behind a trained entropy model on a signal that turns from
constant to noise, the tokeniser, the one-cycle schedule, and training that lowers both
losses. The contract tests (tests/test_methods_contract.py) cover fit, save/load, the seed
and the forecast on Lorenz-63."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from support.method_data import as_dataset

from dsrbench.methods.entrope import (
    EntroPE,
    bin_centers,
    one_cycle_lr,
    patch_starts,
    tokenize,
)


def starts_of(mask: torch.Tensor) -> list[list[int]]:
    return [np.flatnonzero(row.numpy()).tolist() for row in mask]


def step_profile(length: int = 40, jump: int = 25) -> torch.Tensor:
    """An entropy profile H_t: low (0.2, with wiggles under 0.1) before ``jump``, high (2.5,
    the same wiggles) from it on."""
    wiggle = 0.05 * torch.sin(torch.arange(length, dtype=torch.float64))
    return torch.where(torch.arange(length) < jump, 0.2, 2.5)[None] + wiggle


def test_the_relative_rule_starts_a_patch_where_the_entropy_jumps() -> None:
    h = step_profile()
    assert starts_of(patch_starts(h, rule="relative", threshold=0.25, max_patch_length=64)) == [
        [0, 25]
    ]
    # the global rule starts one at every high-entropy token, the combined rule only at the
    # rise (the previous token starts one, so the next does not)
    glob = patch_starts(h, rule="global", threshold=1.0, max_patch_length=64)
    assert starts_of(glob) == [[0, *range(25, 40)]]
    both = patch_starts(
        h, rule="global_and_relative", threshold=1.0, threshold_add=0.15, max_patch_length=64
    )
    assert starts_of(both) == [[0, 25]]
    # a falling entropy starts nothing
    assert starts_of(patch_starts(h.flip(1), threshold=0.25, max_patch_length=64)) == [[0]]


def test_patches_longer_than_the_maximum_are_cut_and_static_patches_are_fixed() -> None:
    h = step_profile()
    assert starts_of(patch_starts(h, threshold=0.25, max_patch_length=10)) == [[0, 10, 20, 25, 35]]
    assert starts_of(patch_starts(h, rule="static", max_patch_length=16)) == [[0, 16, 32]]
    with pytest.raises(ValueError, match="patching_rule"):
        patch_starts(h, rule="quantile")


def test_tokens_are_the_nearest_of_uniform_bins_after_mean_scaling() -> None:
    centers = bin_centers(3.0, 256)
    assert centers.numel() == 251 and centers[0] == -3.0 and centers[-1] == 3.0
    x = torch.tensor([[1.0, -1.0, 2.0, -2.0], [0.0, 0.0, 0.0, 0.0]])  # mean |x| 1.5 and 0
    ids = tokenize(x, centers)
    expected = [int(torch.argmin((centers - v / 1.5).abs())) + 5 for v in x[0]]
    assert ids[0].tolist() == expected
    assert ids[1].tolist() == [5 + 125] * 4  # the centre bin: zero
    assert (
        int(tokenize(torch.tensor([[100.0] + [0.0] * 9]), centers).max()) == 255
    )  # past the range: the last bin


def test_the_one_cycle_schedule_is_torchs() -> None:
    p = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.Adam([p], lr=1e-3)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=1e-3, total_steps=40, pct_start=0.5)
    for step in range(40):
        assert one_cycle_lr(step, 40, 1e-3, 0.5) == pytest.approx(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()


def constant_then_noise(length: int, seed: int) -> np.ndarray:
    """One channel ``(1, length, 1)`` of alternating stretches (30 to 70 points) of zeros and
    standard normal noise."""
    rng = np.random.default_rng(seed)
    parts, noisy = [], False
    while sum(map(len, parts)) < length:
        n = int(rng.integers(30, 70))
        parts.append(rng.standard_normal(n) if noisy else np.zeros(n))
        noisy = not noisy
    return np.concatenate(parts)[None, :length, None]


@pytest.fixture(scope="module")
def switch_model() -> EntroPE:
    """EntroPE with an entropy model trained on :func:`constant_then_noise` (80 batches at
    lr 1e-2)."""
    model = EntroPE(
        lookback=32,
        horizon=4,
        entropy_dim=16,
        entropy_epochs=4,
        entropy_lr=1e-2,
        entropy_batch_size=32,
        max_patch_length=32,
        dim=8,
        multiple_of=16,
        batch_size=32,
        batches_per_epoch=20,
        epochs=1,
    )
    return model.fit(as_dataset(constant_then_noise(4000, 0)), device="cpu", seed=0)


def test_trained_entropy_puts_a_boundary_where_a_constant_signal_turns_to_noise(
    switch_model,
) -> None:
    """Windows of 16 zeros then noise: the first noise value is a surprise, so the entropy of
    the next token jumps and a patch starts there (t = 17, one token of slack); nothing in
    the constant stretch starts one."""
    rng = np.random.default_rng(1)
    t0 = 16
    w = np.concatenate([np.zeros((8, t0)), rng.standard_normal((8, 32 - t0))], 1)
    ids = switch_model._ids(torch.as_tensor(w[..., None]))
    h = switch_model.entropy_net_.entropies(ids).detach()
    assert float(h[:, t0 + 1 :].mean()) > float(h[:, 1:t0].mean()) + 1.0
    for row in starts_of(switch_model.starts(ids)):
        assert row[0] == 0 and not set(row) & set(range(1, t0)), row
        assert set(row) & {t0, t0 + 1, t0 + 2}, row
    # the entropy model learnt: its cross-entropy fell over its epochs
    losses = [r["loss"] for r in switch_model.training_result_.history]
    assert losses[3] < losses[0] - 0.5


def test_training_lowers_the_forecast_loss_and_forecasts_are_finite() -> None:
    t = np.arange(800) * 2 * np.pi / 25
    x = np.stack([np.sin(t), np.cos(t)], -1)[None]
    settings = {**EntroPE.quick_hyperparameters, "entropy_epochs": 1, "epochs": 4}
    model = EntroPE(**settings).fit(as_dataset(x), device="cpu", seed=0)
    history = model.training_result_.history
    assert len(history) == 5  # 1 epoch of the entropy model, 4 of the forecaster
    assert history[-1]["loss"] < 0.5 * history[1]["loss"]
    pred = model.forecast(x[:, :100], 37)
    assert pred.shape == (1, 37, 2) and np.all(np.isfinite(pred))
