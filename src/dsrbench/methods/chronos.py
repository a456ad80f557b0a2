"""Chronos: pretrained time-series foundation models, forecasting zero-shot from the context.

An adapter over the ``chronos-forecasting`` package (the optional extra ``chronos``:
``pip install -e '.[chronos]'``) for its three pipelines: Chronos (Ansari et al., "Chronos:
learning the language of time series", TMLR 2024; T5 over quantised values, sampled
autoregressively), Chronos-Bolt (patched, direct quantile heads) and Chronos-2 (Ansari et
al. 2025, arXiv:2510.15821). The package picks the pipeline from the weights' config
(``BaseChronosPipeline.from_pretrained``). As Zhang & Gilpin, "Zero-shot forecasting of
chaotic systems" (ICLR 2025, arXiv:2409.15771; ``chronos_benchmarks.py`` of
williamgilpin/dysts_data at 00b7aad) use it:

* **each coordinate is forecast separately**, as a univariate series (the trained
  baselines are multivariate); the series of one coordinate over the contexts form one
  batch, one package call per coordinate;
* **one sample** for Chronos (``num_samples`` 1, the paper's setting); Bolt and Chronos-2
  give quantiles, and the point forecast is the **0.5 quantile**; for Chronos the 0.5
  quantile of the samples (the sample itself for one);
* horizons beyond the model's own prediction length (64 for Chronos, 64 for Bolt) run the
  package's autoregressive path (``limit_prediction_length`` False).

**Weights are never downloaded.** ``model`` is a local directory or a Hugging Face model id
that resolves from the local cache only (``HF_HUB_OFFLINE=1`` is set before transformers is
imported, and the cache is asked with ``local_files_only``). Missing weights raise
:class:`~dsrbench.methods.base.MissingWeightsError` when the method is built, which stops
the predict job at once with the fix (which weights to place where) instead of recording a
failure that a rerun would keep. ``device``: ``auto`` (CUDA when present), ``cpu``, ``cuda``;
``dtype``: ``auto`` (bfloat16 on a GPU, float32 on a CPU), ``bfloat16``, ``float32``.
``seed`` seeds torch before each coordinate's call (Chronos samples), so a forecast is
deterministic for a seed on one device.

Weights that are not the published ones (the tiny randomly initialised models of
:func:`build_random_weights`, for the tests and the smoke run) carry the marker file
:data:`WEIGHTS_MARKER` (``{"weights": "random-smoke"}``): their predictions and metric rows
are labelled ``weights=random-smoke`` and the leaderboard and the index leave them out.
Licence of the published weights and code: Apache-2.0.
"""

from __future__ import annotations

import json
import os
import warnings
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from dsrbench.methods.base import Method, MissingWeightsError, check_context

#: a file in a weights directory naming what they are: {"weights": "random-smoke"} for
#: randomly initialised test weights (absent: the published weights)
WEIGHTS_MARKER = "dsrbench_weights.json"

#: the Hugging Face ids of the published Chronos weights (Apache-2.0), for the messages
PUBLISHED = (
    "amazon/chronos-t5-tiny",
    "amazon/chronos-t5-mini",
    "amazon/chronos-t5-small",
    "amazon/chronos-t5-base",
    "amazon/chronos-t5-large",
    "amazon/chronos-bolt-tiny",
    "amazon/chronos-bolt-mini",
    "amazon/chronos-bolt-small",
    "amazon/chronos-bolt-base",
    "amazon/chronos-2",
)


#: the pipeline kinds :func:`build_random_weights` builds
RANDOM_KINDS = ("chronos", "bolt", "chronos2")
_QUANTILES = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9]
_SMALL = {"d_model": 16, "d_kv": 8, "d_ff": 32, "num_layers": 1, "num_heads": 2}


def build_random_weights(kind: str, directory: str | Path, seed: int = 0) -> Path:
    """Save a tiny **randomly initialised** model of ``kind`` (one of :data:`RANDOM_KINDS`:
    Chronos, Chronos-Bolt, Chronos-2) in ``directory``, laid out as the published weights
    (config.json, model.safetensors), with the marker :data:`WEIGHTS_MARKER` saying
    ``random-smoke``. Its config follows the published ones (context 512, prediction length
    64, so a 300-step horizon runs the autoregressive path) with a hidden width of 16. For
    the tests and the smoke run of the loading and forecasting path: never a result."""
    import torch
    from transformers import T5Config

    torch.manual_seed(seed)
    if kind == "chronos":
        from transformers import T5ForConditionalGeneration

        cfg = T5Config(
            vocab_size=64,
            pad_token_id=0,
            eos_token_id=1,
            decoder_start_token_id=0,
            num_decoder_layers=1,
            **_SMALL,
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

        cfg = T5Config(decoder_start_token_id=0, pad_token_id=0, num_decoder_layers=1, **_SMALL)
        cfg.chronos_pipeline_class = "ChronosBoltPipeline"
        cfg.architectures = ["ChronosBoltModelForForecasting"]
        cfg.chronos_config = {
            "context_length": 512,
            "prediction_length": 64,
            "input_patch_size": 16,
            "input_patch_stride": 16,
            "quantiles": _QUANTILES,
            "use_reg_token": True,
        }
        model = ChronosBoltModelForForecasting(cfg)
    elif kind == "chronos2":
        from chronos.chronos2 import Chronos2Model
        from chronos.chronos2.config import Chronos2CoreConfig

        cfg = Chronos2CoreConfig(**_SMALL)
        cfg.chronos_pipeline_class = "Chronos2Pipeline"
        cfg.architectures = ["Chronos2Model"]
        cfg.chronos_config = {
            "context_length": 512,
            "output_patch_size": 16,
            "input_patch_size": 16,
            "input_patch_stride": 16,
            "quantiles": _QUANTILES,
            "use_reg_token": True,
            "max_output_patches": 4,
        }
        model = Chronos2Model(cfg)
    else:
        raise ValueError(f"unknown kind {kind!r}; choose one of {RANDOM_KINDS}")
    model.save_pretrained(directory)
    (Path(directory) / WEIGHTS_MARKER).write_text(json.dumps({"weights": "random-smoke"}))
    return Path(directory)


def resolve_weights(model: str) -> Path:
    """The local directory of ``model``: the directory itself, or the snapshot of the
    model id in the local Hugging Face cache (never downloaded). Raises
    :class:`MissingWeightsError` naming what to place where."""
    path = Path(os.path.expanduser(str(model)))
    if path.is_dir():
        if not (path / "config.json").is_file():
            raise MissingWeightsError(
                f"chronos: {path} holds no config.json: place the Chronos weights there "
                "(config.json and model.safetensors of a Chronos, Chronos-Bolt or Chronos-2 "
                "model, e.g. `huggingface-cli download amazon/chronos-t5-small --local-dir "
                f"{path}` on a machine with internet)"
            )
        return path
    os.environ["HF_HUB_OFFLINE"] = "1"
    looks_like_id = "/" in str(model) and not str(model).startswith((".", "/", "~"))
    if looks_like_id:
        try:
            from huggingface_hub import snapshot_download

            return Path(snapshot_download(str(model), local_files_only=True))
        except Exception:  # noqa: BLE001 - not in the cache (or no hub client): the fix below
            pass
    cache = os.environ.get("HF_HOME", "~/.cache/huggingface")
    raise MissingWeightsError(
        f"chronos: weights {model!r} not found locally (nothing is downloaded at run time). "
        f"Either place a Chronos model directory (config.json, model.safetensors) at a path "
        f"and set evaluation.hyperparameters.chronos.model to it, or put the model id in "
        f"the Hugging Face cache of this machine ({cache}; HF_HOME moves it), e.g. "
        f"`huggingface-cli download {model if looks_like_id else PUBLISHED[2]}` on a "
        f"machine with internet and copy the cache over. Published ids: {', '.join(PUBLISHED)}"
    )


def weights_label(directory: Path) -> str:
    """``pretrained``, or what :data:`WEIGHTS_MARKER` in ``directory`` says
    (``random-smoke`` for randomly initialised test weights)."""
    marker = Path(directory) / WEIGHTS_MARKER
    if marker.is_file():
        return str(json.loads(marker.read_text()).get("weights", "pretrained"))
    return "pretrained"


class Chronos(Method):
    """A Chronos, Chronos-Bolt or Chronos-2 pipeline, zero-shot, one coordinate at a time."""

    name = "chronos"
    label = "Chronos"
    color = "#e377c2"
    needs_fit = False
    uses_torch = True
    # Chronos' corpus (public series plus KernelSynth and TSMixup) is not dysts, but its
    # overlap with the dysts systems is not documented
    pretrained_on = "unknown"
    citation = (
        "Ansari et al., Chronos: learning the language of time series, TMLR 2024; "
        "Zhang & Gilpin, Zero-shot forecasting of chaotic systems, ICLR 2025"
    )
    hyperparameters: ClassVar[dict[str, Any]] = {
        "model": "amazon/chronos-t5-small",
        "device": "auto",
        "dtype": "auto",
        "num_samples": 1,
        "seed": 0,
        "batch_size": 256,
    }

    def __init__(self, **hyperparameters: Any) -> None:
        super().__init__(**hyperparameters)
        self.weights_dir_ = resolve_weights(self.params["model"])  # fails fast
        self.weights_ = weights_label(self.weights_dir_)
        self._pipeline: Any = None

    # -- loading -------------------------------------------------------------------------
    def _device_dtype(self) -> tuple[str, Any]:
        import torch

        device = str(self.params["device"])
        if device == "auto":
            device = "cuda" if torch.cuda.is_available() else "cpu"
        dtype = str(self.params["dtype"])
        if dtype == "auto":
            dtype = "bfloat16" if device.startswith("cuda") else "float32"
        if dtype not in ("bfloat16", "float32"):
            raise ValueError(f"chronos: dtype must be auto, bfloat16 or float32, got {dtype!r}")
        return device, getattr(torch, dtype)

    @property
    def pipeline(self) -> Any:
        """The package's pipeline, loaded on first use."""
        if self._pipeline is None:
            os.environ["HF_HUB_OFFLINE"] = "1"
            from chronos import BaseChronosPipeline

            device, dtype = self._device_dtype()
            self.device_ = device
            self._pipeline = BaseChronosPipeline.from_pretrained(
                str(self.weights_dir_), device_map=device, dtype=dtype, local_files_only=True
            )
        return self._pipeline

    @property
    def kind(self) -> str:
        """``ChronosPipeline``, ``ChronosBoltPipeline`` or ``Chronos2Pipeline``."""
        return type(self.pipeline).__name__

    # -- forecasts -----------------------------------------------------------------------
    def median_forecast(self, series: np.ndarray, horizon: int) -> np.ndarray:
        """The point forecasts ``(S, horizon)`` of univariate series ``(S, L)`` in one
        package call: the 0.5 quantile (of the samples for Chronos)."""
        import torch

        x = torch.as_tensor(np.asarray(series, dtype=np.float32))
        pipe = self.pipeline
        kwargs: dict[str, Any] = {"prediction_length": int(horizon), "quantile_levels": [0.5]}
        if self.kind == "Chronos2Pipeline":
            q, _ = pipe.predict_quantiles(
                [row for row in x], batch_size=int(self.params["batch_size"]), **kwargs
            )
            out = torch.stack([t[0, :, 0] for t in q])  # each (1 variate, H, 1)
        else:
            if self.kind == "ChronosPipeline":
                kwargs["num_samples"] = int(self.params["num_samples"])
            q, _ = pipe.predict_quantiles(x, **kwargs)
            out = q[..., 0]  # (S, H, 1)
        return out.to(torch.float64).cpu().numpy()

    def forecast(self, context: np.ndarray, horizon: int) -> np.ndarray:
        """``(B, horizon, D)``: each coordinate forecast on its own, one call per
        coordinate over the B contexts, torch seeded before each call."""
        import torch

        ctx = check_context(context)
        out = np.empty((ctx.shape[0], int(horizon), ctx.shape[2]))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "We recommend keeping prediction length <= 64"
            for d in range(ctx.shape[2]):
                torch.manual_seed(int(self.params["seed"]))
                out[:, :, d] = self.median_forecast(ctx[:, :, d], horizon)
        return out
