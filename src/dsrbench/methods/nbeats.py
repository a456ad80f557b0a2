"""N-BEATS, generic architecture at darts' defaults (30 stacks of one 4-layer block of width
256).

Gilpin 2023 grid: input_chunk_length in [5, 10, 25, 50, 100]. Citation: Oreshkin et al.,
N-BEATS, ICLR 2020.
"""

from __future__ import annotations

from typing import Any, ClassVar

from dsrbench.methods._darts import TorchDarts


class NBEATS(TorchDarts):
    """N-BEATS, generic architecture at darts' defaults (30 stacks of one 4-layer block of
    width 256).
    """

    name = "nbeats"
    label = "N-BEATS"
    color = "#e6550d"
    darts_class = "NBEATSModel"
    citation = "Oreshkin et al., N-BEATS, ICLR 2020"
    hyperparameters: ClassVar[dict[str, Any]] = {
        "input_chunk_length": 10,
        "output_chunk_length": 1,
        "generic_architecture": True,
        "num_stacks": 30,
        "num_blocks": 1,
        "num_layers": 4,
        "layer_widths": 256,
        "dropout": 0.0,
        "n_epochs": 100,
        "batch_size": 32,
    }
    quick_hyperparameters: ClassVar[dict[str, Any]] = {
        "input_chunk_length": 5,
        "num_stacks": 2,
        "num_layers": 2,
        "layer_widths": 16,
        "n_epochs": 2,
    }
    grid: ClassVar[dict[str, list[Any]]] = {"input_chunk_length": [5, 10, 25, 50, 100]}
