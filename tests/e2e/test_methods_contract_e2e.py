"""The method contract for the slow methods (:data:`support.contract.SLOW`: AutoARIMA, about
10 s per context): the checks of unit/test_methods_contract.py, in the end-to-end tier."""

from __future__ import annotations

from pathlib import Path

import pytest
from support.contract import (
    LEARNED,
    SLOW,
    STATISTICAL,
    check_free_run_has_the_contract_shape,
    check_same_seed_gives_the_same_model,
    check_save_then_load_gives_identical_predictions,
    check_statistical_forecaster_is_finite,
)


@pytest.mark.parametrize("name", sorted(STATISTICAL & SLOW))
def test_statistical_forecaster_is_finite_from_long_contexts(name, lorenz_splits) -> None:
    check_statistical_forecaster_is_finite(name, lorenz_splits)


@pytest.mark.parametrize("name", [m for m in LEARNED + ["mean"] if m in SLOW])
def test_save_then_load_gives_identical_predictions(
    name, lorenz_splits, fitted, tmp_path: Path
) -> None:
    check_save_then_load_gives_identical_predictions(name, lorenz_splits, fitted, tmp_path)


@pytest.mark.parametrize("name", [m for m in LEARNED if m in SLOW])
def test_same_seed_gives_the_same_model(name, lorenz_splits, fitted) -> None:
    check_same_seed_gives_the_same_model(name, lorenz_splits, fitted)


@pytest.mark.parametrize("name", [m for m in LEARNED if m in SLOW])
def test_free_run_has_the_contract_shape(name, lorenz_splits, fitted) -> None:
    check_free_run_has_the_contract_shape(name, lorenz_splits, fitted)
