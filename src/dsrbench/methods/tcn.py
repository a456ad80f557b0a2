"""A temporal convolutional network at darts' defaults (kernel 3, 3 filters, dilation base 2).

Gilpin 2023 grid: input_chunk_length in [5, 10, 25, 50, 100]. Citation: Bai, Kolter &
Koltun, arXiv:1803.01271 (2018).
"""

from __future__ import annotations

from typing import Any, ClassVar

from dsrbench.methods._darts import TorchDarts


class TCN(TorchDarts):
    """A temporal convolutional network at darts' defaults (kernel 3, 3 filters, dilation base
    2).
    """

    name = "tcn"
    label = "TCN"
    color = "#74c476"
    darts_class = "TCNModel"
    citation = "Bai, Kolter & Koltun, arXiv:1803.01271 (2018)"
    hyperparameters: ClassVar[dict[str, Any]] = {
        "input_chunk_length": 10,
        "output_chunk_length": 1,
        "kernel_size": 3,
        "num_filters": 3,
        "dilation_base": 2,
        "dropout": 0.2,
        "n_epochs": 100,
        "batch_size": 32,
    }
    quick_hyperparameters: ClassVar[dict[str, Any]] = {"input_chunk_length": 10, "n_epochs": 5}
    grid: ClassVar[dict[str, list[Any]]] = {"input_chunk_length": [5, 10, 25, 50, 100]}
