"""What the workflow plans by, per method, without importing the method modules (torch).

``needs_fit``: the method gets a training job (``Method.needs_fit``); ``uses_torch``: its
jobs ask for a GPU (``Method.uses_torch``). The table must match the classes
(tests/test_chunks.py checks it): add a row when you add a method.
"""

from __future__ import annotations

from typing import NamedTuple


class Traits(NamedTuple):
    """The class attributes of a method that planning needs."""

    needs_fit: bool
    uses_torch: bool


#: method name -> its traits (the classes' ``needs_fit`` and ``uses_torch``)
TRAITS: dict[str, Traits] = {
    "alrnn": Traits(needs_fit=True, uses_torch=True),
    "edmd": Traits(needs_fit=True, uses_torch=False),
    "esn": Traits(needs_fit=True, uses_torch=False),
    "mean": Traits(needs_fit=True, uses_torch=False),
    "node": Traits(needs_fit=True, uses_torch=True),
    "nvar": Traits(needs_fit=True, uses_torch=False),
    "persistence": Traits(needs_fit=False, uses_torch=False),
    "shplrnn_gtf": Traits(needs_fit=True, uses_torch=True),
    "sindy": Traits(needs_fit=True, uses_torch=False),
    "var": Traits(needs_fit=True, uses_torch=False),
}
