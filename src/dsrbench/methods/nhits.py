"""N-HiTS at darts' defaults (3 stacks of one 2-layer block of width 512).

Gilpin 2023 grid: input_chunk_length in [5, 10, 25, 50, 100]. Citation: Challu et al.,
N-HiTS, AAAI 2023.
"""

from __future__ import annotations

from typing import Any, ClassVar

from dsrbench.methods._darts import TorchDarts


class NHiTS(TorchDarts):
    """N-HiTS at darts' defaults (3 stacks of one 2-layer block of width 512)."""

    name = "nhits"
    label = "N-HiTS"
    color = "#fd8d3c"
    darts_class = "NHiTSModel"
    citation = "Challu et al., N-HiTS, AAAI 2023"
    hyperparameters: ClassVar[dict[str, Any]] = {
        "input_chunk_length": 10,
        "output_chunk_length": 1,
        "num_stacks": 3,
        "num_blocks": 1,
        "num_layers": 2,
        "layer_widths": 512,
        "dropout": 0.1,
        "n_epochs": 100,
        "batch_size": 32,
    }
    quick_hyperparameters: ClassVar[dict[str, Any]] = {
        "input_chunk_length": 5,
        "num_stacks": 2,
        "layer_widths": 16,
        "n_epochs": 2,
    }
    grid: ClassVar[dict[str, list[Any]]] = {"input_chunk_length": [5, 10, 25, 50, 100]}
