"""A block RNN (darts' BlockRNNModel, its default vanilla RNN cell) reading input_chunk_length
points.

Gilpin 2023 grid: input_chunk_length in [5, 10, 25, 50, 100]. Citation: Elman, Cognitive
Science 14, 179 (1990); darts' BlockRNNModel.
"""

from __future__ import annotations

from typing import Any, ClassVar

from dsrbench.methods._darts import TorchDarts


class BlockRNN(TorchDarts):
    """A block RNN (darts' BlockRNNModel, its default vanilla RNN cell) reading
    input_chunk_length points.
    """

    name = "rnn"
    label = "RNN"
    color = "#6baed6"
    darts_class = "BlockRNNModel"
    citation = "Elman, Cognitive Science 14, 179 (1990); darts' BlockRNNModel"
    hyperparameters: ClassVar[dict[str, Any]] = {
        "input_chunk_length": 10,
        "output_chunk_length": 1,
        "model": "RNN",
        "hidden_dim": 25,
        "n_rnn_layers": 1,
        "dropout": 0.0,
        "n_epochs": 100,
        "batch_size": 32,
    }
    quick_hyperparameters: ClassVar[dict[str, Any]] = {
        "input_chunk_length": 5,
        "hidden_dim": 8,
        "n_epochs": 2,
    }
    grid: ClassVar[dict[str, list[Any]]] = {"input_chunk_length": [5, 10, 25, 50, 100]}
