"""One look for every page: a fixed colour and label per method, figure helpers.

A method's colour and label are its class's ``color`` and ``label`` (read from its source
by :func:`dsrbench.methods.traits`, without importing it); :data:`METHOD_COLORS` and
:data:`METHOD_LABELS` hold those of the ``truth`` oracle and the truth ``floor``; a method
that declares no colour gets one from :data:`EXTRA_COLORS` chosen by a hash of its name,
so it is the same on every page and in every run.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from typing import Any

import matplotlib

matplotlib.use("Agg")

from matplotlib.figure import Figure  # noqa: E402  (after selecting the backend)

from dsrbench.references import REFERENCES, TRUTH

__all__ = [
    "METHOD_COLORS",
    "METHOD_ORDER",
    "method_color",
    "method_label",
    "new_figure",
    "no_data",
    "order_methods",
    "system_color",
]

#: display order of the known methods (others follow alphabetically)
METHOD_ORDER = (
    TRUTH,
    "phyxmamba",
    "koopman_ae",
    "shplrnn_gtf",
    "alrnn",
    "node",
    "esn",
    "nvar",
    "sindy",
    "edmd",
    "var",
    "persistence",
    "mean",
)

#: colours of what is not a method class: the ``truth`` oracle and the truth ``floor`` (a
#: method declares its own: ``Method.color``)
METHOD_COLORS: dict[str, str] = {name: ref.color for name, ref in REFERENCES.items()}

#: labels of what is not a method class (a method declares its own: ``Method.label``)
METHOD_LABELS: dict[str, str] = {name: ref.label for name, ref in REFERENCES.items()}

#: colours for methods that declare none (tab20's darker half, then others)
EXTRA_COLORS = (
    "#637939",
    "#8c6d31",
    "#843c39",
    "#7b4173",
    "#3182bd",
    "#e6550d",
    "#31a354",
    "#756bb1",
    "#636363",
)

#: colours of systems where several systems share a panel (method pages)
SYSTEM_COLORS = (
    "#1b9e77",
    "#d95f02",
    "#7570b3",
    "#e7298a",
    "#66a61e",
    "#e6ab02",
    "#a6761d",
    "#666666",
    "#1f78b4",
    "#b2df8a",
)


def _stable_index(name: str, n: int) -> int:
    return int(hashlib.sha256(name.encode()).hexdigest(), 16) % n


def _declared(name: str) -> tuple[str, str]:
    """``(label, color)`` that the method class ``name`` declares, read from its source
    without importing it (``("", "")`` for a name that is not a method)."""
    from dsrbench import methods

    if not isinstance(name, str):
        return "", ""
    try:
        traits = methods.traits(name)
    except methods.UnknownMethodError:
        return "", ""
    return traits.label, traits.color


def method_color(name: str) -> str:
    """The colour of ``name`` on every page: its class's ``color``, else the table's (truth,
    floor), else one of :data:`EXTRA_COLORS` picked by its name."""
    return (
        METHOD_COLORS.get(name)
        or _declared(name)[1]
        or EXTRA_COLORS[_stable_index(name, len(EXTRA_COLORS))]
    )


def method_label(name: str) -> str:
    """Display name of a method: its class's ``label``, else the table's (truth, floor),
    else its registry name."""
    return METHOD_LABELS.get(name) or _declared(name)[0] or name


def system_color(name: str) -> str:
    """A stable colour for a system (method pages draw one line per system)."""
    return SYSTEM_COLORS[_stable_index(name, len(SYSTEM_COLORS))]


def order_methods(names: Iterable[str]) -> list[str]:
    """Known methods in :data:`METHOD_ORDER`, then the others alphabetically."""
    names = list(dict.fromkeys(names))
    known = [m for m in METHOD_ORDER if m in names]
    return known + sorted(m for m in names if m not in METHOD_ORDER)


def new_figure(width: float, height: float) -> Figure:
    """A figure outside pyplot (no global state), laid out without overlaps."""
    return Figure(figsize=(width, height), dpi=100, layout="constrained")


def no_data(ax: Any, message: str) -> None:
    """Mark an axes as empty with the reason, instead of leaving it blank."""
    ax.text(
        0.5,
        0.5,
        message,
        ha="center",
        va="center",
        wrap=True,
        fontsize=9,
        color="#555555",
        transform=ax.transAxes,
    )
    ax.set_xticks([])
    ax.set_yticks([])
