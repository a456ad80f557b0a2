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

REPO = Path(__file__).resolve().parents[1]
FIXTURES = REPO / "tests" / "fixtures" / "regression"
SNAKEMAKE = Path(sys.executable).parent / "snakemake"

pytestmark = pytest.mark.e2e  # three real workflow runs, about 6 minutes on 2 cores


def _extract():
    spec = importlib.util.spec_from_file_location("extract", FIXTURES / "extract.py")
    module = importlib.util.module_from_spec(spec)
    assert spec.loader is not None
    spec.loader.exec_module(module)
    return module


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
    expected = pd.read_parquet(FIXTURES / f"{name}_training.parquet")
    pd.testing.assert_frame_equal(
        _without_new_defaults(extract.training_table(out), expected),
        expected,
        check_exact=True,
    )


def _without_new_defaults(table: pd.DataFrame, fixture: pd.DataFrame) -> pd.DataFrame:
    """``table`` with the hyperparameters added after the fixtures left out of its
    records where they hold their method's default (an option added off changes no
    number, only the record's list of names); a new name set to anything else stays."""
    from dsrbench import methods

    if len(table) != len(fixture):
        return table
    table = table.copy()
    for i, (text, old) in enumerate(
        zip(table["hyperparameters"], fixture["hyperparameters"], strict=True)
    ):
        new, before = json.loads(text), json.loads(old)
        if not isinstance(new, dict) or not isinstance(before, dict):
            continue
        defaults = methods.get(table["method"].iloc[i]).hyperparameters
        for key in set(new) - set(before):
            if key in defaults and new[key] == defaults[key]:
                del new[key]
        table.iloc[i, table.columns.get_loc("hyperparameters")] = json.dumps(new, sort_keys=True)
    return table
