"""An encoder-decoder Transformer at darts' defaults (d_model 64, 4 heads, 3 + 3 layers).

Gilpin 2023 grid: input_chunk_length in [5, 10, 25, 50, 100]. Citation: Vaswani et al.,
Attention is all you need, NeurIPS 2017.
"""

from __future__ import annotations

from typing import Any, ClassVar

from dsrbench.methods._darts import TorchDarts


class Transformer(TorchDarts):
    """An encoder-decoder Transformer at darts' defaults (d_model 64, 4 heads, 3 + 3 layers)."""

    name = "transformer"
    label = "Transformer"
    color = "#005a32"
    darts_class = "TransformerModel"
    citation = "Vaswani et al., Attention is all you need, NeurIPS 2017"
    hyperparameters: ClassVar[dict[str, Any]] = {
        "input_chunk_length": 10,
        "output_chunk_length": 1,
        "d_model": 64,
        "nhead": 4,
        "num_encoder_layers": 3,
        "num_decoder_layers": 3,
        "dim_feedforward": 512,
        "dropout": 0.1,
        "n_epochs": 100,
        "batch_size": 32,
    }
    quick_hyperparameters: ClassVar[dict[str, Any]] = {
        "input_chunk_length": 5,
        "d_model": 8,
        "nhead": 2,
        "num_encoder_layers": 1,
        "num_decoder_layers": 1,
        "dim_feedforward": 16,
        "n_epochs": 2,
    }
    grid: ClassVar[dict[str, list[Any]]] = {"input_chunk_length": [5, 10, 25, 50, 100]}
