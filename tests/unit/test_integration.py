"""The batched integrator against dysts' own make_trajectory and against closed forms."""

from __future__ import annotations

import warnings

import dysts.flows
import numpy as np
import pytest

from dsrbench.integration import IntegrationError, simulate, simulate_robust, time_grid
from dsrbench.systems import UnknownSystemError, get_system_info

N = 200


def _dysts(name: str, n: int = N, **kw) -> np.ndarray:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        y = np.asarray(getattr(dysts.flows, name)().make_trajectory(n, **kw), dtype=float)
    return y[:, None] if y.ndim == 1 else y


def _window(name: str, pts: int = 100) -> int:
    info = get_system_info(name)
    lam = info.maximum_lyapunov_estimated
    return int(min(100, np.ceil(pts / (lam * info.period)))) if lam and lam > 0 else 100


@pytest.mark.parametrize(
    "name",
    [
        "Lorenz",  # the classic
        "Duffing",  # non-autonomous, unbounded phase coordinate post-processed by dysts
        "DoubleGyre",  # non-autonomous flow with a post-processed coordinate
        "CaTwoPlus",  # dysts' right-hand side is plain Python: our numba port is used
        "Lorenz96",  # vector-valued port
    ],
)
def test_matches_dysts_over_first_lyapunov_time(name: str) -> None:
    ref = _dysts(name)
    ours = simulate(name, N)
    assert ours.shape == (1, *ref.shape)
    w = _window(name)
    err = np.max(np.abs(ours[0, :w] - ref[:w]) / ref.std(axis=0))
    assert err < 1e-5, f"{name}: {err:.2e}"


def test_time_grid_is_dysts_grid() -> None:
    info = get_system_info("Lorenz")
    times, _ = simulate("Lorenz", 50, pts_per_period=10, return_times=True)
    np.testing.assert_allclose(times[0], np.linspace(0, info.period * 50 / 10, 50))
    np.testing.assert_allclose(
        time_grid(info, 50, 10, "lyapunov")[-1], 50 / 10 / info.maximum_lyapunov_estimated
    )


def test_delay_equation_converges_at_fourth_order_and_dysts_approaches_it() -> None:
    name = "MackeyGlass"
    info = get_system_info(name)
    n = 300
    spacing = info.period * n / 100 / (n - 1)
    ref = simulate(name, n, delay_step=spacing / 64)[0]
    errs = [np.max(np.abs(simulate(name, n, delay_step=spacing / k)[0] - ref)) for k in (1, 2, 4)]
    orders = np.log2(np.array(errs[:-1]) / np.array(errs[1:]))
    assert np.all(orders > 3.5), orders
    # dysts' ddeint is first order in its output spacing: refining it moves it towards us
    w = _window(name)
    std = ref.std(axis=0)
    coarse = np.max(np.abs(_dysts(name, n)[:w] - ref[:w]) / std)
    fine = np.max(np.abs(_dysts(name, 4 * n, pts_per_period=400)[::4][:w] - ref[:w]) / std)
    assert fine < coarse / 2.5
    assert fine < 0.05


def test_batch_equals_single_runs() -> None:
    rng = np.random.default_rng(1)
    ic = np.asarray(get_system_info("Rossler").initial_conditions)
    ics = ic + 0.1 * rng.standard_normal((5, 3))
    batch = simulate("Rossler", 100, initial_conditions=ics)
    for b in range(5):
        np.testing.assert_array_equal(
            batch[b], simulate("Rossler", 100, initial_conditions=ics[b])[0]
        )


def test_start_time_continues_a_time_dependent_trajectory() -> None:
    # Torus is the one dysts flow whose right-hand side reads t itself (dysts' 15
    # "nonautonomous" systems carry their phase as a state variable instead).
    times, raw = simulate("Torus", 200, postprocess=False, return_times=True)
    k = 100
    cont = simulate("Torus", 200, initial_conditions=raw[0, k], t0=times[0, k], postprocess=False)
    np.testing.assert_allclose(cont[0, : 200 - k], raw[0, k:], rtol=1e-8, atol=1e-8)
    wrong_phase = simulate("Torus", 200, initial_conditions=raw[0, k], postprocess=False)
    assert np.max(np.abs(wrong_phase[0, : 200 - k] - raw[0, k:])) > 1e-2


def test_transient_points_are_dropped() -> None:
    full = simulate("Lorenz", 300)
    cut = simulate("Lorenz", 200, transient=100)
    np.testing.assert_allclose(cut[0], full[0, 100:], rtol=1e-8, atol=1e-8)


def test_stiff_fallback_gives_the_same_trajectory() -> None:
    explicit = simulate("Rossler", 100)
    fallback = simulate("Rossler", 100, max_steps=3, rtol=1e-10, atol=1e-10)
    assert np.max(np.abs(explicit - fallback) / explicit[0].std(axis=0)) < 1e-5


def test_failure_is_reported_with_its_reason() -> None:
    with pytest.raises(IntegrationError, match="step budget"):
        simulate("Lorenz", 100, max_steps=3, fallback=False)
    with pytest.raises(IntegrationError, match="Lorenz"):
        simulate("Lorenz", 100, initial_conditions=[1e200, 1e200, 1e200])


def test_unknown_system_names_close_matches() -> None:
    with pytest.raises(UnknownSystemError, match="Lorenz"):
        simulate("Lorentz", 10)


def test_dynamical_noise_is_seeded_and_scaled() -> None:
    a = simulate("Lorenz", 200, dynamical_noise=0.025, seed=3)
    b = simulate("Lorenz", 200, dynamical_noise=0.025, seed=3)
    c = simulate("Lorenz", 200, dynamical_noise=0.025, seed=4)
    clean = simulate("Lorenz", 200)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    # the first output step differs from the noise-free one by about sigma * sqrt(dt)
    info = get_system_info("Lorenz")
    dt = info.period / 100 * 200 / 199
    sigma = 0.025 * np.asarray(info.std)
    first = np.abs(a[0, 1] - clean[0, 1]) / (sigma * np.sqrt(dt))
    assert np.all(first < 6) and np.any(first > 0.01)


def test_bad_timescale_is_named() -> None:
    with pytest.raises(ValueError, match="fourier"):
        simulate("Lorenz", 10, timescale="lyapnuov")


def test_an_escaping_orbit_is_a_blow_up_not_a_fallback() -> None:
    # a point 1e-3 std from dysts' default initial condition of Sakarya leaves the
    # attractor and grows without bound: reported at once, without the slow fallback
    with pytest.raises(IntegrationError, match="blow-up"):
        simulate("Sakarya", 1000, initial_conditions=[-2.89457901, 3.882217, 3.07721909])


def _scipy_reference(name: str, n: int) -> np.ndarray:
    """Independent reference: SciPy's DOP853 at rtol = atol = 1e-12 on dysts' own rhs."""
    from scipy.integrate import solve_ivp

    info = get_system_info(name)
    sys_ = getattr(dysts.flows, name)()
    grid = time_grid(info, n, 100, "fourier")
    sol = solve_ivp(
        lambda t, y: np.asarray(sys_.rhs(y, t)),
        (0, grid[-1]),
        np.asarray(info.initial_conditions),
        method="DOP853",
        t_eval=grid,
        rtol=1e-12,
        atol=1e-12,
    )
    return sol.y.T


def test_simulate_robust_uses_the_given_settings_when_they_work() -> None:
    run = simulate_robust("Rossler", 100)
    assert run.fallback is None and run.attempts == ()
    np.testing.assert_array_equal(run.x, simulate("Rossler", 100))


def test_simulate_robust_falls_back_along_the_chain() -> None:
    # a step budget of 3 makes every DOP853 attempt fail (the given tolerance, then 1e-9,
    # 1e-8, 1e-6): LSODA at 1e-8 is the first fallback that works
    run = simulate_robust("Rossler", 100, max_steps=3, fallback=False)
    assert run.fallback == "LSODA rtol=atol=1e-08"
    assert len(run.attempts) == 4 and all("step budget" in a for a in run.attempts)
    ref = _scipy_reference("Rossler", 100)
    assert np.max(np.abs(run.x[0] - ref) / ref.std(axis=0)) < 1e-4


def test_fixed_step_heun_matches_a_tight_reference() -> None:
    # the last resort of the chain: Heun at dysts' dt / 2, over one period of Lorenz
    heun = simulate("Lorenz", 100, solver="heun")
    ref = _scipy_reference("Lorenz", 100)
    err = np.max(np.abs(heun[0] - ref) / ref.std(axis=0))
    assert 1e-12 < err < 1e-3  # a different scheme, close to the reference
    with pytest.raises(ValueError, match="solver must be one of dop853, heun"):
        simulate("Lorenz", 10, solver="euler")
