"""NLinear (one linear layer on the last-value-normalised input) at darts' defaults.

Gilpin 2023 grid: input_chunk_length in [5, 10, 25, 50, 100]. Citation: Zeng et al., Are
transformers effective for time series forecasting?, AAAI 2023.
"""

from __future__ import annotations

from typing import Any, ClassVar

from dsrbench.methods._darts import TorchDarts


class NLinear(TorchDarts):
    """NLinear (one linear layer on the last-value-normalised input) at darts' defaults."""

    name = "nlinear"
    label = "NLinear"
    color = "#9e9ac8"
    darts_class = "NLinearModel"
    citation = "Zeng et al., Are transformers effective for time series forecasting?, AAAI 2023"
    hyperparameters: ClassVar[dict[str, Any]] = {
        "input_chunk_length": 10,
        "output_chunk_length": 1,
        "n_epochs": 100,
        "batch_size": 32,
    }
    quick_hyperparameters: ClassVar[dict[str, Any]] = {"input_chunk_length": 10, "n_epochs": 5}
    grid: ClassVar[dict[str, list[Any]]] = {"input_chunk_length": [5, 10, 25, 50, 100]}
