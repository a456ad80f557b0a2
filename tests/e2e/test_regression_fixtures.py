"""No number moves: the default run and the two every-method runs of
tests/fixtures/regression/ (made by commit 07815c2) are rerun on the current code, and
their metrics and training choices compared bit for bit."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO / "tests" / "fixtures" / "regression"
SNAKEMAKE = Path(sys.executable).parent / "snakemake"


def _extract():
    spec = importlib.util.spec_from_file_location("extract", FIXTURES / "extract.py")
    module = importlib.util.module_from_spec(spec)
    assert spec.loader is not None
    spec.loader.exec_module(module)
    return module


#: options added after the fixtures were made whose default changed since, at the value that
#: does what the fixtures' commit did (the fixture configs set them to it)
EARLIER_BEHAVIOUR = {"koopman_ae": {"time_unit": "data"}}


def _without_new_defaults(current: pd.DataFrame, fixture: pd.DataFrame) -> pd.DataFrame:
    """``current`` with the hyperparameters that a method gained after the fixture was made
    left out where they hold the method's default, or the value of
    :data:`EARLIER_BEHAVIOUR`: an option added later, off by default or set to what the
    fixture's code did, moves no number (its records then name it, the fixture's do not)."""
    from dsrbench import methods

    if len(current) != len(fixture):
        return current
    out = current.copy()
    for i in range(len(out)):
        new, old = (
            json.loads(t) for t in (out.at[i, "hyperparameters"], fixture.at[i, "hyperparameters"])
        )
        if not (isinstance(new, dict) and isinstance(old, dict)):
            continue
        defaults = {
            **methods.get(out.at[i, "method"]).hyperparameters,
            **EARLIER_BEHAVIOUR.get(out.at[i, "method"], {}),
        }
        kept = {k: v for k, v in new.items() if k in old or k not in defaults or v != defaults[k]}
        out.at[i, "hyperparameters"] = json.dumps(kept, sort_keys=True)
    return out


@pytest.mark.parametrize(
    ("name", "configfile", "results"),
    [
        ("default", None, "results"),
        ("dsr_methods", "dsr_methods.yaml", "results/regression_dsr"),
        ("gilpin_methods", "gilpin_methods.yaml", "results/regression_gilpin"),
    ],
)
def test_a_rerun_reproduces_the_committed_numbers_bit_for_bit(tmp_path, name, configfile, results):
    no_reports = tmp_path / "no_reports.yaml"
    no_reports.write_text("reports: {enabled: false}\n")
    configs = ["--configfile", str(FIXTURES / configfile)] if configfile else []
    if not configfile:  # the default run: config.yaml is read from the working directory
        configs = ["--configfile", str(REPO / "config.yaml")]
    cmd = [str(SNAKEMAKE), "--snakefile", str(REPO / "Snakefile"), "--directory", str(tmp_path)]
    res = subprocess.run(
        [*cmd, "--cores", "2", *configs, str(no_reports)],
        capture_output=True,
        text=True,
        timeout=900,
        cwd=tmp_path,
    )
    assert res.returncode == 0, res.stderr[-3000:]
    extract = _extract()
    out = tmp_path / results
    pd.testing.assert_frame_equal(
        extract.metrics_table(out),
        pd.read_parquet(FIXTURES / f"{name}_metrics.parquet"),
        check_exact=True,
    )
    fixture = pd.read_parquet(FIXTURES / f"{name}_training.parquet")
    pd.testing.assert_frame_equal(
        _without_new_defaults(extract.training_table(out), fixture), fixture, check_exact=True
    )
