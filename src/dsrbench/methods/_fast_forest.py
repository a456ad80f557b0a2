"""A compiled predictor for fitted scikit-learn random forests (the hot path of the
``random_forest`` forecaster's closed-loop forecasts).

darts forecasts a lag regression one step at a time: a 5000-step forecast calls the forest's
``predict`` 5000 times on one row. scikit-learn dispatches every call through joblib over
its 100 trees (about 25 ms a call here), so one long forecast took about two minutes. This
module flattens the trees into arrays once and walks them in a numba kernel.

It computes what ``RandomForestRegressor.predict`` computes, in the same order: the input is
cast to float32 as scikit-learn's trees do, a node sends ``x[feature] <= threshold`` left,
and the leaf values of the trees are summed in tree order and divided by the number of
trees, so the result is bit for bit scikit-learn's (``tests/unit/test_fast_forest.py`` checks
it). Rows with a non-finite value go through scikit-learn itself (its missing-value rules).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import numba
import numpy as np


@numba.njit(cache=True)
def _walk(
    x: np.ndarray,
    roots: np.ndarray,
    left: np.ndarray,
    right: np.ndarray,
    feature: np.ndarray,
    threshold: np.ndarray,
    value: np.ndarray,
) -> np.ndarray:
    n, n_out, n_trees = x.shape[0], value.shape[1], roots.size
    out = np.zeros((n, n_out))
    for i in range(n):
        for t in range(n_trees):
            node = roots[t]
            while left[node] != -1:
                if x[i, feature[node]] <= threshold[node]:
                    node = left[node]
                else:
                    node = right[node]
            for k in range(n_out):
                out[i, k] += value[node, k]
        for k in range(n_out):
            out[i, k] /= n_trees
    return out


class FastForest:
    """The trees of a fitted ``RandomForestRegressor`` as flat arrays (global node ids)."""

    def __init__(self, forest: Any) -> None:
        self.forest = forest
        roots, left, right, feature, threshold, value = [], [], [], [], [], []
        offset = 0
        for est in forest.estimators_:
            tree = est.tree_
            n = tree.node_count
            is_leaf = tree.children_left == -1
            roots.append(offset)
            left.append(np.where(is_leaf, -1, tree.children_left + offset))
            right.append(np.where(is_leaf, -1, tree.children_right + offset))
            feature.append(np.where(is_leaf, 0, tree.feature))
            threshold.append(tree.threshold)
            value.append(tree.value.reshape(n, -1))
            offset += n
        self.roots = np.asarray(roots, dtype=np.int64)
        self.left = np.concatenate(left).astype(np.int64)
        self.right = np.concatenate(right).astype(np.int64)
        self.feature = np.concatenate(feature).astype(np.int64)
        self.threshold = np.concatenate(threshold).astype(np.float64)
        self.value = np.ascontiguousarray(np.concatenate(value), dtype=np.float64)
        self.n_outputs = int(forest.n_outputs_)

    def predict(self, X: Any, **kwargs: Any) -> np.ndarray:
        """``forest.predict(X)``: compiled for finite rows, scikit-learn's otherwise."""
        x = np.asarray(X, dtype=np.float32)
        if kwargs or x.ndim != 2 or not np.isfinite(x).all():
            return type(self.forest).predict(self.forest, X, **kwargs)
        out = _walk(
            x.astype(np.float64),
            self.roots,
            self.left,
            self.right,
            self.feature,
            self.threshold,
            self.value,
        )
        return out[:, 0] if self.n_outputs == 1 else out


@contextlib.contextmanager
def compiled_forest(forest: Any, cache: dict[int, FastForest]) -> Iterator[None]:
    """Within the block, ``forest.predict`` is the compiled :class:`FastForest` (built once
    per forest and kept in ``cache``); the forest is left as it was afterwards, so it
    pickles (darts' ``save``) without dsrbench's classes."""
    fast = cache.get(id(forest))
    if fast is None or fast.forest is not forest:
        fast = cache[id(forest)] = FastForest(forest)
    forest.predict = fast.predict
    try:
        yield
    finally:
        del forest.predict
