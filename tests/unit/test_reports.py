"""The report helpers that need no workflow run: the Jupyter kernel registered inside the
environment, the seeded bootstrap interval, the AL-RNN's symbolic codes and the method
colours. The pages themselves are tested in e2e/test_reports_e2e.py."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

from dsrbench.reports.render import ensure_kernel
from dsrbench.reports.results import parse_symbolic_code
from dsrbench.reports.stats import bootstrap_ci, fmt
from dsrbench.reports.style import method_color


# ------------------------------------------------------------------------ library pieces
def test_kernel_is_registered_inside_the_environment():
    path = ensure_kernel("dsrbench")
    assert path.is_relative_to(Path(sys.prefix))
    spec = json.loads((path / "kernel.json").read_text())
    assert Path(spec["argv"][0]).parent == Path(sys.executable).parent


def test_bootstrap_interval_is_seeded_and_covers_the_estimate():
    rng = np.random.default_rng(1)
    groups = [rng.normal(m, 0.1, size=3) for m in rng.uniform(0, 10, size=20)]
    a = bootstrap_ci(groups, n_boot=500, seed=3)
    b = bootstrap_ci(groups, n_boot=500, seed=3)
    assert a == b
    assert a.low <= a.estimate <= a.high and a.n == 20
    assert bootstrap_ci([np.array([np.nan])]).n == 0
    assert fmt(0.000123456) == "1.23e-04" and fmt(12.345) == "12.3" and fmt(float("nan")) == "n/a"


def test_symbolic_code_shapes_and_method_colours():
    code = parse_symbolic_code(
        {"codes": [[1, 0], [0, 1]], "counts": [3, 1], "transition_matrix": [[2, 2], [1, 0]]}
    )
    assert code.codes == ["10", "01"]
    np.testing.assert_allclose(code.frequencies, [0.75, 0.25])
    np.testing.assert_allclose(code.transitions, [[0.5, 0.5], [1, 0]])
    alt = parse_symbolic_code(
        {"regions": [{"code": "11", "frequency": 0.2}, {"code": "00", "frequency": 0.8}]}
    )
    assert alt.codes == ["11", "00"] and alt.transitions is None
    with pytest.raises(ValueError, match="keys"):
        parse_symbolic_code({"something": 1})
    assert method_color("alrnn") == method_color("alrnn") != method_color("shplrnn_gtf")
    assert method_color("a_new_method") == method_color("a_new_method")
