"""Tiny randomly initialised models of the three pipelines of ``chronos-forecasting``
(Chronos, Chronos-Bolt, Chronos-2), saved to local directories as the published weights
are laid out (config.json, model.safetensors), for the tests of the ``chronos`` adapter.
Their configs follow the published ones (prediction length 64, so a 300-step horizon runs
the autoregressive path) with a hidden width of 16; each directory carries the marker
``dsrbench_weights.json`` saying ``random-smoke``."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from dsrbench import methods

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


#: the forecast horizon: past the models' 64 steps (the autoregressive path)
H = 300
PIPELINES = {
    "chronos": "ChronosPipeline",
    "bolt": "ChronosBoltPipeline",
    "chronos2": "Chronos2Pipeline",
}


def context(lorenz_splits, length: int = 128) -> np.ndarray:
    """The first ``length`` points of the Lorenz test trajectory, (T, 3)."""
    return np.asarray(lorenz_splits["test"]["x"].values[0, :length])  # (T, 3)


def direct(directory: Path, series: np.ndarray, seed: int, horizon: int = H) -> np.ndarray:
    """One package call for one univariate series: the 0.5 quantile (one sample)."""
    import torch
    from chronos import BaseChronosPipeline

    pipe = BaseChronosPipeline.from_pretrained(
        str(directory), device_map="cpu", dtype=torch.float32
    )
    torch.manual_seed(seed)
    x = torch.tensor(series[None], dtype=torch.float32)
    if type(pipe).__name__ == "Chronos2Pipeline":
        q, _ = pipe.predict_quantiles([x[0]], prediction_length=horizon, quantile_levels=[0.5])
        return q[0][0, :, 0].double().numpy()
    extra = {"num_samples": 1} if type(pipe).__name__ == "ChronosPipeline" else {}
    q, _ = pipe.predict_quantiles(x, prediction_length=horizon, quantile_levels=[0.5], **extra)
    return q[0, :, 0].double().numpy()


def check_forecast_equals_three_direct_calls(
    kind: str, horizon: int, directory: Path, lorenz_splits
) -> None:
    """The adapter's forecast of a (T, 3) context with the tiny model of ``kind`` in
    ``directory`` equals three direct per-coordinate calls of the package, and repeats for
    a seed (the test in the two tiers: unit/ and e2e/test_methods_chronos*.py)."""
    import torch

    ctx = context(lorenz_splits)
    model = methods.get("chronos")(model=str(directory), device="cpu", seed=7)
    pred = model.forecast(ctx[None], horizon)
    assert model.kind == PIPELINES[kind] and model.device_ == "cpu"
    assert next(model.pipeline.model.parameters()).dtype == torch.float32  # float32 on a CPU
    assert pred.shape == (1, horizon, 3) and np.all(np.isfinite(pred))
    for d in range(3):
        np.testing.assert_array_equal(pred[0, :, d], direct(directory, ctx[:, d], 7, horizon))
    # deterministic for a seed, in a new adapter too; each coordinate forecast on its own
    again = methods.get("chronos")(model=str(directory), device="cpu", seed=7)
    np.testing.assert_array_equal(again.forecast(ctx[None, :, :1], horizon)[0, :, 0], pred[0, :, 0])
