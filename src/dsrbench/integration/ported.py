"""Numba ports of the dysts flows whose right-hand side is written in plain Python.

Most dysts 0.96 flows define a numba-jitted static ``_rhs(x, y, z, ..., t, *params)``, which a
compiled integrator can call directly.  The 17 systems below instead override
``DynSys.rhs(self, X, t)`` with ordinary Python (attribute look-ups on ``self``, ``np.matmul``,
``np.heaviside``, helper methods, tuple returns), so they cannot be called from numba-compiled
code.  This module re-implements exactly what each of those ``rhs`` methods computes, equation
by equation, as ``numba.njit`` closures.

Every factory takes a dysts system *instance*, reads its parameter values from the instance
attributes (the same ones ``rhs`` reads through ``self``), converts them to float64 scalars or
contiguous float64 arrays, and returns a compiled function::

    f(t: float, y: float64[::1], out: float64[::1]) -> None

that writes dy/dt at state ``y`` and time ``t`` into ``out`` without allocating.  ``out`` must
not alias ``y``.  The parameters are captured as closure variables, which numba freezes into
compile-time constants, so changing the system's parameters afterwards requires calling the
factory again.

Notes on the dysts implementations that are mirrored here on purpose:

* BlinkingRotlet, BlinkingVortex, InteriorSquirmer and LidDrivenCavityFlow switch between two
  velocity fields with a smooth periodic protocol that is driven by the *third state variable*
  (a clock with d/dt = 1), not by the time argument ``t``.  None of the 17 systems uses ``t``.
* CircadianRhythm's light forcing reads ``vc * ((0.5 + 0.5 cos th) + vmin) * (vmax - vmin)``
  (the parenthesisation is dysts', kept as is).
* MacArthur hard-codes 5 species (``X[:5]``); the remaining state entries are resources.
* Lorenz96 takes its dimension from the state vector (the dysts default is 4).
"""

from collections.abc import Callable

import numpy as np
from dysts.base import DynSys
from numba import njit
from numba.core.registry import CPUDispatcher

__all__ = ["PORTED", "make_ported_rhs"]

Factory = Callable[[DynSys], CPUDispatcher]


# --------------------------------------------------------------------------------------------
# parameter helpers (Python side)
# --------------------------------------------------------------------------------------------


def _scalar(system: DynSys, name: str) -> float:
    """A scalar attribute of ``system`` (as read by its ``rhs``), as a Python float."""
    return float(np.asarray(getattr(system, name), dtype=np.float64))


def _array(system: DynSys, name: str) -> np.ndarray:
    """An array attribute of ``system`` as a contiguous float64 array."""
    return np.ascontiguousarray(getattr(system, name), dtype=np.float64)


# --------------------------------------------------------------------------------------------
# shared compiled helpers
# --------------------------------------------------------------------------------------------


@njit(cache=False)
def _heaviside0(x: float) -> float:
    """``np.heaviside(x, 0)``: 0 for x <= 0, 1 for x > 0, nan for nan."""
    if x > 0.0:
        return 1.0
    if x <= 0.0:
        return 0.0
    return np.nan


@njit(cache=False)
def _protocol(t: float, tau: float) -> float:
    """The smooth square-wave switching protocol shared by the blinking flows (stiffness 20)."""
    stiffness = 20.0
    return 0.5 + 0.5 * np.tanh(tau * stiffness * np.sin(2 * np.pi * t / tau))


@njit(cache=False)
def _rotlet(r: float, theta: float, a: float, b: float, bc: float) -> tuple[float, float]:
    """``BlinkingRotlet._rotlet``: a rotlet velocity field in polar coordinates."""
    kappa = a**2 + (b**2 * r**2) / a**2 - 2 * b * r * np.cos(theta)
    gamma = (1 - r**2 / a**2) * (a**2 - (b**2 * r**2) / a**2)
    iota = (b**2 * r) / a**2 - b * np.cos(theta)
    zeta = b**2 + r**2 - 2 * b * r * np.cos(theta)
    nu = a**2 + b**2 - (2 * b**2 * r**2) / a**2
    vr = b * np.sin(theta) * (-bc * (gamma / kappa**2) - 1 / kappa + 1 / zeta)
    vth = (
        bc * (gamma * iota) / kappa**2
        + bc * r * nu / (a**2 * kappa)
        + iota / kappa
        - (r - b * np.cos(theta)) / zeta
    )
    return vr, vth


@njit(cache=False)
def _lid(x: float, y: float, a: float, b: float, u1: float, u2: float) -> tuple[float, float]:
    """``LidDrivenCavityFlow._lid``: the cavity velocity field for lid speeds ``u1``, ``u2``."""
    pi = np.pi
    prefactor1 = 2 * u1 * np.sin(pi * x / a) / (2 * b * pi + a * np.sinh(2 * pi * b / a))
    prefactor2 = 2 * u2 * np.sin(2 * pi * x / a) / (4 * b * pi + a * np.sinh(4 * pi * b / a))
    vx1 = -b * pi * np.sinh(pi * b / a) * np.sinh(pi * y / a) + np.cosh(pi * b / a) * (
        pi * y * np.cosh(pi * y / a) + a * np.sinh(pi * y / a)
    )
    vx2 = -2 * b * pi * np.sinh(2 * pi * b / a) * np.sinh(2 * pi * y / a) + np.cosh(
        2 * pi * b / a
    ) * (2 * pi * y * np.cosh(2 * pi * y / a) + a * np.sinh(2 * pi * y / a))
    vx = prefactor1 * vx1 + prefactor2 * vx2

    prefactor1 = 2 * pi * u1 * np.cos(pi * x / a) / (2 * b * pi + a * np.sinh(2 * pi * b / a))
    prefactor2 = 4 * pi * u2 * np.cos(2 * pi * x / a) / (4 * b * pi + a * np.sinh(4 * pi * b / a))
    vy1 = b * np.sinh(pi * b / a) * np.cosh(pi * y / a) - np.cosh(pi * b / a) * y * np.sinh(
        pi * y / a
    )
    vy2 = b * np.sinh(2 * pi * b / a) * np.cosh(2 * pi * y / a) - np.cosh(
        2 * pi * b / a
    ) * y * np.sinh(2 * pi * y / a)
    vy = prefactor1 * vy1 + prefactor2 * vy2
    return vx, vy


@njit(cache=False)
def _cnn_f(x: float) -> float:
    """``CellularNeuralNetwork.f``: the piecewise-linear saturation 0.5 (|x + 1| - |x - 1|)."""
    return 0.5 * (np.abs(x + 1) - np.abs(x - 1))


# --------------------------------------------------------------------------------------------
# one factory per system
# --------------------------------------------------------------------------------------------


def _anishchenko_astakhov(system: DynSys) -> CPUDispatcher:
    """dysts.flows.AnishchenkoAstakhov."""
    mu, eta = _scalar(system, "mu"), _scalar(system, "eta")

    @njit(cache=False)
    def rhs(t: float, y: np.ndarray, out: np.ndarray) -> None:
        x, yy, z = y[0], y[1], y[2]
        out[0] = mu * x + yy - x * z
        out[1] = -x
        out[2] = -eta * z + eta * _heaviside0(x) * x**2

    return rhs


def _beer_rnn(system: DynSys) -> CPUDispatcher:
    """dysts.flows.BeerRNN: (-X + w @ sigmoid(X + theta)) / tau, tau a per-neuron array."""
    w, theta = _array(system, "w"), _array(system, "theta")
    tau = np.ascontiguousarray(np.broadcast_to(_array(system, "tau"), theta.shape))
    n_out, n_in = w.shape

    @njit(cache=False)
    def rhs(t: float, y: np.ndarray, out: np.ndarray) -> None:
        for i in range(n_out):
            out[i] = 0.0
        for j in range(n_in):  # accumulate w @ sig column by column (same order as a dot)
            sig = 1.0 / (1.0 + np.exp(-(y[j] + theta[j])))
            for i in range(n_out):
                out[i] += w[i, j] * sig
        for i in range(n_out):
            out[i] = (-y[i] + out[i]) / tau[i]

    return rhs


def _blinking_rotlet(system: DynSys) -> CPUDispatcher:
    """dysts.flows.BlinkingRotlet (and BlinkingVortex, which inherits it unchanged)."""
    a, b, bc = _scalar(system, "a"), _scalar(system, "b"), _scalar(system, "bc")
    sigma, tau = _scalar(system, "sigma"), _scalar(system, "tau")

    @njit(cache=False)
    def rhs(t: float, y: np.ndarray, out: np.ndarray) -> None:
        r, theta, tt = y[0], y[1], y[2]
        weight = _protocol(tt, tau)  # driven by the clock variable tt, not by t
        dr1, dth1 = _rotlet(r, theta, a, b, bc)
        dr2, dth2 = _rotlet(r, theta, a, -b, bc)
        dr = weight * dr1 + (1 - weight) * dr2
        dth = (weight * dth1 + (1 - weight) * dth2) / r
        out[0] = sigma * dr
        out[1] = sigma * dth
        out[2] = 1.0

    return rhs


def _ca_two_plus(system: DynSys) -> CPUDispatcher:
    """dysts.flows.CaTwoPlus (and CaTwoPlusQuasiperiodic, which inherits it unchanged)."""
    V0, V1, V4 = _scalar(system, "V0"), _scalar(system, "V1"), _scalar(system, "V4")
    Vm2, Vm3, Vm5 = _scalar(system, "Vm2"), _scalar(system, "Vm3"), _scalar(system, "Vm5")
    K2, K5, Ka = _scalar(system, "K2"), _scalar(system, "K5"), _scalar(system, "Ka")
    Kd, Ky, Kz = _scalar(system, "Kd"), _scalar(system, "Ky"), _scalar(system, "Kz")
    beta, eps = _scalar(system, "beta"), _scalar(system, "eps")
    k, kf = _scalar(system, "k"), _scalar(system, "kf")
    m, n, p = _scalar(system, "m"), _scalar(system, "n"), _scalar(system, "p")

    @njit(cache=False)
    def rhs(t: float, y: np.ndarray, out: np.ndarray) -> None:
        z, yy, a = y[0], y[1], y[2]
        Vin = V0 + V1 * beta
        V2 = Vm2 * (z**2) / (K2**2 + z**2)
        V3 = (Vm3 * (z**m) / (Kz**m + z**m)) * (yy**2 / (Ky**2 + yy**2)) * (a**4 / (Ka**4 + a**4))
        V5 = Vm5 * (a**p / (K5**p + a**p)) * (z**n / (Kd**n + z**n))
        out[0] = Vin - V2 + V3 + kf * yy - k * z
        out[1] = V2 - V3 - kf * yy
        out[2] = beta * V4 - V5 - eps * a

    return rhs


def _cell_cycle(system: DynSys) -> CPUDispatcher:
    """dysts.flows.CellCycle: two coupled Goldbeter mitotic oscillators with shared rates."""
    Vm1, vi, K, V2 = (_scalar(system, s) for s in ("Vm1", "vi", "K", "V2"))
    Vm3, V4, Kc, vd = (_scalar(system, s) for s in ("Vm3", "V4", "Kc", "vd"))
    Kd1, kd1, Kim = (_scalar(system, s) for s in ("Kd1", "kd1", "Kim"))

    @njit(cache=False)
    def rhs(t: float, y: np.ndarray, out: np.ndarray) -> None:
        c1, m1, x1, c2, m2, x2 = y[0], y[1], y[2], y[3], y[4], y[5]
        V1 = Vm1 * c1 / (Kc + c1)
        U1 = Vm1 * c2 / (Kc + c2)
        V3 = m1 * Vm3
        U3 = m2 * Vm3
        out[0] = vi * Kim / (Kim + m2) - vd * x1 * c1 / (Kd1 + c1) - kd1 * c1
        out[3] = vi * Kim / (Kim + m1) - vd * x2 * c2 / (Kd1 + c2) - kd1 * c2
        out[1] = V1 * (1 - m1) / (K + (1 - m1)) - V2 * m1 / (K + m1)
        out[4] = U1 * (1 - m2) / (K + (1 - m2)) - V2 * m2 / (K + m2)
        out[2] = V3 * (1 - x1) / (K + (1 - x1)) - V4 * x1 / (K + x1)
        out[5] = U3 * (1 - x2) / (K + (1 - x2)) - V4 * x2 / (K + x2)

    return rhs


def _cellular_neural_network(system: DynSys) -> CPUDispatcher:
    """dysts.flows.CellularNeuralNetwork."""
    a, b, c, d = (_scalar(system, s) for s in ("a", "b", "c", "d"))

    @njit(cache=False)
    def rhs(t: float, y: np.ndarray, out: np.ndarray) -> None:
        fx, fy, fz = _cnn_f(y[0]), _cnn_f(y[1]), _cnn_f(y[2])
        out[0] = -y[0] + d * fx - b * fy - b * fz
        out[1] = -y[1] - b * fx + c * fy - a * fz
        out[2] = -y[2] - b * fx + a * fy + fz

    return rhs


def _circadian_rhythm(system: DynSys) -> CPUDispatcher:
    """dysts.flows.CircadianRhythm (th is a phase angle advancing at 2 pi / ps)."""
    Ki, k, k1, k2 = (_scalar(system, s) for s in ("Ki", "k", "k1", "k2"))
    kd, kdn, km, ks = (_scalar(system, s) for s in ("kd", "kdn", "km", "ks"))
    n, ps, vc, vd = (_scalar(system, s) for s in ("n", "ps", "vc", "vd"))
    vdn, vm, vmax, vmin = (_scalar(system, s) for s in ("vdn", "vm", "vmax", "vmin"))

    @njit(cache=False)
    def rhs(t: float, y: np.ndarray, out: np.ndarray) -> None:
        m, fc, fs, fn, th = y[0], y[1], y[2], y[3], y[4]
        vs = vc * ((0.5 + 0.5 * np.cos(th)) + vmin) * (vmax - vmin)
        out[0] = vs * (Ki**n) / (Ki**n + fn**n) - vm * m / (km + m)
        out[1] = ks * m - k1 * fc + k2 * fn - k * fc
        out[2] = k * fc - vd * fs / (kd + fs)
        out[3] = k1 * fc - k2 * fn - vdn * fn / (kdn + fn)
        out[4] = 2 * np.pi / ps

    return rhs


def _colpitts(system: DynSys) -> CPUDispatcher:
    """dysts.flows.Colpitts."""
    a, b, c, d, e = (_scalar(system, s) for s in ("a", "b", "c", "d", "e"))

    @njit(cache=False)
    def rhs(t: float, y: np.ndarray, out: np.ndarray) -> None:
        x, yy, z = y[0], y[1], y[2]
        u = z - (e - 1)
        fz = -u * (1 - _heaviside0(u))
        out[0] = yy - a * fz
        out[1] = c - x - b * yy - z
        out[2] = yy - d * z

    return rhs


def _excitable_cell(system: DynSys) -> CPUDispatcher:
    """dysts.flows.ExcitableCell (Chay's pancreatic beta-cell model; vm, vn are unused)."""
    ams, amvb, amvo, ar = (_scalar(system, s) for s in ("ams", "amvb", "amvo", "ar"))
    bms, bmr, bmo = (_scalar(system, s) for s in ("bms", "bmr", "bmo"))
    ahs, ahr, aho = (_scalar(system, s) for s in ("ahs", "ahr", "aho"))
    bhr, bho = _scalar(system, "bhr"), _scalar(system, "bho")
    ans, anvb, anvo = (_scalar(system, s) for s in ("ans", "anvb", "anvo"))
    bns, bnr, bno, tscl = (_scalar(system, s) for s in ("bns", "bnr", "bno", "tscl"))
    gi, gkv, gkc, gl = (_scalar(system, s) for s in ("gi", "gkv", "gkc", "gl"))
    vi, vk, vl, vc = (_scalar(system, s) for s in ("vi", "vk", "vl", "vc"))
    rho, kc = _scalar(system, "rho"), _scalar(system, "kc")

    @njit(cache=False)
    def rhs(t: float, y: np.ndarray, out: np.ndarray) -> None:
        v, n, c = y[0], y[1], y[2]

        alpham = ams * (amvb + v) / (1 - np.exp(-ar * v - amvo))
        betam = bms * np.exp(-bmr * v - bmo)
        minf = alpham / (alpham + betam)

        alphah = ahs * np.exp(-ahr * v - aho)
        betah = 1 / (1 + np.exp(-bhr * v - bho))
        hinf = alphah / (alphah + betah)

        alphan = ans * (anvb + v) / (1 - np.exp(-ar * v - anvo))
        betan = bns * np.exp(-bnr * v - bno)
        ninf = alphan / (alphan + betan)
        tau = 1 / (tscl * (alphan + betan))

        ca = c / (1 + c)

        out[0] = (
            gi * minf**3 * hinf * (vi - v)
            + gkv * n**4 * (vk - v)
            + gkc * ca * (vk - v)
            + gl * (vl - v)
        )
        out[1] = (ninf - n) / tau
        out[2] = rho * (minf**3 * hinf * (vc - v) - kc * c)

    return rhs


def _hopfield(system: DynSys) -> CPUDispatcher:
    """dysts.flows.Hopfield: -X / tau + (1 + tanh(eps * k @ X)) / 2 - beta."""
    k = _array(system, "k")
    tau, eps, beta = _scalar(system, "tau"), _scalar(system, "eps"), _scalar(system, "beta")
    n_out, n_in = k.shape

    @njit(cache=False)
    def rhs(t: float, y: np.ndarray, out: np.ndarray) -> None:
        for i in range(n_out):
            drive = 0.0
            for j in range(n_in):
                drive += k[i, j] * y[j]
            out[i] = -y[i] / tau + (1 + np.tanh(eps * drive)) / 2 - beta

    return rhs


def _interior_squirmer(system: DynSys) -> CPUDispatcher:
    """dysts.flows.InteriorSquirmer: modes a (sin) and g (cos) blinked by the clock variable."""
    a, g = _array(system, "a"), _array(system, "g")
    tau = _scalar(system, "tau")
    n_modes = a.shape[0]

    @njit(cache=False)
    def rhs(t: float, y: np.ndarray, out: np.ndarray) -> None:
        r, th, tt = y[0], y[1], y[2]
        phase = _protocol(tt, tau)  # driven by the clock variable tt, not by t
        sum_vr = 0.0
        sum_vth = 0.0
        for i in range(n_modes):
            nval = float(i + 1)
            ai = a[i] * phase
            gi = g[i] * (1 - phase)
            sinval, cosval = np.sin(th * nval), np.cos(th * nval)
            rnval = r**nval
            vrn = (gi * cosval + ai * sinval) * ((nval * rnval * (r**2 - 1)) / r)
            vth = (2 * r + (r**2 - 1) * nval / r) * (ai * cosval - gi * sinval) * rnval
            sum_vr += vrn
            sum_vth += vth
        out[0] = sum_vr
        out[1] = sum_vth / r
        out[2] = 1.0

    return rhs


def _lid_driven_cavity_flow(system: DynSys) -> CPUDispatcher:
    """dysts.flows.LidDrivenCavityFlow: lid velocity u1 flips sign with the clock variable."""
    a, b, tau = _scalar(system, "a"), _scalar(system, "b"), _scalar(system, "tau")
    u1, u2 = _scalar(system, "u1"), _scalar(system, "u2")

    @njit(cache=False)
    def rhs(t: float, y: np.ndarray, out: np.ndarray) -> None:
        x, yy, tt = y[0], y[1], y[2]
        weight = _protocol(tt, tau)  # driven by the clock variable tt, not by t
        dx1, dy1 = _lid(x, yy, a, b, u1, u2)
        dx2, dy2 = _lid(x, yy, a, b, -u1, u2)
        out[0] = weight * dx1 + (1 - weight) * dx2
        out[1] = weight * dy1 + (1 - weight) * dy2
        out[2] = 1.0

    return rhs


def _lorenz96(system: DynSys) -> CPUDispatcher:
    """dysts.flows.Lorenz96 (cyclic; the dimension is taken from the state vector)."""
    f = _scalar(system, "f")

    @njit(cache=False)
    def rhs(t: float, y: np.ndarray, out: np.ndarray) -> None:
        n = y.shape[0]
        out[0] = (y[1] - y[-2]) * y[-1] - y[0] + f
        out[1] = (y[2] - y[-1]) * y[0] - y[1] + f
        out[-1] = (y[0] - y[-3]) * y[-2] - y[-1] + f
        for i in range(2, n - 1):
            out[i] = (y[i + 1] - y[i - 2]) * y[i - 1] - y[i] + f

    return rhs


def _mac_arthur(system: DynSys) -> CPUDispatcher:
    """dysts.flows.MacArthur: 5 species (Liebig minimum of Monod terms) on the resources."""
    k, c, s = _array(system, "k"), _array(system, "c"), _array(system, "s")
    r, m, d = _scalar(system, "r"), _scalar(system, "m"), _scalar(system, "d")
    n_species = 5  # dysts hard-codes X[:5] / X[5:]
    n_resources = s.shape[0]
    if k.shape != (n_resources, n_species) or c.shape != (n_resources, n_species):
        raise ValueError(f"MacArthur: unexpected parameter shapes k{k.shape}, c{c.shape}")

    @njit(cache=False)
    def rhs(t: float, y: np.ndarray, out: np.ndarray) -> None:
        for a in range(n_resources):
            out[n_species + a] = 0.0  # accumulates c @ (mu * nn)
        for b in range(n_species):
            # mu_b = min over resources a of r * R_a / (k[a, b] + R_a), nan-propagating
            mu = np.inf
            for a in range(n_resources):
                rr = y[n_species + a]
                u = r * (rr / (k[a, b] + rr))
                if u < mu or np.isnan(u):
                    mu = u
                if np.isnan(mu):
                    break
            nn = y[b]
            out[b] = nn * (mu - m)
            for a in range(n_resources):
                out[n_species + a] += c[a, b] * (mu * nn)
        for a in range(n_resources):
            out[n_species + a] = d * (s[a] - y[n_species + a]) - out[n_species + a]

    return rhs


def _multi_chua(system: DynSys) -> CPUDispatcher:
    """dysts.flows.MultiChua: Chua circuit with a 5-breakpoint piecewise-linear diode."""
    a, b = _scalar(system, "a"), _scalar(system, "b")
    m, c = _array(system, "m"), _array(system, "c")

    @njit(cache=False)
    def rhs(t: float, y: np.ndarray, out: np.ndarray) -> None:
        x, yy, z = y[0], y[1], y[2]
        diode = m[-1] * x
        for i in range(1, 6):
            diode += 0.5 * (m[i - 1] - m[i]) * (np.abs(x + c[i]) - np.abs(x - c[i]))
        out[0] = a * (yy - diode)
        out[1] = x - yy + z
        out[2] = -b * yy

    return rhs


def _fluid_trampoline(system: DynSys) -> CPUDispatcher:
    """dysts.flows.FluidTrampoline: its ``_rhs`` is plain Python and uses ``np.heaviside``,
    which numba does not compile."""
    gamma, psi, w = _scalar(system, "gamma"), _scalar(system, "psi"), _scalar(system, "w")

    @njit(cache=False)
    def rhs(t: float, y: np.ndarray, out: np.ndarray) -> None:
        x, v, th = y[0], y[1], y[2]
        out[0] = v
        out[1] = -1.0 - _heaviside0(-x) * (x + psi * v * np.abs(v)) + gamma * np.cos(th)
        out[2] = w

    return rhs


PORTED: dict[str, Factory] = {
    "AnishchenkoAstakhov": _anishchenko_astakhov,
    "BeerRNN": _beer_rnn,
    "BlinkingRotlet": _blinking_rotlet,
    "BlinkingVortex": _blinking_rotlet,
    "CaTwoPlus": _ca_two_plus,
    "CaTwoPlusQuasiperiodic": _ca_two_plus,
    "CellCycle": _cell_cycle,
    "CellularNeuralNetwork": _cellular_neural_network,
    "CircadianRhythm": _circadian_rhythm,
    "Colpitts": _colpitts,
    "ExcitableCell": _excitable_cell,
    "FluidTrampoline": _fluid_trampoline,
    "Hopfield": _hopfield,
    "InteriorSquirmer": _interior_squirmer,
    "LidDrivenCavityFlow": _lid_driven_cavity_flow,
    "Lorenz96": _lorenz96,
    "MacArthur": _mac_arthur,
    "MultiChua": _multi_chua,
}


def make_ported_rhs(system: DynSys) -> CPUDispatcher:
    """Compiled ``f(t, y, out)`` for a dysts system whose ``rhs`` is plain Python.

    Raises ``KeyError`` if the system's class has no port in :data:`PORTED`.
    """
    name = type(system).__name__
    if name not in PORTED:
        raise KeyError(f"no numba port for dysts system {name!r}")
    return PORTED[name](system)
