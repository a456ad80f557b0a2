"""A package that adds a method through the entry-point group ``dsrbench.methods``:
:func:`make_method_package` writes one (one module, a ``*.dist-info`` with ``METADATA`` and
``entry_points.txt``) into a directory that :mod:`importlib.metadata` finds once it is on
``sys.path``. unit/test_entry_point_method.py and unit/test_methods_contract.py install it
in-process, e2e/test_entry_point_method_e2e.py runs it through the workflow."""

from __future__ import annotations

import textwrap
from pathlib import Path

#: the package's module: a step-map method, a linear map fitted by least squares
LINEAR_MAP = '''
"""A linear map on standardised states, fitted by ridge least squares (a test method)."""

from typing import Any, ClassVar

import numpy as np

from dsrbench.methods.base import Method


class LinearMap(Method):
    """z_{t+1} = [z_t, 1] C, C by ridge least squares on the training pairs."""

    name = "linmap"
    label = "linear map"
    color = "#123456"
    hyperparameters: ClassVar[dict[str, Any]] = {"ridge": 1e-8}
    fitted_arrays = ("coef", "mean", "std")

    def fit(self, train, val=None, ctx=None):
        x, _ = self.fit_scale(train, val)
        d = x.shape[2]
        design = x[:, :-1].reshape(-1, d)
        design = np.hstack([design, np.ones((design.shape[0], 1))])
        target = x[:, 1:].reshape(-1, d)
        gram = design.T @ design + float(self.params["ridge"]) * np.eye(d + 1)
        self.coef_ = np.linalg.solve(gram, design.T @ target)
        return self

    def step(self, state):
        return np.hstack([state, np.ones((state.shape[0], 1))]) @ self.coef_

    def jacobian(self, state):
        jac = self.coef_[:-1].T
        return np.broadcast_to(jac, (state.shape[0], *jac.shape)).copy()
'''


def make_method_package(
    root: Path,
    dist: str,
    package: str,
    entries: dict[str, str],
    source: str = LINEAR_MAP,
    module: str = "linmap",
) -> Path:
    """Write ``package/module.py`` (``source``) and the distribution ``dist`` whose
    entry points of group ``dsrbench.methods`` are ``entries`` (name -> ``module:Class``)
    under ``root``; returns ``root`` (put it on ``sys.path`` or ``PYTHONPATH``)."""
    pkg = root / package
    pkg.mkdir(parents=True, exist_ok=True)
    (pkg / "__init__.py").write_text("")
    (pkg / f"{module}.py").write_text(textwrap.dedent(source))
    info = root / f"{dist.replace('-', '_')}-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 0.1\n")
    lines = [f"{name} = {target}" for name, target in entries.items()]
    (info / "entry_points.txt").write_text("[dsrbench.methods]\n" + "\n".join(lines) + "\n")
    return root
