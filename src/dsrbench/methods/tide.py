"""TiDE (time-series dense encoder: an MLP encoder-decoder with a temporal decoder and a linear
skip) at darts' defaults (one encoder and one decoder layer of width 128, decoder output 16,
temporal decoder width 32, dropout 0.1, no layer norm).

One of the custom-trained baselines of Zhang & Gilpin, "Zero-shot forecasting of chaotic
systems", ICLR 2025 (arXiv:2409.15771), beside Gilpin 2023's NBEATS and NHiTS; set up like
the darts torch forecasters of Gilpin 2023 (``dsrbench.methods._darts``): darts' defaults,
``output_chunk_length`` 1, 100 epochs, and the grid input_chunk_length in [5, 10, 25, 50,
100]. The covariate settings (``temporal_width_past`` / ``_future``, static covariates) are
left at darts' defaults: dsrbench gives no covariates. Citation: Das et al., Long-term
forecasting with TiDE: time-series dense encoder, TMLR 2023.
"""

from __future__ import annotations

from typing import Any, ClassVar

from dsrbench.methods._darts import TorchDarts


class TiDE(TorchDarts):
    """TiDE (dense MLP encoder-decoder) at darts' defaults (width 128, one layer each)."""

    name = "tide"
    darts_class = "TiDEModel"
    citation = "Das et al., Long-term forecasting with TiDE: time-series dense encoder, TMLR 2023"
    hyperparameters: ClassVar[dict[str, Any]] = {
        "input_chunk_length": 10,
        "output_chunk_length": 1,
        "num_encoder_layers": 1,
        "num_decoder_layers": 1,
        "decoder_output_dim": 16,
        "hidden_size": 128,
        "temporal_decoder_hidden": 32,
        "use_layer_norm": False,
        "dropout": 0.1,
        "n_epochs": 100,
        "batch_size": 32,
    }
    quick_hyperparameters: ClassVar[dict[str, Any]] = {
        "input_chunk_length": 5,
        "hidden_size": 16,
        "decoder_output_dim": 4,
        "temporal_decoder_hidden": 8,
        "n_epochs": 2,
    }
    grid: ClassVar[dict[str, list[Any]]] = {"input_chunk_length": [5, 10, 25, 50, 100]}
