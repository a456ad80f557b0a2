"""Planning: how a validated configuration (:func:`dsrbench.pipeline.config.load_config`) becomes
jobs, and what each job depends on.

The workflow writes the validated config once, with every default filled, as the *resolved
config* of its results directory (:func:`write_resolved_config`, at
:func:`dsrbench.layout.resolved_config`). A chunk job gets its wildcards, that file and its
*slice hash*, and cuts its own slices from the file (:func:`chunk_slices`): per system,
exactly what the job depends on beyond its wildcards (:func:`simulate_slice`,
:func:`train_slice`, :func:`predict_slice`). Snakemake reruns a job when its slice hash
changes and only then; the job refuses a resolved config whose slices do not give the hash
it was planned with (another run rewrote the file). Defaults come from the schema
(:mod:`dsrbench.schemas`) only.
"""

from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from dsrbench import methods, references
from dsrbench.atomic import write_text_atomic
from dsrbench.schemas import ConfigError, default
from dsrbench.systems import resolve_systems

__all__ = [
    "BY_SYSTEM",
    "CONTEXT_KEYS",
    "EVALUATION_EXTRA_KEYS",
    "PREDICTION_KEYS",
    "PROTOCOL_KEYS",
    "SLICE_KINDS",
    "TRAINING_KEYS",
    "TRUTH_KEYS",
    "chunk_id",
    "chunk_slices",
    "data_seen",
    "evaluation_datasets",
    "expand",
    "fits_on_context",
    "is_trained",
    "method_chunks",
    "method_hyperparameters",
    "method_systems",
    "predict_slice",
    "read_resolved_config",
    "shared_hyperparameters",
    "simulate_slice",
    "slice_hash",
    "system_chunks",
    "train_slice",
    "truth_slice",
    "write_resolved_config",
]


def evaluation_datasets(config: Mapping[str, Any]) -> list[str]:
    """Dataset settings that the evaluation covers (none without methods)."""
    ev = config.get("evaluation") or {}
    if not ev.get("methods"):
        return []
    return list(ev.get("datasets") or config["datasets"])


BY_SYSTEM = "by_system"


def shared_hyperparameters(params: Mapping[str, Any]) -> dict[str, Any]:
    """A method's hyperparameters of every system (its ``by_system`` entries left out)."""
    return {k: v for k, v in params.items() if k != BY_SYSTEM}


def method_hyperparameters(config: Mapping[str, Any], method: str, system: str) -> dict:
    """The hyperparameters of ``method`` on ``system``: the config's
    ``evaluation.hyperparameters.<method>``, overridden by its ``by_system.<system>``."""
    params = ((config.get("evaluation") or {}).get("hyperparameters") or {}).get(method) or {}
    return {**shared_hyperparameters(params), **((params.get(BY_SYSTEM) or {}).get(system) or {})}


def expand(config: Mapping[str, Any]) -> list[tuple[str, str]]:
    """All (system, dataset setting name) jobs of a validated config."""
    systems = resolve_systems(config["systems"])
    return [(system, dataset) for system in systems for dataset in config["datasets"]]


def system_chunks(config: Mapping[str, Any]) -> dict[str, list[str]]:
    """The chunks of a validated config: its systems, sorted by name, cut into consecutive
    runs of ``chunking.systems_per_job``; keyed by chunk id ``c000``, ``c001``, ... The
    simulate, train and predict jobs each run over one chunk."""
    systems = sorted(resolve_systems(config["systems"]))
    size = int(
        (config.get("chunking") or {}).get(
            "systems_per_job", default("chunking", "systems_per_job")
        )
    )
    return {
        chunk_id(i): systems[start : start + size]
        for i, start in enumerate(range(0, len(systems), size))
    }


def method_systems(config: Mapping[str, Any], method: str) -> list[str]:
    """The systems ``method`` runs on, sorted: the config's, or the subset that
    ``evaluation.systems_by_method`` gives it."""
    systems = sorted(resolve_systems(config["systems"]))
    only = ((config.get("evaluation") or {}).get("systems_by_method") or {}).get(method)
    return systems if only is None else [s for s in systems if s in set(only)]


def method_chunks(config: Mapping[str, Any], method: str) -> dict[str, list[str]]:
    """The chunks of :func:`system_chunks` that hold systems of ``method``, each cut to
    those systems (a method restricted by ``evaluation.systems_by_method`` gets no job for
    a chunk without its systems; its chunk ids stay those of the config)."""
    keep = set(method_systems(config, method))
    chunks = {c: [s for s in members if s in keep] for c, members in system_chunks(config).items()}
    return {c: members for c, members in chunks.items() if members}


def chunk_id(index: int) -> str:
    """The id of the ``index``-th chunk of systems (``c000`` for the first)."""
    return f"c{index:03d}"


def simulate_slice(config: Mapping[str, Any], system: str, dataset: str) -> dict[str, Any]:
    """What the simulation of ``system`` under the setting ``dataset`` depends on: the
    root seed, the integration tolerances and the dataset setting (not where it is
    written, nor the evaluation)."""
    if dataset not in config["datasets"]:
        raise ConfigError(
            f"unknown dataset setting {dataset!r}; config key 'datasets' has: "
            + ", ".join(config["datasets"])
        )
    return {
        "seed": config["seed"],
        "integration": copy.deepcopy(config["integration"]),
        "setting": copy.deepcopy(config["datasets"][dataset]),
    }


#: What a trained model depends on in the ``training`` section (threads, memory and
#: runtime are resources of the job, not inputs of the model).
TRAINING_KEYS = ("device", "budget_seconds", "train_length", "val_length")
#: The keys of the ``training`` section in a slice only when they differ from their
#: defaults (so the models of configs that do not use them keep their job keys): the
#: protocol keys and ``snapshot_steps``.
PROTOCOL_KEYS = {
    k: default("training", k)
    for k in ("validation", "tune", "refit_on", "data_limited", "snapshot_steps")
}
#: What a prediction depends on in the ``evaluation`` section.
PREDICTION_KEYS = ("context_length", "horizon", "contexts_per_trajectory", "long_run_length")
#: Evaluation keys in a prediction slice only when they differ from their defaults.
EVALUATION_EXTRA_KEYS = {
    k: default("evaluation", k)
    for k in (
        "fixed_horizon",
        "lyapunov_horizons",
        "long_run_transient",
        "model_lyapunov",
        "context_splits",
        "context_lengths",
    )
}
#: What places the forecast contexts (:func:`dsrbench.splits.protocol_contexts`): the
#: ``contexts`` of a train slice of a method fitted on each context.
CONTEXT_KEYS = (
    "context_length",
    "horizon",
    "contexts_per_trajectory",
    "context_splits",
    "context_lengths",
)


def is_trained(method: str) -> bool:
    """Whether ``method`` gets a training job: not the ``truth`` oracle, nor a method whose
    class says ``needs_fit = False`` (it forecasts from the context alone). Read from its
    class's source by :func:`dsrbench.methods.traits`: no method module (torch) is imported."""
    return methods.traits(method).needs_fit


def fits_on_context(config: Mapping[str, Any], method: str) -> bool:
    """Whether ``method`` is fitted once per forecast context, on that context alone (the
    zero-shot protocol's trained baselines, Zhang & Gilpin 2025): its class declares
    ``fit_on_context``, or it is trained and the config says ``training.refit_on:
    context``. Read from the class's source (no method module is imported)."""
    if references.is_truth(method):
        return False
    traits = methods.traits(method)
    refit = ((config.get("training") or {}).get("refit_on")) == "context"
    return traits.fit_on_context or (traits.needs_fit and refit)


def data_seen(config: Mapping[str, Any], method: str) -> str:
    """What data ``method`` saw before forecasting under ``config``, in words (the zero-shot
    page and protocol state it): the context alone, the context after pretraining, one
    fit per context, or the training split."""
    if references.is_truth(method):
        return "the true system (oracle)"
    traits = methods.traits(method)
    ev = config.get("evaluation") or {}
    length = ev.get("context_length", default("evaluation", "context_length"))
    pretrained = {
        "none": "",
        "dysts": " after pretraining on the dysts systems (the test systems: not zero-shot)",
        "unknown": " after pretraining on other data (overlap with dysts unknown)",
    }[traits.pretrained_on]
    if fits_on_context(config, method):
        return f"fitted on each {length}-point context alone{pretrained}"
    if not traits.needs_fit:
        return f"the {length}-point context alone{pretrained}"
    return f"the training split{pretrained}, then the {length}-point context"


def train_slice(config: Mapping[str, Any], method: str, system: str) -> dict[str, Any]:
    """What training ``method`` on ``system`` depends on beyond its dataset (an input):
    the method's hyperparameters on this system and the training settings."""
    training = config.get("training") or {}
    out = {
        "hyperparameters": method_hyperparameters(config, method, system),
        "training": {k: copy.deepcopy(training[k]) for k in TRAINING_KEYS if k in training},
    }
    for key, value in PROTOCOL_KEYS.items():
        if training.get(key, value) != value:
            out["training"][key] = copy.deepcopy(training[key])
    grid = (training.get("grids") or {}).get(method)
    if training.get("tune") and grid:
        out["training"]["grid"] = copy.deepcopy(grid)
    swept = training.get("data_limited_methods")
    if swept is not None and method not in swept:
        out["training"].pop("data_limited", None)
    elif training.get("data_limited"):
        horizon = (config.get("evaluation") or {}).get("fixed_horizon") or 200
        out["training"]["fixed_horizon"] = horizon
    if fits_on_context(config, method):
        # one model per forecast context: the train job places the contexts as the
        # prediction does, so it depends on what places them
        out["training"]["refit_on"] = "context"
        for key in ("tune", "grid", "data_limited", "fixed_horizon"):
            out["training"].pop(key, None)
        ev = config.get("evaluation") or {}
        out["contexts"] = {k: copy.deepcopy(ev[k]) for k in CONTEXT_KEYS if k in ev}
    return out


def predict_slice(config: Mapping[str, Any], method: str, system: str) -> dict[str, Any]:
    """What a prediction of ``method`` on ``system`` depends on beyond its dataset and its
    model (inputs): the evaluation's context, horizon and run length; for a method that is
    not trained its hyperparameters (a model carries its own); for a torch method the
    device it runs on."""
    ev = config.get("evaluation") or {}
    out: dict[str, Any] = {"evaluation": {k: ev[k] for k in PREDICTION_KEYS if k in ev}}
    for key, value in EVALUATION_EXTRA_KEYS.items():
        if ev.get(key, value) != value:
            out["evaluation"][key] = copy.deepcopy(ev[key])
    if not references.is_truth(method) and not is_trained(method):
        out["hyperparameters"] = method_hyperparameters(config, method, system)
    if methods.traits(method).uses_torch:
        out["training"] = {
            "device": (config.get("training") or {}).get("device", default("training", "device"))
        }
    return out


SLICE_KINDS = ("simulate", "train", "predict", "truth")

#: What the long true runs of a dataset store depend on in the ``evaluation`` section
#: (:func:`dsrbench.truth.true_run_keys`): their length, the free run's transient and the
#: keys that place the contexts (the first one's trajectory starts the free runs).
TRUTH_KEYS = ("long_run_length", "long_run_transient", *CONTEXT_KEYS)


def truth_slice(config: Mapping[str, Any]) -> dict[str, Any]:
    """What the true long runs of a dataset store depend on beyond the store (an input):
    :data:`TRUTH_KEYS` of the evaluation and its seeds."""
    ev = config["evaluation"]
    return {
        "evaluation": {k: copy.deepcopy(ev[k]) for k in TRUTH_KEYS},
        "seeds": [int(s) for s in ev["seeds"]],
    }


def chunk_slices(
    config: Mapping[str, Any],
    kind: str,
    dataset: str,
    chunk: str,
    method: str | None = None,
) -> dict[str, dict[str, Any]]:
    """The slices of the ``kind`` job (``simulate``, ``train`` or ``predict``) of ``chunk``
    on the dataset setting ``dataset`` (and ``method``): its systems, each mapped to its
    slice. ConfigError when the config has no such chunk or setting."""
    if dataset not in config["datasets"]:
        raise ConfigError(
            f"unknown dataset setting {dataset!r}; config key 'datasets' has: "
            + ", ".join(config["datasets"])
        )
    if kind in ("simulate", "truth"):
        chunks = system_chunks(config)
    elif kind in SLICE_KINDS and method is not None:
        chunks = method_chunks(config, method)
    else:
        raise ValueError(
            f"a {kind!r} chunk: kind is one of {', '.join(SLICE_KINDS)}, with a method"
        )
    if chunk not in chunks:
        raise ConfigError(
            f"no {kind} job of chunk {chunk!r}"
            + (f" for method {method!r}" if method else "")
            + f" in this config; it has {', '.join(chunks) or 'none'}"
        )
    if kind == "simulate":
        return {s: simulate_slice(config, s, dataset) for s in chunks[chunk]}
    if kind == "truth":
        return {s: truth_slice(config) for s in chunks[chunk]}
    cut = train_slice if kind == "train" else predict_slice
    return {s: cut(config, method, s) for s in chunks[chunk]}


def slice_hash(slices: Mapping[str, Any], seeds: Sequence[int] | None = None) -> str:
    """The SHA-256 of a chunk job's slices (:func:`chunk_slices`) and, for a train or
    predict job, its seeds: the workflow passes it to the job, so Snakemake reruns the job
    when, and only when, one of them changes."""
    payload = {"slices": slices, "seeds": None if seeds is None else [int(s) for s in seeds]}
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


#: the key of the resolved config file that holds the config (beside its format version)
RESOLVED_KEY = "dsrbench_resolved_config"


def write_resolved_config(config: Mapping[str, Any], path: str | Path) -> Path:
    """Write the validated ``config`` (defaults filled) as JSON to ``path``, atomically;
    unchanged content is not rewritten."""
    text = json.dumps({RESOLVED_KEY: 1, "config": config}, sort_keys=True, indent=1) + "\n"
    path = Path(path)
    if not path.is_file() or path.read_text() != text:
        write_text_atomic(path, text)
    return path


def read_resolved_config(path: str | Path) -> dict[str, Any]:
    """The config of a resolved config file (:func:`write_resolved_config`). ConfigError
    naming the fix when it is missing or not one."""
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, ValueError) as exc:
        raise ConfigError(
            f"cannot read the resolved config {path}: {exc}; run snakemake again (it writes "
            "the file before the first job)"
        ) from None
    if not isinstance(data, dict) or data.get(RESOLVED_KEY) != 1:
        raise ConfigError(f"{path} is not a resolved config written by dsrbench.pipeline.plan")
    return data["config"]
