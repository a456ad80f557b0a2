"""Polynomial dictionaries shared by EDMD and SINDy.

Monomials of degree 0..``degree`` in the order of pysindy's ``PolynomialLibrary`` (and of
``itertools.combinations_with_replacement``): 1, x0, x1, ..., x0^2, x0 x1, ...
"""

from __future__ import annotations

from functools import lru_cache
from itertools import combinations_with_replacement

import numpy as np


def monomials(dim: int, degree: int, *, constant: bool = True) -> list[tuple[int, ...]]:
    """Index tuples of the monomials (the empty tuple is the constant)."""
    start = 0 if constant else 1
    return [
        combo
        for d in range(start, degree + 1)
        for combo in combinations_with_replacement(range(dim), d)
    ]


@lru_cache(maxsize=64)
def _factor_index(terms: tuple[tuple[int, ...], ...], dim: int) -> np.ndarray:
    """``(len(terms), max degree)`` column indices of each monomial's factors, padded with
    ``dim``: the column of ones that :func:`evaluate` appends."""
    width = max((len(t) for t in terms), default=0)
    index = np.full((len(terms), max(width, 1)), dim, dtype=np.intp)
    for j, t in enumerate(terms):
        index[j, : len(t)] = t
    return index


def evaluate(x: np.ndarray, terms: list[tuple[int, ...]]) -> np.ndarray:
    """The dictionary at states ``x (S, D)``: ``(S, len(terms))``, in one gather and one
    product (the integrators of SINDy and EDMD call it at every stage)."""
    s, d = x.shape
    padded = np.concatenate([x, np.ones((s, 1), dtype=x.dtype)], axis=1)
    return padded[:, _factor_index(tuple(terms), d)].prod(axis=2)


def derivative(x: np.ndarray, terms: list[tuple[int, ...]]) -> np.ndarray:
    """d dictionary / d x at states ``x (S, D)``: ``(S, len(terms), D)`` (product rule)."""
    s, d = x.shape
    out = np.zeros((s, len(terms), d))
    for j, t in enumerate(terms):
        for pos, var in enumerate(t):
            rest = list(t[:pos] + t[pos + 1 :])
            out[:, j, var] += np.prod(x[:, rest], axis=1) if rest else 1.0
    return out


def names(terms: list[tuple[int, ...]]) -> list[str]:
    """Readable names, e.g. ``x0 x1^2``."""
    out = []
    for t in terms:
        if not t:
            out.append("1")
            continue
        parts = []
        for var in sorted(set(t)):
            power = t.count(var)
            parts.append(f"x{var}" + (f"^{power}" if power > 1 else ""))
        out.append(" ".join(parts))
    return out
