"""The references (dsrbench.references): the truth oracle and the truth floor keep their
on-disk names, and everything that plans, validates or draws them reads their traits from
that one module."""

from __future__ import annotations

import pytest

from dsrbench import methods, references
from dsrbench.pipeline.config import ConfigError, load_config
from dsrbench.references import FLOOR, TRUTH
from dsrbench.reports import style


def test_names_on_disk_are_unchanged() -> None:
    # prediction stores of the oracle and metric rows of both carry these names
    assert (TRUTH, FLOOR) == ("truth", "floor")
    assert references.NAMES == ("truth", "floor")
    assert references.PREDICTORS == ("truth",) and references.ROWS_ONLY == ("floor",)


def test_predicates_tell_references_from_methods() -> None:
    assert references.is_truth("truth") and not references.is_truth("floor")
    assert references.is_floor("floor") and not references.is_floor("persistence")
    assert not any(references.is_reference(m) for m in methods.available())
    assert references.methods_only(["esn", "truth", "floor", "var"]) == ["esn", "var"]


def test_planning_and_validation_read_the_oracle_traits_from_references() -> None:
    oracle = references.REFERENCES[TRUTH]
    assert methods.traits(TRUTH) == methods.Traits(
        needs_fit=oracle.needs_fit, uses_torch=oracle.uses_torch
    )
    config = {
        "systems": ["Lorenz"],
        "datasets": {"a": {"pts_per_period": 20, "length": 400, "n_train": 1, "n_test": 1}},
        "evaluation": {"methods": [TRUTH], "hyperparameters": {TRUTH: {"k": 1}}},
    }
    with pytest.raises(ConfigError, match="'evaluation.hyperparameters.truth': unknown method"):
        load_config({**config, "datasets": {"a": {**config["datasets"]["a"], "n_val": 0}}})


def test_pages_draw_the_references_with_their_declared_label_and_colour() -> None:
    for name, ref in references.REFERENCES.items():
        assert style.method_label(name) == ref.label
        assert style.method_color(name) == ref.color
