"""DLinear (trend / remainder decomposition, one linear layer each) at darts' defaults.

Gilpin 2023 grid: input_chunk_length in [5, 10, 25, 50, 100]. Citation: Zeng et al., Are
transformers effective for time series forecasting?, AAAI 2023.
"""

from __future__ import annotations

from typing import Any, ClassVar

from dsrbench.methods._darts import TorchDarts


class DLinear(TorchDarts):
    """DLinear (trend / remainder decomposition, one linear layer each) at darts' defaults."""

    name = "dlinear"
    label = "DLinear"
    color = "#756bb1"
    darts_class = "DLinearModel"
    citation = "Zeng et al., Are transformers effective for time series forecasting?, AAAI 2023"
    hyperparameters: ClassVar[dict[str, Any]] = {
        "input_chunk_length": 10,
        "output_chunk_length": 1,
        "kernel_size": 25,
        "n_epochs": 100,
        "batch_size": 32,
    }
    quick_hyperparameters: ClassVar[dict[str, Any]] = {"input_chunk_length": 5, "n_epochs": 2}
    grid: ClassVar[dict[str, list[Any]]] = {"input_chunk_length": [5, 10, 25, 50, 100]}
