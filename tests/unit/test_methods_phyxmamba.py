"""PhyxMamba (Liu et al. 2025): delay embedding, patches, the MMD loss, the automatic
settings; resuming across its training stages is in e2e/test_methods_phyxmamba_e2e.py.

The contract (fit, save/load, seeds, beating persistence) is in
tests/unit/test_methods_contract.py.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch

from dsrbench.methods.phyxmamba import (
    PhyxMamba,
    delay_embed,
    delay_unembed,
    dominant_period,
    first_zero_of_autocorrelation,
    mmd2,
    nearest_divisor,
    patchify,
    unpatchify,
)


def test_delay_embedding_holds_the_lagged_states_and_patches_invert_exactly() -> None:
    rng = np.random.default_rng(0)
    x = torch.as_tensor(rng.normal(size=(2, 30, 3)))
    m, tau, size = 3, 7, 10
    e = delay_embed(x, m, tau)
    assert e.shape == (2, 30, 9)
    for b, t, k, d in itertools.product(range(2), range(30), range(m), range(3)):
        assert e[b, t, 3 * k + d] == x[b, max(t - k * tau, 0), d]
    p = patchify(e, size)
    assert p.shape == (2, 3, 90)
    # a token is the patch's consecutive embedded vectors
    np.testing.assert_array_equal(p[1, 2].reshape(10, 9), e[1, 20:30])
    back = delay_unembed(unpatchify(p, 9), 3)
    assert torch.equal(back, x)
    with pytest.raises(ValueError, match="patches of 7"):
        patchify(e, 7)


def test_mmd_is_zero_for_identical_samples_and_matches_a_double_loop() -> None:
    rng = np.random.default_rng(1)
    sigmas, alpha = (0.2, 0.5, 0.9, 1.3), 1.5
    x = torch.as_tensor(rng.normal(size=(2, 7, 3)))
    y = torch.as_tensor(rng.normal(size=(2, 5, 3)) + 0.3)
    assert torch.all(mmd2(x, x, sigmas, alpha) == 0)

    def k(a: np.ndarray, b: np.ndarray) -> float:
        d2 = float(np.sum((a - b) ** 2))
        return sum((1 + d2 / (2 * alpha * s**2)) ** -alpha for s in sigmas)

    got = mmd2(x, y, sigmas, alpha).numpy()
    for b in range(2):
        xs, ys = x[b].numpy(), y[b].numpy()
        kxx = np.mean([k(u, v) for u in xs for v in xs])
        kyy = np.mean([k(u, v) for u in ys for v in ys])
        kxy = np.mean([k(u, v) for u in xs for v in ys])
        assert got[b] == pytest.approx(kxx + kyy - 2 * kxy, rel=1e-12)
        assert got[b] > 0


def test_automatic_settings_follow_the_stated_rules() -> None:
    """On a sine of period 24 samples: the autocorrelation first reaches zero at a quarter
    period (6), the dominant period is 24, the token is the divisor of 30 nearest to 12."""
    t = np.arange(2400)
    phase = np.array([0.0, 1.0, 2.0])
    x = np.sin(2 * np.pi * t[None, :, None] / 24 + phase)
    x = np.concatenate([x, x[:, ::-1]])  # two trajectories
    assert first_zero_of_autocorrelation(x) == 6
    assert dominant_period(x) == pytest.approx(24.0)
    assert nearest_divisor(30, 12.0, 15) == 10  # 10 and 15 are 2 and 3 away
    assert nearest_divisor(30, 12.5, 15) == 10  # a tie: the smaller
    assert nearest_divisor(30, 40.0, 15) == 15
    settings = PhyxMamba().resolve_settings(x)
    assert settings == {"embedding_dim": 3, "delay": 6, "token_size": 10, "lookback": 30}
    # an explicit value wins; a delay is capped so that the lags stay in the window
    slow = np.sin(2 * np.pi * t[None, :, None] / 400 + phase)
    assert PhyxMamba().resolve_settings(slow)["delay"] == 14  # (30 - 1) // 2
    assert PhyxMamba(delay=7, token_size=5).resolve_settings(slow)["delay"] == 7
    with pytest.raises(ValueError, match="multiple of token_size"):
        PhyxMamba(token_size=7).resolve_settings(x)
