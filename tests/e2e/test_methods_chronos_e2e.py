"""The ``chronos`` adapter's 300-step forecast with a tiny random Chronos model (sampled
token by token, about 2.5 s a call here) equals three direct per-coordinate calls of the
package; the other chronos tests are in unit/test_methods_chronos.py. Skipped where the
chronos extra is not installed."""

from __future__ import annotations

import pytest

pytest.importorskip("chronos", reason="the chronos extra is not installed")

from support.chronos_models import H, check_forecast_equals_three_direct_calls  # noqa: E402


@pytest.mark.parametrize(("kind", "horizon"), [("chronos", H)])
def test_forecast_equals_three_direct_per_coordinate_calls(
    kind, horizon, tiny_chronos, lorenz_splits
):
    check_forecast_equals_three_direct_calls(kind, horizon, tiny_chronos[kind], lorenz_splits)
