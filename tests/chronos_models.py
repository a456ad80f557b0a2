"""Tiny randomly initialised models of the three pipelines of ``chronos-forecasting``
(Chronos, Chronos-Bolt, Chronos-2), saved to local directories as the published weights
are laid out (config.json, model.safetensors), for the tests of the ``chronos`` adapter.
Their configs follow the published ones (prediction length 64, so a 300-step horizon runs
the autoregressive path) with a hidden width of 16; each directory carries the marker
``dsrbench_weights.json`` saying ``random-smoke``."""

from __future__ import annotations

import json
from pathlib import Path

KINDS = ("chronos", "bolt", "chronos2")
QUANTILES = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9]
SMALL = {"d_model": 16, "d_kv": 8, "d_ff": 32, "num_layers": 1, "num_heads": 2}


def build_tiny(kind: str, directory: Path, seed: int = 0) -> Path:
    """Save a tiny random model of ``kind`` (one of :data:`KINDS`) in ``directory``."""
    import torch
    from transformers import T5Config

    from dsrbench.methods.chronos import WEIGHTS_MARKER

    torch.manual_seed(seed)
    if kind == "chronos":
        from transformers import T5ForConditionalGeneration

        cfg = T5Config(
            vocab_size=64,
            pad_token_id=0,
            eos_token_id=1,
            decoder_start_token_id=0,
            num_decoder_layers=1,
            **SMALL,
        )
        cfg.chronos_pipeline_class = "ChronosPipeline"
        cfg.chronos_config = {
            "tokenizer_class": "MeanScaleUniformBins",
            "tokenizer_kwargs": {"low_limit": -15.0, "high_limit": 15.0},
            "context_length": 512,
            "prediction_length": 64,
            "n_tokens": 64,
            "n_special_tokens": 2,
            "pad_token_id": 0,
            "eos_token_id": 1,
            "use_eos_token": True,
            "model_type": "seq2seq",
            "num_samples": 20,
            "temperature": 1.0,
            "top_k": 50,
            "top_p": 1.0,
        }
        model = T5ForConditionalGeneration(cfg)
    elif kind == "bolt":
        from chronos.chronos_bolt import ChronosBoltModelForForecasting

        cfg = T5Config(decoder_start_token_id=0, pad_token_id=0, num_decoder_layers=1, **SMALL)
        cfg.chronos_pipeline_class = "ChronosBoltPipeline"
        cfg.architectures = ["ChronosBoltModelForForecasting"]
        cfg.chronos_config = {
            "context_length": 512,
            "prediction_length": 64,
            "input_patch_size": 16,
            "input_patch_stride": 16,
            "quantiles": QUANTILES,
            "use_reg_token": True,
        }
        model = ChronosBoltModelForForecasting(cfg)
    elif kind == "chronos2":
        from chronos.chronos2 import Chronos2Model
        from chronos.chronos2.config import Chronos2CoreConfig

        cfg = Chronos2CoreConfig(**SMALL)
        cfg.chronos_pipeline_class = "Chronos2Pipeline"
        cfg.architectures = ["Chronos2Model"]
        cfg.chronos_config = {
            "context_length": 512,
            "output_patch_size": 16,
            "input_patch_size": 16,
            "input_patch_stride": 16,
            "quantiles": QUANTILES,
            "use_reg_token": True,
            "max_output_patches": 4,
        }
        model = Chronos2Model(cfg)
    else:
        raise ValueError(f"unknown kind {kind!r}; choose one of {KINDS}")
    model.save_pretrained(directory)
    (Path(directory) / WEIGHTS_MARKER).write_text(json.dumps({"weights": "random-smoke"}))
    return Path(directory)
