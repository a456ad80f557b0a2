"""Registry of the 135 continuous chaotic systems of dysts 0.96.

The registry reads the metadata shipped with dysts (``dysts/data/chaotic_attractors.json``)
and the class membership reported by :func:`dysts.systems.get_attractor_list`: 129 ODE
flows (``DynSys``) and 6 delay equations (``DynSysDelay``). It imports only dysts, numpy
(through dysts) and the standard library, so that every other module can depend on it.

Lyapunov times: :attr:`SystemInfo.lyapunov_time` uses the "naive" estimate
``maximum_lyapunov_estimated`` of the metadata (the one dysts' ``make_trajectory`` uses for
``timescale="Lyapunov"``), not the first exponent of the QR spectrum
(``lyapunov_spectrum_estimated``); their ratio (naive / QR) falls below 0.44 on a tenth
of the systems and above 2.7 on another tenth (docs/metrics.md, Lyapunov times).
:data:`LYAPUNOV_TIME_SOURCE` records that choice.
"""

from __future__ import annotations

import csv
import difflib
import functools
import io
import json
import math
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from importlib.resources import files
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

__all__ = [
    "CHAOS_THRESHOLD",
    "LYAPUNOV_TIME_SOURCE",
    "ChaosFlag",
    "SystemInfo",
    "UnknownSystemError",
    "all_systems",
    "chaos_flag",
    "chaos_flags",
    "delay_systems",
    "dysts_system",
    "get_system_info",
    "lyapunov_time_flag",
    "resolve_systems",
    "systems_table",
]

#: Metadata field that :attr:`SystemInfo.lyapunov_time` is computed from.
LYAPUNOV_TIME_SOURCE = "maximum_lyapunov_estimated"

#: Embedding dimension dysts uses for the output of a delay equation.
DELAY_EMBEDDING_DIMENSION = 10

#: Threshold on ``lambda_max x period`` (our largest Lyapunov exponent times the dominant
#: Fourier period): at or above it a default orbit is chaotic; ``|.|`` below it the exponent is
#: 0 within the estimation noise (periodic or quasi-periodic); below ``-CHAOS_THRESHOLD`` the
#: orbit settles on a stable equilibrium. The rule of docs/lyapunov_exponents.md
#: (benchmarks/accuracy/lyapunov_table.py, verdicts).
CHAOS_THRESHOLD = 0.01

#: Package copy of docs/lyapunov_exponents.csv (written by benchmarks/accuracy/lyapunov_table.py).
LYAPUNOV_TABLE = "data/lyapunov_exponents.csv"

_LIST_HINT = "run `dsrbench systems` to list the {n} available systems"


class UnknownSystemError(KeyError):
    """A system name that is not one of the 135 continuous dysts systems.

    Attributes:
        names: the unknown names, in the order given.
        suggestions: for each unknown name, the closest known names (may be empty).
    """

    def __init__(self, names: str | Sequence[str], suggestions: dict[str, list[str]] | None = None):
        self.names: list[str] = [names] if isinstance(names, str) else list(names)
        if suggestions is None:
            suggestions = {n: suggest_systems(n) for n in self.names}
        self.suggestions = suggestions
        super().__init__(self._format())

    def _format(self) -> str:
        parts = []
        for name in self.names:
            hint = _describe_unknown(name, self.suggestions.get(name, []))
            parts.append(f"{name!r}{hint}")
        noun = "system" if len(self.names) == 1 else "systems"
        listing = _LIST_HINT.format(n=len(all_systems()))
        return f"unknown {noun} {', '.join(parts)}; {listing}"

    def __str__(self) -> str:  # KeyError.__str__ would repr() the message
        return str(self.args[0])


def _describe_unknown(name: str, suggestions: list[str]) -> str:
    notes = []
    if suggestions:
        notes.append("did you mean " + ", ".join(repr(s) for s in suggestions) + "?")
    if name in _discrete_maps():
        notes.append("it is a discrete map; only the continuous systems are supported")
    return f" ({'; '.join(notes)})" if notes else ""


def suggest_systems(name: str, n: int = 3) -> list[str]:
    """Closest known system names to ``name`` (case-insensitive match first)."""
    names = all_systems()
    lower = {s.lower(): s for s in names}
    out: list[str] = []
    if name.lower() in lower:
        out.append(lower[name.lower()])
    for match in difflib.get_close_matches(name.lower(), list(lower), n=n, cutoff=0.6):
        if lower[match] not in out:
            out.append(lower[match])
    for match in difflib.get_close_matches(name, names, n=n, cutoff=0.6):
        if match not in out:
            out.append(match)
    return out[:n]


@functools.cache
def _metadata() -> dict[str, dict[str, Any]]:
    from dysts.base import DATAPATH_CONTINUOUS

    with open(DATAPATH_CONTINUOUS) as fh:
        return json.load(fh)


@functools.cache
def _class_lists() -> tuple[tuple[str, ...], frozenset[str]]:
    from dysts.systems import get_attractor_list

    continuous = tuple(sorted(get_attractor_list("continuous")))
    delay = frozenset(get_attractor_list("delay"))
    return continuous, delay


@functools.cache
def _discrete_maps() -> frozenset[str]:
    try:
        from dysts.systems import get_attractor_list

        return frozenset(get_attractor_list("discrete"))
    except Exception:  # pragma: no cover - only a hint
        return frozenset()


def all_systems() -> list[str]:
    """The 135 continuous systems (129 flows + 6 delay equations), sorted by name."""
    return list(_class_lists()[0])


def delay_systems() -> list[str]:
    """The 6 delay equations, sorted by name."""
    return sorted(_class_lists()[1])


def _floats(values: Iterable[Any] | None) -> tuple[float, ...] | None:
    return None if values is None else tuple(float(v) for v in values)


def _opt_float(value: Any) -> float | None:
    return None if value is None else float(value)


@dataclass(frozen=True)
class SystemInfo:
    """Metadata of one continuous dysts system.

    ``dimension`` is the dimension of a simulated trajectory (for delay equations the
    embedding dimension 10 dysts uses); ``state_dimension`` the number of raw state
    variables (1 for the scalar state of a delay equation).
    """

    name: str
    dimension: int
    state_dimension: int
    is_delay: bool
    nonautonomous: bool
    unbounded_indices: tuple[int, ...]
    maximum_lyapunov_estimated: float | None
    lyapunov_spectrum: tuple[float, ...] | None
    period: float
    dt: float
    correlation_dimension: float | None
    kaplan_yorke_dimension: float | None
    parameters: dict[str, Any] = field(hash=False)
    initial_conditions: tuple[float, ...]
    mean: tuple[float, ...] | None
    std: tuple[float, ...] | None
    citation: str
    description: str
    delay_tau: float | None = None

    @property
    def lyapunov_time(self) -> float | None:
        """1 / ``maximum_lyapunov_estimated``; None when that exponent is not positive."""
        lam = self.maximum_lyapunov_estimated
        if lam is None or not math.isfinite(lam) or lam <= 0:
            return None
        return 1.0 / lam

    def sampling_period(
        self, pts_per_period: int, timescale: Literal["fourier", "lyapunov"] = "fourier"
    ) -> float:
        """Time between two output points at ``pts_per_period`` points per time scale.

        ``fourier``: per dominant Fourier ``period``; ``lyapunov``: per Lyapunov time
        (as dysts' ``make_trajectory``). Raises ValueError for a Lyapunov time scale on a
        system whose maximum exponent is not positive.
        """
        if pts_per_period <= 0:
            raise ValueError(f"pts_per_period must be > 0 (got {pts_per_period})")
        scale = timescale.lower()
        if scale == "fourier":
            return self.period / pts_per_period
        if scale == "lyapunov":
            tl = self.lyapunov_time
            if tl is None:
                raise ValueError(
                    f"{self.name} has no positive maximum Lyapunov exponent "
                    f"({self.maximum_lyapunov_estimated}); use timescale 'fourier'"
                )
            return tl / pts_per_period
        raise ValueError(f"timescale must be one of fourier, lyapunov (got {timescale!r})")

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly dict of the fields plus ``lyapunov_time``."""
        d = asdict(self)
        for k, v in d.items():
            if isinstance(v, tuple):
                d[k] = list(v)
        d["lyapunov_time"] = self.lyapunov_time
        return d


def _check(name: str) -> None:
    if not isinstance(name, str) or name not in _metadata() or name not in _class_lists()[0]:
        raise UnknownSystemError(str(name))


@functools.cache
def get_system_info(name: str) -> SystemInfo:
    """Metadata of ``name``; raises :class:`UnknownSystemError` for an unknown name."""
    _check(name)
    md = _metadata()[name]
    is_delay = name in _class_lists()[1]
    ic = _floats(md["initial_conditions"]) or ()
    params = dict(md.get("parameters") or {})
    return SystemInfo(
        name=name,
        dimension=int(md.get("embedding_dimension") or len(ic)),
        state_dimension=1 if is_delay else len(ic),
        is_delay=is_delay,
        nonautonomous=bool(md.get("nonautonomous", False)),
        unbounded_indices=tuple(int(i) for i in md.get("unbounded_indices") or ()),
        maximum_lyapunov_estimated=_opt_float(md.get("maximum_lyapunov_estimated")),
        lyapunov_spectrum=_floats(md.get("lyapunov_spectrum_estimated")),
        period=float(md["period"]),
        dt=float(md["dt"]),
        correlation_dimension=_opt_float(md.get("correlation_dimension")),
        kaplan_yorke_dimension=_opt_float(md.get("kaplan_yorke_dimension")),
        parameters=params,
        initial_conditions=ic,
        mean=_floats(md.get("mean")),
        std=_floats(md.get("std")),
        citation=str(md.get("citation") or ""),
        description=str(md.get("description") or ""),
        delay_tau=float(params["tau"]) if is_delay and "tau" in params else None,
    )


def resolve_systems(spec: str | Sequence[str]) -> list[str]:
    """Expand ``"all"`` or validate a list of names.

    Returns the names (``"all"``: all 135, sorted; a list: in the given order, without
    duplicates). Raises one :class:`UnknownSystemError` naming every unknown name.
    """
    if isinstance(spec, str):
        if spec == "all":
            return all_systems()
        spec = [spec]
    known = set(all_systems())
    unknown = [s for s in spec if s not in known]
    if unknown:
        raise UnknownSystemError([str(s) for s in unknown])
    return list(dict.fromkeys(spec))


def dysts_system(name: str) -> Any:
    """A fresh instance of the dysts class of ``name`` (default parameters)."""
    _check(name)
    import dysts.flows

    return getattr(dysts.flows, name)()


def systems_table(
    delay: bool | None = None,
    nonautonomous: bool | None = None,
    dim: int | None = None,
    name_contains: str | None = None,
    chaotic: bool | None = None,
) -> pd.DataFrame:
    """Registry table, optionally filtered.

    Columns: name, dim, delay, nonautonomous, lyapunov_max (dysts' naive estimate), period,
    dt, chaotic and chaos_reason (:func:`chaos_flag`, from our Lyapunov table). ``dim``
    filters on the output dimension; ``name_contains`` is case-insensitive; ``chaotic`` on
    the chaos flag.
    """
    import pandas as pd

    rows = []
    for name in all_systems():
        info = get_system_info(name)
        if delay is not None and info.is_delay != delay:
            continue
        if nonautonomous is not None and info.nonautonomous != nonautonomous:
            continue
        if dim is not None and info.dimension != dim:
            continue
        if name_contains and name_contains.lower() not in name.lower():
            continue
        if chaotic is not None and chaos_flag(name).chaotic != chaotic:
            continue
        rows.append(
            {
                "name": name,
                "dim": info.dimension,
                "delay": info.is_delay,
                "nonautonomous": info.nonautonomous,
                "lyapunov_max": info.maximum_lyapunov_estimated,
                "period": info.period,
                "dt": info.dt,
                "chaotic": chaos_flag(name).chaotic,
                "chaos_reason": chaos_flag(name).reason,
            }
        )
    columns = ["name", "dim", "delay", "nonautonomous", "lyapunov_max", "period", "dt"]
    columns += ["chaotic", "chaos_reason"]
    return pd.DataFrame(rows, columns=columns)


def metadata_path() -> Path:
    """Path of the dysts metadata file the registry reads."""
    from dysts.base import DATAPATH_CONTINUOUS

    return Path(DATAPATH_CONTINUOUS)


@dataclass(frozen=True)
class ChaosFlag:
    """Whether the orbit from dysts' default initial condition is chaotic.

    ``max_lyapunov`` is our largest Lyapunov exponent (QR / Benettin method over >= 1000
    periods, docs/lyapunov_exponents.md); ``reason`` states the rule and the value it was
    applied to. Rule (:data:`CHAOS_THRESHOLD` = c, p = dysts' dominant period):
    lambda_max x p >= c: chaotic; |lambda_max x p| < c: not chaotic, periodic or
    quasi-periodic (exponent 0 within the estimation noise); lambda_max x p <= -c: not
    chaotic, a stable equilibrium. The reason adds a caveat for the three systems with a
    discontinuous right-hand side (FluidTrampoline, SprottMore, StickSlipOscillator), whose
    exponent the table marks unreliable.
    """

    chaotic: bool
    reason: str
    max_lyapunov: float


def _classify(lam: float, period: float, note: str = "") -> ChaosFlag:
    lp = lam * period
    c = CHAOS_THRESHOLD
    if not math.isfinite(lp):
        raise ValueError(f"non-finite Lyapunov exponent {lam} in {LYAPUNOV_TABLE}")
    if lp >= c:
        reason = f"chaotic: lambda_max x period = {lp:.3g} >= {c}"
    elif lp > -c:
        reason = (
            f"not chaotic, periodic or quasi-periodic: |lambda_max x period| = {abs(lp):.3g} < {c} "
            "(exponent 0 within the estimation noise)"
        )
    else:
        reason = (
            f"not chaotic, equilibrium: lambda_max x period = {lp:.3g} <= -{c} "
            "(a stable fixed point)"
        )
    if "discontinuous right-hand side" in note:
        reason += (
            "; caveat: discontinuous right-hand side, so the exponent is unreliable "
            "(docs/lyapunov_exponents.md)"
        )
    return ChaosFlag(chaotic=lp >= c, reason=reason, max_lyapunov=float(lam))


@functools.cache
def _chaos_flags() -> dict[str, ChaosFlag]:
    text = files("dsrbench").joinpath(LYAPUNOV_TABLE).read_text()
    rows = {r["system"]: r for r in csv.DictReader(io.StringIO(text))}
    missing = [n for n in all_systems() if n not in rows]
    if missing:
        raise RuntimeError(
            f"{LYAPUNOV_TABLE} lacks {len(missing)} systems ({', '.join(missing[:5])}); "
            "rerun benchmarks/accuracy/lyapunov_table.py"
        )
    return {
        n: _classify(float(rows[n]["ours"]), get_system_info(n).period, rows[n]["note"])
        for n in all_systems()
    }


def chaos_flag(name: str) -> ChaosFlag:
    """The :class:`ChaosFlag` of ``name`` (from the package's Lyapunov table)."""
    _check(name)
    return _chaos_flags()[name]


def chaos_flags() -> dict[str, ChaosFlag]:
    """:class:`ChaosFlag` of all 135 systems, by name (sorted)."""
    return dict(_chaos_flags())


#: The fewest samples per dominant Fourier period that still resolve the oscillation (the
#: Nyquist rate): a Lyapunov-time granularity below it aliases the attractor.
MIN_POINTS_PER_PERIOD = 2.0


def lyapunov_time_flag(name: str, pts_per_lyapunov_time: float) -> ChaosFlag:
    """Whether ``name`` can be scored in Lyapunov times at ``pts_per_lyapunov_time``
    samples per Lyapunov time (the zero-shot protocol's 30, Zhang & Gilpin 2025), with the
    reason. ``chaotic`` is False when :func:`chaos_flag` calls the default orbit not
    chaotic (its Lyapunov time is then noise: dysts' metadata gives lambda_max down to
    3e-6), when the metadata's ``maximum_lyapunov_estimated`` (which sets the time step) is
    not positive, or when the granularity gives fewer than :data:`MIN_POINTS_PER_PERIOD`
    samples per dominant period (aliased)."""
    flag = chaos_flag(name)
    info = get_system_info(name)
    lam = info.maximum_lyapunov_estimated
    reasons = [] if flag.chaotic else [flag.reason]
    if lam is None or not lam > 0:
        reasons.append(f"metadata lambda_max = {lam} is not positive: no Lyapunov time")
    elif info.period:
        per_period = pts_per_lyapunov_time * lam * info.period
        if per_period < MIN_POINTS_PER_PERIOD:
            reasons.append(
                f"aliased: {pts_per_lyapunov_time:g} points per Lyapunov time give "
                f"{per_period:.2f} points per dominant period (< {MIN_POINTS_PER_PERIOD:g})"
            )
    if not reasons:
        return ChaosFlag(True, flag.reason, flag.max_lyapunov)
    return ChaosFlag(False, "; ".join(reasons), flag.max_lyapunov)
