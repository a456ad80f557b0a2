"""The slices a job works on: cut from a whole config for the one-system commands
(:func:`load_slice`), or from the run's resolved config for a chunk job (:func:`cut_chunk`,
which checks the hash the workflow planned the job with).

Bad input (an unreadable config, a config that does not plan this job) raises
:class:`dsrbench.pipeline.records.JobInputError` with a message naming the problem and the
fix (exit status 2).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from dsrbench.pipeline import plan
from dsrbench.pipeline.config import load_config
from dsrbench.pipeline.plan import is_trained
from dsrbench.pipeline.records import (
    JobInputError,
)
from dsrbench.schemas import ConfigError
from dsrbench.systems import UnknownSystemError, resolve_systems

__all__ = ["cut_chunk", "load_slice"]


def load_slice(
    kind: str,
    *,
    config: str | None = None,
    config_json: str | None = None,
    system: str,
    dataset: str | None = None,
    method: str | None = None,
) -> dict[str, Any]:
    """The slice of a one-system ``kind`` job, cut from a whole config (a YAML file
    ``config`` or the JSON ``config_json``), which is validated first."""
    try:
        cfg = load_config(
            _json_object(config_json, "--config-json") if config_json is not None else config
        )
        if kind == "simulate":
            resolve_systems([system])  # an unknown name: the error lists the closest ones
            if dataset not in cfg["datasets"]:
                raise JobInputError(
                    f"--dataset {dataset!r} is not a dataset setting of the config; "
                    f"choose one of: {', '.join(cfg['datasets'])}"
                )
            return plan.simulate_slice(cfg, system, dataset)
        if method not in cfg["evaluation"]["methods"]:
            raise JobInputError(
                f"--method {method!r} is not in the config's evaluation.methods "
                f"({', '.join(cfg['evaluation']['methods']) or 'none'})"
            )
        if kind == "train":
            if not is_trained(method):
                raise JobInputError(f"method {method!r} is not trained (it needs no fit)")
            return plan.train_slice(cfg, method, system)
        return plan.predict_slice(cfg, method, system)
    except (ConfigError, UnknownSystemError) as exc:
        raise JobInputError(exc.args[0] if isinstance(exc, KeyError) else str(exc)) from None


def cut_chunk(
    kind: str,
    resolved_config: str | Path,
    dataset: str,
    chunk: str,
    *,
    method: str | None = None,
    slice_hash: str | None = None,
) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    """The resolved config at ``resolved_config`` and the slices of the ``kind`` job of
    ``chunk`` (system -> slice) cut from it; with ``slice_hash`` (what the workflow planned
    the job with), a config whose slices hash otherwise is refused: the file was rewritten
    by another run since this one was planned."""
    try:
        cfg = plan.read_resolved_config(resolved_config)
        slices = plan.chunk_slices(cfg, kind, dataset, chunk, method)
    except ConfigError as exc:
        raise JobInputError(str(exc)) from None
    seeds = None if kind in ("simulate", "truth") else cfg["evaluation"]["seeds"]
    if slice_hash is not None and plan.slice_hash(slices, seeds) != slice_hash:
        raise JobInputError(
            f"the {kind} job of {dataset}/{method + '/' if method else ''}{chunk} was planned "
            f"with slice hash {slice_hash}, but {resolved_config} gives "
            f"{plan.slice_hash(slices, seeds)}: another run rewrote it; run snakemake again"
        )
    return cfg, slices


def _json_object(text: str, option: str) -> dict[str, Any]:
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as exc:
        raise JobInputError(f"{option} is not valid JSON: {exc}") from None
    if not isinstance(raw, dict):
        raise JobInputError(f"{option} must be a JSON object")
    return raw
