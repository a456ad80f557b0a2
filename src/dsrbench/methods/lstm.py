"""A 2-layer LSTM (darts' RNNModel, model='LSTM'), trained 200 epochs as in Gilpin 2023.

Gilpin 2023 grid: input_chunk_length in [5, 10, 25, 50, 100]. Citation: Hochreiter &
Schmidhuber, Neural Computation 9, 1735 (1997).
"""

from __future__ import annotations

from typing import Any, ClassVar

from dsrbench.methods._darts import TorchDarts


class LSTM(TorchDarts):
    """A 2-layer LSTM (darts' RNNModel, model='LSTM'), trained 200 epochs as in Gilpin 2023."""

    name = "lstm"
    label = "LSTM"
    color = "#3182bd"
    darts_class = "RNNModel"
    citation = "Hochreiter & Schmidhuber, Neural Computation 9, 1735 (1997)"
    hyperparameters: ClassVar[dict[str, Any]] = {
        "input_chunk_length": 10,
        "output_chunk_length": 1,
        "model": "LSTM",
        "hidden_dim": 25,
        "n_rnn_layers": 2,
        "dropout": 0.0,
        "training_length": None,
        "n_epochs": 200,
        "batch_size": 32,
    }
    quick_hyperparameters: ClassVar[dict[str, Any]] = {
        "input_chunk_length": 5,
        "hidden_dim": 8,
        "n_epochs": 2,
    }
    grid: ClassVar[dict[str, list[Any]]] = {"input_chunk_length": [5, 10, 25, 50, 100]}

    def darts_kwargs(self) -> dict[str, Any]:
        """darts 0.48 needs training_length >= input_chunk_length (its default is 24)."""
        kwargs = dict(self.params)
        if kwargs["training_length"] is None:
            kwargs["training_length"] = max(24, int(kwargs["input_chunk_length"]) + 1)
        return kwargs
