"""The system registry against the dysts 0.96 metadata (docs/protocols.md, Systems)."""

from __future__ import annotations

import math
import subprocess
import sys

import pytest

from dsrbench.systems import (
    CHAOS_THRESHOLD,
    LYAPUNOV_TIME_SOURCE,
    ChaosFlag,
    SystemInfo,
    UnknownSystemError,
    all_systems,
    chaos_flag,
    chaos_flags,
    delay_systems,
    dysts_system,
    get_system_info,
    resolve_systems,
    systems_table,
)

DELAY = ["IkedaDelay", "MackeyGlass", "PiecewiseCircuit", "ScrollDelay", "SprottDelay", "VossDelay"]


def test_counts():
    names = all_systems()
    assert len(names) == 135 and names == sorted(names) and len(set(names)) == 135
    assert delay_systems() == DELAY
    infos = [get_system_info(n) for n in names]
    assert sum(not i.is_delay for i in infos) == 129
    assert sum(i.is_delay for i in infos) == 6
    assert sum(i.nonautonomous for i in infos) == 15
    assert sum(bool(i.unbounded_indices) for i in infos) == 19


@pytest.mark.parametrize("name", all_systems())
def test_metadata_is_consistent(name):
    info = get_system_info(name)
    assert isinstance(info, SystemInfo) and info.name == name
    assert info.period > 0 and info.dt > 0
    assert len(info.initial_conditions) == info.dimension
    if info.is_delay:
        assert info.dimension == 10 and info.state_dimension == 1
        assert info.delay_tau is not None and info.delay_tau > 0
    else:
        assert info.state_dimension == info.dimension and info.delay_tau is None
    assert all(0 <= i < info.dimension for i in info.unbounded_indices)
    for stat in (info.mean, info.std):
        assert stat is None or len(stat) == info.dimension
    if info.lyapunov_spectrum is not None:
        assert len(info.lyapunov_spectrum) == info.dimension
    assert info.citation


def test_lorenz_and_mackey_glass_fields():
    lorenz = get_system_info("Lorenz")
    assert (lorenz.dimension, lorenz.state_dimension, lorenz.is_delay) == (3, 3, False)
    assert lorenz.parameters == {"beta": 2.667, "rho": 28, "sigma": 10}
    assert lorenz.lyapunov_time == pytest.approx(1 / lorenz.maximum_lyapunov_estimated)
    assert lorenz.sampling_period(100) == pytest.approx(lorenz.period / 100)
    assert lorenz.sampling_period(30, "lyapunov") == pytest.approx(lorenz.lyapunov_time / 30)
    assert lorenz.sampling_period(30, "Lyapunov") == lorenz.sampling_period(30, "lyapunov")
    with pytest.raises(ValueError, match="timescale must be one of"):
        lorenz.sampling_period(30, "hours")
    with pytest.raises(ValueError, match="pts_per_period"):
        lorenz.sampling_period(0)
    mg = get_system_info("MackeyGlass")
    assert mg.is_delay and mg.delay_tau == 16 and mg.dimension == 10
    assert LYAPUNOV_TIME_SOURCE == "maximum_lyapunov_estimated"
    d = lorenz.to_dict()
    assert d["lyapunov_time"] == lorenz.lyapunov_time and isinstance(d["mean"], list)


def test_known_metadata_gaps():
    assert get_system_info("AtmosphericRegime").lyapunov_spectrum is None
    torus = get_system_info("Torus")
    assert torus.lyapunov_spectrum[0] <= 0  # the QR spectrum's first exponent
    assert torus.lyapunov_time == pytest.approx(1 / torus.maximum_lyapunov_estimated)
    nonpositive = SystemInfo(**{**torus.__dict__, "maximum_lyapunov_estimated": 0.0})
    assert nonpositive.lyapunov_time is None
    with pytest.raises(ValueError, match="no positive maximum Lyapunov exponent"):
        nonpositive.sampling_period(30, "lyapunov")
    assert not math.isnan(nonpositive.sampling_period(30))


def test_unknown_system_error_suggests():
    with pytest.raises(UnknownSystemError) as info:
        get_system_info("lorenz")
    err = info.value
    assert isinstance(err, KeyError)
    assert err.names == ["lorenz"] and err.suggestions["lorenz"][0] == "Lorenz"
    msg = str(err)
    assert msg.startswith("unknown system 'lorenz' (did you mean 'Lorenz'")
    assert "dsrbench systems" in msg and "135" in msg
    with pytest.raises(UnknownSystemError, match="'Rosler' \\(did you mean 'Rossler'"):
        dysts_system("Rosler")
    with pytest.raises(UnknownSystemError, match="discrete map"):
        get_system_info("Henon")


def test_resolve_systems():
    assert resolve_systems("all") == all_systems()
    assert resolve_systems(["Rossler", "Lorenz", "Rossler"]) == ["Rossler", "Lorenz"]
    assert resolve_systems("Lorenz") == ["Lorenz"]
    with pytest.raises(UnknownSystemError) as info:
        resolve_systems(["Lorenz", "Lorenz63", "Xyzzy", "chen"])
    assert info.value.names == ["Lorenz63", "Xyzzy", "chen"]
    msg = str(info.value)
    assert msg.startswith("unknown systems 'Lorenz63' (did you mean")
    assert "'Xyzzy'" in msg and "'chen' (did you mean 'Chen'" in msg


def test_dysts_system_instance():
    lorenz = dysts_system("Lorenz")
    assert type(lorenz).__name__ == "Lorenz" and lorenz.name == "Lorenz"
    assert type(dysts_system("MackeyGlass")).__mro__[1].__name__ == "DynSysDelay"


def test_systems_table_filters():
    full = systems_table()
    assert list(full.columns) == [
        "name",
        "dim",
        "delay",
        "nonautonomous",
        "lyapunov_max",
        "period",
        "dt",
        "chaotic",
        "chaos_reason",
    ]
    assert len(full) == 135
    assert list(systems_table(delay=True)["name"]) == DELAY
    assert len(systems_table(delay=False)) == 129
    assert len(systems_table(nonautonomous=True)) == 15
    assert set(systems_table(dim=3)["dim"]) == {3}
    assert list(systems_table(name_contains="LORENZ")["name"]) == [
        n for n in all_systems() if "lorenz" in n.lower()
    ]
    assert systems_table(delay=True, nonautonomous=True).empty
    assert set(systems_table(chaotic=False)["name"]) == NOT_CHAOTIC
    assert len(systems_table(chaotic=True)) == 135 - len(NOT_CHAOTIC)


def test_cli_systems_delay():
    out = subprocess.run(
        [sys.executable, "-m", "dsrbench.cli", "systems", "--delay"],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout
    lines = out.strip().splitlines()
    assert lines[0].split() == [
        "name",
        "dim",
        "delay",
        "nonautonomous",
        "lyapunov_max",
        "period",
        "dt",
        "chaotic",
        "chaos_reason",
    ]
    assert [line.split()[0] for line in lines[1:]] == DELAY


NOT_CHAOTIC = {
    "BickleyJet", "Bouali2", "CaTwoPlusQuasiperiodic", "CircadianRhythm", "DequanLi",
    "DoublePendulum", "ForcedFitzHughNagumo", "ForcedVanDerPol", "HenonHeiles",
    "KawczynskiStrizhak", "MackeyGlass", "PanXuZhou", "SprottA", "StickSlipOscillator", "Torus",
    "Tsucs2",
}  # fmt: skip


def test_chaos_flags_follow_the_lyapunov_table():
    import csv
    from pathlib import Path

    repo = Path(__file__).resolve().parents[2]
    # the package copy is the docs table (benchmarks/accuracy/lyapunov_table.py writes both)
    shipped = repo / "src" / "dsrbench" / "data" / "lyapunov_exponents.csv"
    assert shipped.read_bytes() == (repo / "docs" / "lyapunov_exponents.csv").read_bytes()
    rows = {r["system"]: r for r in csv.DictReader(open(repo / "docs" / "lyapunov_exponents.csv"))}
    flags = chaos_flags()
    assert list(flags) == all_systems()
    assert {n for n, f in flags.items() if not f.chaotic} == NOT_CHAOTIC
    for name, f in flags.items():
        assert isinstance(f, ChaosFlag) and f == chaos_flag(name)
        assert f.max_lyapunov == float(rows[name]["ours"])
        lp = float(rows[name]["lambda_times_period"])
        assert f.chaotic == (lp >= CHAOS_THRESHOLD)
        assert ("not chaotic" in f.reason) != f.chaotic and str(CHAOS_THRESHOLD) in f.reason
    assert chaos_flag("Lorenz").chaotic and chaos_flag("Lorenz").max_lyapunov == pytest.approx(
        0.9056, rel=0.02
    )  # literature value
    assert "periodic or quasi-periodic" in chaos_flag("DoublePendulum").reason
    caveat = {n for n, f in flags.items() if "caveat: discontinuous" in f.reason}
    assert caveat == {"FluidTrampoline", "SprottMore", "StickSlipOscillator"}
    with pytest.raises(AttributeError):
        flags["Lorenz"].chaotic = False  # frozen
    with pytest.raises(UnknownSystemError):
        chaos_flag("Lorentz")


def test_pan_xu_zhou_is_flagged_as_its_stable_equilibrium():
    # independent reference: the largest real part of the Jacobian eigenvalues at the fixed
    # point the default orbit settles on (scipy root + finite-difference Jacobian of dysts' rhs)
    import numpy as np
    from scipy.optimize import root

    sys_ = dysts_system("PanXuZhou")
    f = lambda x: np.asarray(sys_.rhs(x, 0.0))  # noqa: E731
    x0 = root(f, [-6.5, -6.5, 16.0], tol=1e-12).x
    jac = np.column_stack([(f(x0 + h) - f(x0 - h)) / 2e-6 for h in 1e-6 * np.eye(3)])
    flag = chaos_flag("PanXuZhou")
    assert not flag.chaotic and "equilibrium" in flag.reason
    assert flag.max_lyapunov == pytest.approx(np.linalg.eigvals(jac).real.max(), rel=0.01)
