"""The numba ports in dsrbench.integration.ported reproduce dysts' Python ``rhs`` methods."""

import dysts.base
import dysts.flows
import dysts.systems
import numpy as np
import pytest

from dsrbench.integration.ported import PORTED, make_ported_rhs

N_STATES = 20


def _python_rhs_systems() -> set[str]:
    """dysts continuous non-delay systems whose class overrides ``DynSys.rhs``."""
    names = dysts.systems.get_attractor_list("continuous_no_delay")
    return {name for name in names if getattr(dysts.flows, name).rhs is not dysts.base.DynSys.rhs}


def _heaviside_rhs_systems() -> set[str]:
    """Systems whose plain-Python ``_rhs`` uses ``np.heaviside`` (numba cannot compile it)."""
    import inspect

    names = dysts.systems.get_attractor_list("continuous_no_delay")
    out = set()
    for name in names:
        fn = getattr(dysts.flows, name)._rhs
        if not hasattr(fn, "py_func") and "heaviside" in inspect.getsource(fn):
            out.add(name)
    return out


def test_ported_set_matches_dysts() -> None:
    assert set(PORTED) == _python_rhs_systems() | _heaviside_rhs_systems()
    assert _heaviside_rhs_systems() == {"FluidTrampoline"}


@pytest.mark.parametrize("name", sorted(PORTED))
def test_ported_rhs_matches_dysts(name: str) -> None:
    system = getattr(dysts.flows, name)()
    rhs = make_ported_rhs(system)
    ic = np.asarray(system.ic, dtype=np.float64)
    rng = np.random.default_rng(sorted(PORTED).index(name))
    out = np.empty_like(ic)
    for _ in range(N_STATES):
        X = ic + rng.normal(0.0, 0.1 * np.abs(ic) + 0.01)
        t = float(rng.uniform(0.0, 10.0))
        expected = np.asarray(system.rhs(X, t), dtype=np.float64)
        out[:] = np.nan
        rhs(t, np.ascontiguousarray(X), out)
        assert np.all(np.isfinite(expected)), f"dysts rhs not finite at {X}"
        np.testing.assert_allclose(out, expected, rtol=1e-12, atol=1e-12, err_msg=f"{name} {X}")


def test_make_ported_rhs_unknown_system() -> None:
    with pytest.raises(KeyError):
        make_ported_rhs(dysts.flows.Lorenz())
