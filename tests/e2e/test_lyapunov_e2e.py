"""The QR / Benettin method on the true Lorenz and Roessler systems, long enough to match
the literature's exponents (0.9056 and 0.0714); the short checks are in
unit/test_lyapunov.py."""

from __future__ import annotations

from dsrbench.integration.lyapunov import LyapunovEstimate, system_max_lyapunov


def test_lorenz() -> None:  # 10^6 QR steps
    est = system_max_lyapunov("Lorenz", n_steps=1_000_000, transient=20_000)
    assert isinstance(est, LyapunovEstimate)
    assert 0.8 < est.value < 1.0
    assert est.method.startswith("qr")
    assert est.n_steps == 1_000_000 and est.dt > 0


def test_rossler() -> None:  # 6 x 10^5 QR steps
    est = system_max_lyapunov("Rossler", n_steps=600_000, transient=20_000)
    assert 0.05 < est.value < 0.1
