"""The default ESN's learned map has Lorenz's largest Lyapunov exponent (a 10^4-step QR run)
and a bounded 2 x 10^4-step free run; the other reservoir tests are in
unit/test_methods_reservoir.py."""

from __future__ import annotations

import numpy as np
import pytest
from support import LORENZ_LAMBDA

from dsrbench import methods


def test_esn_learned_map_has_lorenz_largest_lyapunov_exponent(lorenz_splits) -> None:
    """QR method on the closed-loop Jacobian (10^4 steps, about 15 s): the default ESN's
    largest exponent is close to Lorenz's 0.906, and its long free run stays bounded."""
    from dsrbench.pipeline.predict import model_max_lyapunov

    model = methods.get("esn")().fit(lorenz_splits["train"])
    ctx = lorenz_splits["test"]["x"].values[:, :100]
    result = model_max_lyapunov(model, ctx, lorenz_splits["test"])
    print(f"ESN largest Lyapunov exponent {result['value']:.3f}")
    assert result["status"] == "ok"
    assert result["value"] == pytest.approx(LORENZ_LAMBDA, rel=0.2)
    run = model.generate(ctx, 20000)[0]
    assert np.all(np.isfinite(run))
    assert np.abs(run).max() < 2 * np.abs(lorenz_splits["train"]["x"].values).max()
