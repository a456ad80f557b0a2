"""The two references every results table carries beside the methods: the ``truth``
oracle and the truth ``floor`` (docs/protocols.md).

* ``truth`` is a predictor without a method class: it is configured in
  ``evaluation.methods`` like a method, gets prediction jobs but no training job and no
  hyperparameters, and its predictions are the true continuations of the test contexts
  and an independent true free run (:func:`dsrbench.truth.truth_oracle`). It is scored
  with every metric, like a method, and must score at the floor.
* ``floor`` is no predictor: the evaluation writes its rows (``method == "floor"``), the
  long-term metrics between two independent true trajectories (:func:`dsrbench.pipeline.evaluate.
  truth_floor`); every method's long-term row carries that value in its ``floor`` column.

Their names are on disk (prediction stores of ``truth``, metric rows of both) and must not
change. Code compares against :data:`TRUTH` and :data:`FLOOR` or asks the predicates here,
never the quoted strings. This module sits below every layer (it imports nothing).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

__all__ = [
    "FLOOR",
    "NAMES",
    "PREDICTORS",
    "REFERENCES",
    "ROWS_ONLY",
    "TRUTH",
    "Reference",
    "is_floor",
    "is_reference",
    "is_truth",
    "methods_only",
]

#: the oracle's name (``evaluation.methods``, prediction stores, metric rows)
TRUTH = "truth"
#: the truth floor's name (metric rows written by the evaluation)
FLOOR = "floor"


@dataclass(frozen=True)
class Reference:
    """A reference row of the results: what it is and how it is planned and scored."""

    name: str
    #: its name and colour on the report pages
    label: str
    color: str
    #: one line for ``dsrbench methods`` and the pages
    description: str
    #: it has prediction jobs (configured in ``evaluation.methods``); else the evaluation
    #: writes its rows by itself
    predicts: bool
    #: how it is scored
    scored: str
    #: it is never fitted and takes no hyperparameters
    needs_fit: bool = False
    uses_torch: bool = False


REFERENCES: dict[str, Reference] = {
    TRUTH: Reference(
        TRUTH,
        label="truth (oracle)",
        color="#000000",
        description="reference oracle: true continuations; independent true free run",
        predicts=True,
        scored="every metric, like a method; it must score at the floor",
    ),
    FLOOR: Reference(
        FLOOR,
        label="truth floor",
        color="#7f7f7f",
        description="each long-term metric between two independent true trajectories",
        predicts=False,
        scored="long-term metrics only; the floor column of every method's rows",
    ),
}
#: every reference name, in display order
NAMES: tuple[str, ...] = tuple(REFERENCES)
#: the references that predict (configured in ``evaluation.methods``)
PREDICTORS: tuple[str, ...] = tuple(n for n, r in REFERENCES.items() if r.predicts)
#: the references that are metric rows only (no predictions)
ROWS_ONLY: tuple[str, ...] = tuple(n for n, r in REFERENCES.items() if not r.predicts)


def is_truth(name: object) -> bool:
    """Whether ``name`` is the ``truth`` oracle."""
    return name == TRUTH


def is_floor(name: object) -> bool:
    """Whether ``name`` is the truth ``floor``."""
    return name == FLOOR


def is_reference(name: object) -> bool:
    """Whether ``name`` is a reference (``truth`` or ``floor``), not a method."""
    return name in REFERENCES


def methods_only(names: Iterable[str]) -> list[str]:
    """``names`` without the references, in their order."""
    return [n for n in names if not is_reference(n)]
