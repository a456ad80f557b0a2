"""Loading and validation of the workflow configuration.

The schema ships inside the package, ``dsrbench/schemas/config.schema.yaml`` (JSON Schema,
draft 2020-12; ``workflow/schemas/config.schema.yaml`` links to it). :func:`load_config`
validates a YAML file or a dict (e.g. the ``config`` Snakemake assembled from
``--configfile`` and ``--config``), fills the defaults, checks the system names against the
registry and raises :class:`ConfigError` with messages that name the offending key and the
fix.

Each job gets a *slice* of the config, holding exactly what the job depends on beyond its
wildcards (:func:`simulate_slice`, :func:`train_slice`, :func:`predict_slice`): Snakemake
reruns a job when its slice changes and only then. :func:`check_slice` validates a slice
against the matching parts of the schema, so the job commands take one without the rest
of a config.
"""

from __future__ import annotations

import copy
import difflib
import importlib.resources
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from dsrbench import references
from dsrbench.references import TRUTH
from dsrbench.systems import UnknownSystemError, resolve_systems

__all__ = [
    "ConfigError",
    "SCHEMA_PATH",
    "SLICE_KINDS",
    "check_slice",
    "chunk_id",
    "evaluation_datasets",
    "expand",
    "is_trained",
    "load_config",
    "load_schema",
    "method_hyperparameters",
    "predict_slice",
    "simulate_slice",
    "system_chunks",
    "train_slice",
]

#: The config schema, package data of dsrbench (found without a checkout).
SCHEMA_PATH = Path(str(importlib.resources.files("dsrbench") / "schemas" / "config.schema.yaml"))

#: Names people reach for, mapped to the key that means it (used in "did you mean").
_ALIASES = {
    "granularity": "pts_per_period",
    "points_per_period": "pts_per_period",
    "n_points": "length",
    "n_steps": "length",
    "transient": "burn_in",
    "noise": "observation_noise",
    "system": "systems",
    "dataset": "datasets",
    "tolerance": "rtol",
}

_TYPE_NAMES = {
    "integer": "an integer",
    "number": "a number",
    "string": "a string",
    "object": "a mapping",
    "array": "a list",
    "boolean": "true or false",
    "null": "null",
}


class ConfigError(ValueError):
    """Invalid workflow configuration; the message names the key and the fix."""


def load_schema(schema: str | os.PathLike[str] | None = None) -> dict[str, Any]:
    """Read the config JSON Schema (default: the one shipped in the package)."""
    if schema is None:
        resource = importlib.resources.files("dsrbench") / "schemas" / "config.schema.yaml"
        if not resource.is_file():
            raise ConfigError(
                f"config schema not found at {resource}: the dsrbench installation lacks its "
                "package data (dsrbench/schemas/config.schema.yaml); reinstall dsrbench"
            )
        return yaml.safe_load(resource.read_text(encoding="utf-8"))
    path = Path(schema)
    if not path.is_file():
        raise ConfigError(f"config schema not found at {path}; pass schema=PATH to load_config")
    with open(path) as fh:
        return yaml.safe_load(fh)


def _read_yaml(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise ConfigError(f"config file not found: {path}")
    try:
        with open(path) as fh:
            data = yaml.safe_load(fh)
    except yaml.YAMLError as exc:
        raise ConfigError(f"config file {path} is not valid YAML: {exc}") from exc
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"config file {path} must contain a mapping of keys, got {data!r}")
    return data


def load_config(
    source: str | os.PathLike[str] | Mapping[str, Any],
    schema: str | os.PathLike[str] | Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Load, validate and complete a configuration.

    Args:
        source: a YAML file path or an already parsed mapping (not modified).
        schema: the schema as a path or mapping; default the repository's schema.

    Returns:
        A new dict with every default filled in. ``systems`` keeps its form ("all" or
        the list given); use :func:`expand` for the jobs.

    Raises:
        ConfigError: naming the offending key path and what is allowed.
    """
    import jsonschema

    where = ""
    if isinstance(source, Mapping):
        cfg = copy.deepcopy(dict(source))
    else:
        cfg = _read_yaml(Path(source))
        where = f" (in {source})"
    schema_dict = dict(schema) if isinstance(schema, Mapping) else load_schema(schema)

    if isinstance(cfg.get("systems"), str) and cfg["systems"] != "all":
        cfg["systems"] = [cfg["systems"]]  # `--config systems=Lorenz`
    _normalize(cfg, schema_dict)
    validator = jsonschema.Draft202012Validator(schema_dict)
    errors = sorted(
        validator.iter_errors(cfg), key=lambda e: (list(map(str, e.absolute_path)), e.validator)
    )
    if errors:
        messages = _messages(errors)
        system_error = _system_error(cfg.get("systems"))
        if system_error:
            messages.append(system_error)
        if len(messages) == 1:
            raise ConfigError(messages[0] + where)
        raise ConfigError(
            f"invalid configuration{where} ({len(messages)} problems):\n  - "
            + "\n  - ".join(messages)
        )
    _fill_defaults(cfg, schema_dict)
    system_error = _system_error(cfg["systems"])
    if system_error:
        raise ConfigError(system_error + where)
    evaluation_error = _evaluation_error(cfg)
    if evaluation_error:
        raise ConfigError(evaluation_error + where)
    return cfg


def evaluation_datasets(config: Mapping[str, Any]) -> list[str]:
    """Dataset settings that the evaluation covers (none without methods)."""
    ev = config.get("evaluation") or {}
    if not ev.get("methods"):
        return []
    return list(ev.get("datasets") or config["datasets"])


def _evaluation_error(cfg: Mapping[str, Any]) -> str | None:
    """Cross-key checks of the evaluation section: names exist, contexts fit the data."""
    from dsrbench import methods
    from dsrbench.methods.base import HyperparameterError

    ev = cfg.get("evaluation") or {}
    known = [*references.PREDICTORS, *methods.available()]
    for name in ev.get("methods", []):
        if name not in known:
            close = difflib.get_close_matches(name, known, n=2)
            did = f" (did you mean {' or '.join(map(repr, close))}?)" if close else ""
            return (
                f"config key 'evaluation.methods': unknown method {name!r}{did}; "
                f"available: {', '.join(known)} (`dsrbench methods` lists them)"
            )
    for name, params in (ev.get("hyperparameters") or {}).items():
        if name not in known or references.is_truth(name):
            close = difflib.get_close_matches(name, known, n=2)
            did = f" (did you mean {' or '.join(map(repr, close))}?)" if close else ""
            return (
                f"config key 'evaluation.hyperparameters.{name}': unknown method {name!r}{did}; "
                f"available: {', '.join(references.methods_only(known))}"
            )
        by_system = params.get(BY_SYSTEM) or {}
        if not isinstance(by_system, dict):
            return f"config key 'evaluation.hyperparameters.{name}.{BY_SYSTEM}' must be a mapping"
        for system, overrides in {None: {}, **by_system}.items():
            key = f"evaluation.hyperparameters.{name}" + (
                f".{BY_SYSTEM}.{system}" if system else ""
            )
            if system is not None and not isinstance(overrides, dict):
                return f"config key '{key}' must map hyperparameter names to values"
            if system is not None:
                from dsrbench.systems import UnknownSystemError, get_system_info

                try:
                    get_system_info(system)
                except UnknownSystemError as exc:
                    return f"config key '{key}': {exc}"
            given = {**_plain(params), **overrides}
            declared = methods.traits(name)
            if declared.uses_torch:  # a torch method: its names, without importing torch
                unknown = _unknown_hyperparameters(name, declared.hyperparameters, given)
                if unknown:
                    return f"config key '{key}': {unknown}"
                continue
            try:
                methods.get(name)(**given)
            except HyperparameterError as exc:
                return f"config key '{key}': {exc}"
    problem = _protocol_error(cfg, known) or _systems_by_method_error(cfg) or _context_error(cfg)
    if problem:
        return problem
    for name in ev.get("datasets") or []:
        if name not in cfg["datasets"]:
            return (
                f"config key 'evaluation.datasets': {name!r} is not a dataset setting; "
                f"choose from {', '.join(cfg['datasets'])}"
            )
    for name, setting in cfg["datasets"].items():
        for system in setting.get(BY_SYSTEM) or {}:
            from dsrbench.systems import UnknownSystemError, get_system_info

            try:
                get_system_info(system)
            except UnknownSystemError as exc:
                return f"config key 'datasets.{name}.{BY_SYSTEM}.{system}': {exc}"
    for name in evaluation_datasets(cfg):
        setting = cfg["datasets"][name]
        longest = max([ev["context_length"], *ev["context_lengths"]])
        need = longest + ev["horizon"]
        if setting["n_test"] < 1:
            return (
                f"config key 'datasets.{name}.n_test' is 0, but the evaluation needs test "
                "trajectories: set n_test >= 1 or leave the setting out of evaluation.datasets"
            )
        if need > setting["length"]:
            what = "context_length" if longest == ev["context_length"] else "context_lengths"
            return (
                f"config keys 'evaluation.{what}' + 'evaluation.horizon' = {need} "
                f"exceed 'datasets.{name}.length' = {setting['length']}: shorten them or "
                "lengthen the trajectories"
            )
    return None


def _protocol_error(cfg: Mapping[str, Any], known: list[str]) -> str | None:
    """Cross-key checks of the training protocol (grids, refit, data-limited sweep)."""
    tr = cfg.get("training") or {}
    for name, grid in (tr.get("grids") or {}).items():
        if name not in known or references.is_truth(name):
            close = difflib.get_close_matches(name, known, n=2)
            did = f" (did you mean {' or '.join(map(repr, close))}?)" if close else ""
            return f"config key 'training.grids.{name}': unknown method {name!r}{did}"
        names = _hyperparameter_names(name)
        unknown = _unknown_hyperparameters(name, names, grid)
        if unknown:
            return f"config key 'training.grids.{name}': {unknown}"
    for name in tr.get("data_limited_methods") or []:
        if name not in known or references.is_truth(name):
            close = difflib.get_close_matches(name, known, n=2)
            did = f" (did you mean {' or '.join(map(repr, close))}?)" if close else ""
            return f"config key 'training.data_limited_methods': unknown method {name!r}{did}"
    lengths = tr.get("data_limited") or []
    if lengths:
        if tr.get("refit_on") != "test" or not tr.get("train_length"):
            return (
                "config key 'training.data_limited' needs training.refit_on: test and a "
                "training.train_length (the sweep fits on the test trajectory's first points)"
            )
        too_long = [n for n in lengths if n > tr["train_length"]]
        if too_long:
            return (
                f"config key 'training.data_limited': lengths {too_long} exceed "
                f"training.train_length = {tr['train_length']}"
            )
    if tr.get("tune") and tr.get("validation", "val_split") == "val_split":
        empty = [name for name, setting in cfg["datasets"].items() if setting["n_val"] < 1]
        if empty:
            return (
                "config key 'training.tune' scores the grid on validation points, but "
                f"'datasets.{empty[0]}.n_val' is 0: set training.validation: train_tail "
                "(Gilpin 2023) or n_val >= 1"
            )
    if tr.get("validation") == "train_tail":
        if not tr.get("train_length") or not tr.get("val_length"):
            return (
                "config key 'training.validation: train_tail' needs training.train_length "
                "and training.val_length (validation = the points after the training ones)"
            )
        for name, setting in cfg["datasets"].items():
            need = tr["train_length"] + tr["val_length"]
            if need > setting["length"]:
                return (
                    f"training.train_length + val_length = {need} exceed "
                    f"'datasets.{name}.length' = {setting['length']} (validation: train_tail)"
                )
    return None


def _context_error(cfg: Mapping[str, Any]) -> str | None:
    """Cross-key checks of the zero-shot protocol: contexts on the training or validation
    trajectories only for methods that never see them; no tuning nor sweep of a fit on each
    context."""
    ev = cfg.get("evaluation") or {}
    tr = cfg.get("training") or {}
    if tr.get("refit_on") == "context":
        for key in ("tune", "data_limited"):
            if tr.get(key):
                return (
                    f"config key 'training.{key}' cannot go with training.refit_on: context "
                    "(each model is fitted on its forecast context alone, with the given "
                    f"hyperparameters); remove training.{key}"
                )
    splits = [s for s in ev.get("context_splits", ["test"]) if s != "test"]
    if splits:
        seen = [
            m
            for m in ev.get("methods", [])
            if not references.is_truth(m) and is_trained(m) and not fits_on_context(cfg, m)
        ]
        if seen:
            return (
                f"config key 'evaluation.context_splits' forecasts from the {'/'.join(splits)} "
                f"trajectories, which {', '.join(seen)} would be trained on; set "
                "training.refit_on: context (each model fitted on its context alone) or "
                "context_splits: [test]"
            )
    return None


def _hyperparameter_names(method: str) -> frozenset[str]:
    """The hyperparameter names of ``method``, read from its class without importing it."""
    from dsrbench import methods

    return methods.traits(method).hyperparameters


BY_SYSTEM = "by_system"


def _unknown_hyperparameters(method: str, valid: frozenset[str], given: Mapping) -> str | None:
    """The complaint of ``Method.__init__`` about names not in ``valid`` (None if none)."""
    unknown = sorted(set(given) - valid)
    if not unknown:
        return None
    detail = ", ".join(
        f"{u!r}" + (f" (did you mean {close[0]!r}?)" if close else "")
        for u in unknown
        for close in [difflib.get_close_matches(u, sorted(valid), n=1)]
    )
    return (
        f"unknown hyperparameter {detail} for method {method!r}; valid: {', '.join(sorted(valid))}"
    )


def _plain(params: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in params.items() if k != BY_SYSTEM}


def method_hyperparameters(config: Mapping[str, Any], method: str, system: str) -> dict:
    """The hyperparameters of ``method`` on ``system``: the config's
    ``evaluation.hyperparameters.<method>``, overridden by its ``by_system.<system>``."""
    params = ((config.get("evaluation") or {}).get("hyperparameters") or {}).get(method) or {}
    return {**_plain(params), **((params.get(BY_SYSTEM) or {}).get(system) or {})}


def expand(config: Mapping[str, Any]) -> list[tuple[str, str]]:
    """All (system, dataset setting name) jobs of a validated config."""
    systems = resolve_systems(config["systems"])
    return [(system, dataset) for system in systems for dataset in config["datasets"]]


def system_chunks(config: Mapping[str, Any]) -> dict[str, list[str]]:
    """The chunks of a validated config: its systems, sorted by name, cut into consecutive
    runs of ``chunking.systems_per_job``; keyed by chunk id ``c000``, ``c001``, ... The
    simulate, train and predict jobs each run over one chunk."""
    systems = sorted(resolve_systems(config["systems"]))
    size = int((config.get("chunking") or {}).get("systems_per_job", 16))
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


def _systems_by_method_error(cfg: Mapping[str, Any]) -> str | None:
    """``evaluation.systems_by_method`` names configured methods and configured systems."""
    ev = cfg.get("evaluation") or {}
    systems = set(resolve_systems(cfg["systems"]))
    for method, names in (ev.get("systems_by_method") or {}).items():
        key = f"evaluation.systems_by_method.{method}"
        if method not in ev.get("methods", []):
            return (
                f"config key '{key}': {method!r} is not in evaluation.methods; add it there "
                "or remove it from systems_by_method"
            )
        try:
            resolve_systems(list(names))
        except UnknownSystemError as exc:
            return f"config key '{key}': {exc}"
        missing = sorted(set(names) - systems)
        if missing:
            return (
                f"config key '{key}': {', '.join(missing)} not in the config's systems; add "
                "them to 'systems' or remove them here"
            )
    return None


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
    "validation": "val_split",
    "tune": False,
    "refit_on": "train",
    "data_limited": [],
    "snapshot_steps": [],
}
#: What a prediction depends on in the ``evaluation`` section.
PREDICTION_KEYS = ("context_length", "horizon", "contexts_per_trajectory", "long_run_length")
#: Evaluation keys in a prediction slice only when they differ from their defaults.
EVALUATION_EXTRA_KEYS = {
    "fixed_horizon": None,
    "lyapunov_horizons": [1, 4, 10],
    "long_run_transient": 0.25,
    "model_lyapunov": True,
    "context_splits": ["test"],
    "context_lengths": [],
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
    from dsrbench import methods

    return methods.traits(method).needs_fit


def fits_on_context(config: Mapping[str, Any], method: str) -> bool:
    """Whether ``method`` is fitted once per forecast context, on that context alone (the
    zero-shot protocol's trained baselines, Zhang & Gilpin 2025): its class declares
    ``fit_on_context``, or it is trained and the config says ``training.refit_on:
    context``. Read from the class's source (no method module is imported)."""
    from dsrbench import methods

    if references.is_truth(method):
        return False
    traits = methods.traits(method)
    refit = ((config.get("training") or {}).get("refit_on")) == "context"
    return traits.fit_on_context or (traits.needs_fit and refit)


def data_seen(config: Mapping[str, Any], method: str) -> str:
    """What data ``method`` saw before forecasting under ``config``, in words (the zero-shot
    page and protocol state it): the context alone, the context after pretraining, one
    fit per context, or the training split."""
    from dsrbench import methods

    if references.is_truth(method):
        return "the true system (oracle)"
    traits = methods.traits(method)
    ev = config.get("evaluation") or {}
    length = ev.get("context_length", 100)
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
    for key, default in PROTOCOL_KEYS.items():
        if training.get(key, default) != default:
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
    from dsrbench import methods

    ev = config.get("evaluation") or {}
    out: dict[str, Any] = {"evaluation": {k: ev[k] for k in PREDICTION_KEYS if k in ev}}
    for key, default in EVALUATION_EXTRA_KEYS.items():
        if ev.get(key, default) != default:
            out["evaluation"][key] = copy.deepcopy(ev[key])
    if not references.is_truth(method) and not is_trained(method):
        out["hyperparameters"] = method_hyperparameters(config, method, system)
    if methods.traits(method).uses_torch:
        out["training"] = {"device": (config.get("training") or {}).get("device", "auto")}
    return out


SLICE_KINDS = ("simulate", "train", "predict")


def _slice_schema(kind: str, schema: Mapping[str, Any]) -> dict[str, Any]:
    """The schema of a ``kind`` slice, made of the parts of the config schema it holds."""
    props = schema["properties"]

    def part(section: str, keys: tuple[str, ...]) -> dict[str, Any]:
        sub = props[section]
        return {
            **{k: v for k, v in sub.items() if k != "properties"},
            "properties": {k: sub["properties"][k] for k in keys},
        }

    def no_defaults(section: dict[str, Any], keys: Any) -> dict[str, Any]:
        # keys a slice holds only when they differ from their defaults: none filled in
        for k in keys:
            section["properties"][k] = {
                kk: vv for kk, vv in section["properties"][k].items() if kk != "default"
            }
        return section

    hyper = {"type": "object", "default": {}, "description": "the method's hyperparameters"}
    if kind == "simulate":
        properties = {
            "seed": props["seed"],
            "integration": props["integration"],
            "setting": props["datasets"]["additionalProperties"],
        }
        required = ["setting"]
    elif kind == "train":
        training = no_defaults(
            part("training", TRAINING_KEYS + tuple(PROTOCOL_KEYS)), PROTOCOL_KEYS
        )
        training["properties"]["grid"] = {
            "description": "the method's grid (training.grids.<method>)",
            "type": "object",
            "additionalProperties": {"type": "array", "minItems": 1},
        }
        training["properties"]["fixed_horizon"] = {
            "description": "forecast steps of the data-limited sweep (evaluation.fixed_horizon)",
            "type": "integer",
            "minimum": 2,
        }
        contexts = part("evaluation", CONTEXT_KEYS)
        contexts["description"] = "where the forecast contexts lie (refit_on: context)"
        contexts = {k: v for k, v in contexts.items() if k != "default"}
        properties = {"hyperparameters": hyper, "training": training, "contexts": contexts}
        required = []
    elif kind == "predict":
        # hyperparameters (untrained methods) and training.device (torch methods) are
        # there only when the prediction depends on them: no defaults filled in
        device = part("training", ("device",))
        properties = {
            "evaluation": no_defaults(
                part("evaluation", PREDICTION_KEYS + tuple(EVALUATION_EXTRA_KEYS)),
                EVALUATION_EXTRA_KEYS,
            ),
            "hyperparameters": {k: v for k, v in hyper.items() if k != "default"},
            "training": {k: v for k, v in device.items() if k != "default"},
        }
        required = ["evaluation"]
    else:
        raise ValueError(f"unknown slice kind {kind!r}; choose one of {', '.join(SLICE_KINDS)}")
    return {
        "type": "object",
        "additionalProperties": False,
        "required": required,
        "properties": properties,
    }


def check_slice(
    kind: str,
    job: Any,
    *,
    method: str | None = None,
    schema: str | os.PathLike[str] | Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Validate the slice of a ``kind`` job (``simulate``, ``train`` or ``predict``) and
    return a copy with its defaults filled. ``method``: the job's method, whose name and
    hyperparameters are checked. Raises :class:`ConfigError` naming the slice key and the
    fix."""
    import jsonschema

    subject = f"{kind} job slice"
    if not isinstance(job, Mapping):
        raise ConfigError(f"the {subject} must be a JSON object, got {_got(job)}")
    full = dict(schema) if isinstance(schema, Mapping) else load_schema(schema)
    slice_schema = _slice_schema(kind, full)
    out = copy.deepcopy(dict(job))
    _normalize(out, slice_schema)
    errors = sorted(
        jsonschema.Draft202012Validator(slice_schema).iter_errors(out),
        key=lambda e: (list(map(str, e.absolute_path)), e.validator),
    )
    if errors:
        messages = _messages(errors, subject)
        if len(messages) == 1:
            raise ConfigError(messages[0])
        raise ConfigError(
            f"invalid {subject} ({len(messages)} problems):\n  - " + "\n  - ".join(messages)
        )
    _fill_defaults(out, slice_schema)
    if method is not None:
        _check_method(kind, method, out.get("hyperparameters") or {}, subject)
    return out


def _check_method(kind: str, method: str, hyperparameters: dict, subject: str) -> None:
    from dsrbench import methods
    from dsrbench.methods.base import HyperparameterError

    known = [*references.PREDICTORS, *methods.available()]
    if method not in known:
        close = difflib.get_close_matches(method, known, n=2)
        did = f" (did you mean {' or '.join(map(repr, close))}?)" if close else ""
        raise ConfigError(
            f"unknown method {method!r}{did}; available: {', '.join(known)} "
            "(`dsrbench methods` lists them)"
        )
    if references.is_truth(method):
        if kind == "train":
            raise ConfigError(f"the reference predictor {TRUTH!r} is not trained")
        if hyperparameters:
            raise ConfigError(f"{subject} key 'hyperparameters': {TRUTH!r} takes none")
        return
    try:
        methods.get(method)(**hyperparameters)
    except HyperparameterError as exc:
        raise ConfigError(f"{subject} key 'hyperparameters': {exc}") from None


# --------------------------------------------------------------------------- internals


def _system_error(systems: Any) -> str | None:
    """Registry complaint about ``systems`` (None if fine or not a list/str of names)."""
    if (isinstance(systems, list) and all(isinstance(s, str) for s in systems)) or systems == "all":
        try:
            resolve_systems(systems)
        except UnknownSystemError as exc:
            return f"config key 'systems': {exc}"
    return None


def _messages(errors: list[Any], subject: str = "config") -> list[str]:
    """Translate errors; drop "missing key X" where an unknown key already suggests X."""
    suggested: set[tuple[str, str]] = set()
    for e in errors:
        if e.validator == "additionalProperties":
            valid = list(e.schema.get("properties", {}))
            for extra in (k for k in e.instance if k not in valid):
                for hint in _suggest(str(extra), valid):
                    suggested.add((_key(e.absolute_path), hint))
    out = []
    for e in errors:
        if e.validator == "required":
            missing = [k for k in e.validator_value if k not in e.instance]
            if all((_key(e.absolute_path), k) in suggested for k in missing):
                continue
        out.append(_translate(e, subject))
    return list(dict.fromkeys(out))


def _key(path: Any) -> str:
    return ".".join(str(p) for p in path)


def _got(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _types(schema: Mapping[str, Any]) -> list[str]:
    """The JSON types ``schema`` accepts, those of its ``anyOf``/``oneOf`` branches too."""
    t = schema.get("type", [])
    out = [t] if isinstance(t, str) else list(t)
    for branch in [*schema.get("anyOf", []), *schema.get("oneOf", [])]:
        out += [x for x in _types(branch) if x not in out]
    return out


_BOOLEANS = {"true": True, "false": False}


def _normalize(instance: Any, schema: Mapping[str, Any]) -> None:
    """Fix harmless spelling in place: numbers and true/false given as strings, enum case.

    PyYAML reads ``1e-10`` (no dot) as a string, Snakemake's ``--config`` passes nested
    values such as ``reports={enabled: false}`` as strings, and dysts spells time scales
    ``"Fourier"``/``"Lyapunov"``; all are accepted.
    """
    if not isinstance(instance, dict):
        return
    props = schema.get("properties", {})
    extra = schema.get("additionalProperties")
    for key, value in list(instance.items()):
        sub = props.get(key, extra if isinstance(extra, Mapping) else None)
        if not isinstance(sub, Mapping):
            continue
        types = _types(sub)
        if isinstance(value, str) and ("number" in types or "integer" in types):
            try:
                num = float(value)
            except ValueError:
                pass
            else:
                if "integer" in types and num.is_integer():
                    instance[key] = int(num)
                elif "number" in types:
                    instance[key] = num
        elif isinstance(value, str) and "boolean" in types and value.lower() in _BOOLEANS:
            instance[key] = _BOOLEANS[value.lower()]  # `--config 'reports={enabled: false}'`
        elif isinstance(value, str) and "enum" in sub:
            lowered = {str(v).lower(): v for v in sub["enum"]}
            if value not in sub["enum"] and value.lower() in lowered:
                instance[key] = lowered[value.lower()]
        elif isinstance(value, dict):
            _normalize(value, sub)


def _fill_defaults(instance: Any, schema: Mapping[str, Any]) -> None:
    if not isinstance(instance, dict):
        return
    props = schema.get("properties", {})
    for key, sub in props.items():
        if key not in instance and "default" in sub:
            instance[key] = copy.deepcopy(sub["default"])
        if key in instance:
            _fill_defaults(instance[key], sub)
    extra = schema.get("additionalProperties")
    if isinstance(extra, Mapping):
        for key, value in instance.items():
            if key not in props:
                _fill_defaults(value, extra)


def _suggest(key: str, valid: list[str]) -> list[str]:
    out = []
    alias = _ALIASES.get(key.lower())
    if alias in valid:
        out.append(alias)
    lower = {v.lower(): v for v in valid}
    for m in difflib.get_close_matches(key.lower(), list(lower), n=1, cutoff=0.6):
        if lower[m] not in out:
            out.append(lower[m])
    return out[:1]


def _translate(error: Any, subject: str = "config") -> str:
    """One readable message for a jsonschema ValidationError (``subject``: what was
    validated, "config" or e.g. "train job slice")."""
    path = list(error.absolute_path)
    key = _key(path)
    where = f"{subject} key '{key}'" if path else subject
    schema = error.schema if isinstance(error.schema, Mapping) else {}
    v = error.validator
    inst = error.instance

    if "propertyNames" in error.schema_path:
        return (
            f"dataset setting name {inst!r} under {subject} key '{key}' may contain only "
            "letters, digits and underscores"
        )
    if v == "additionalProperties":
        valid = list(schema.get("properties", {}))
        msgs = []
        for extra in (k for k in inst if k not in valid):
            full = _key([*path, extra])
            hint = _suggest(str(extra), valid)
            did = f" (did you mean {' or '.join(repr(h) for h in hint)}?)" if hint else ""
            msgs.append(f"unknown {subject} key '{full}'{did}; valid keys: {', '.join(valid)}")
        return "; ".join(msgs)
    if v == "required":
        missing = [k for k in error.validator_value if k not in inst]
        keys = ", ".join(repr(k) for k in missing)
        return f"{where} is missing required key{'s' if len(missing) > 1 else ''} {keys}"
    if v == "type":
        wanted = " or ".join(_TYPE_NAMES.get(t, t) for t in _types(schema))
        return f"{where} must be {wanted} (got {_got(inst)})"
    bounds = {"minimum": ">=", "exclusiveMinimum": ">", "maximum": "<=", "exclusiveMaximum": "<"}
    if v in bounds:
        return f"{where} must be {bounds[v]} {error.validator_value:g} (got {_got(inst)})"
    if v == "enum":
        choices = ", ".join(map(str, error.validator_value))
        return f"{where} must be one of {choices} (got {_got(inst)})"
    if v == "pattern" and "x-error" in schema:
        return f"{where} {schema['x-error']} (got {_got(inst)})"
    if v in ("minItems", "minProperties"):
        return f"{where} must not be empty"
    if v == "uniqueItems":
        dupes = sorted({x for x in inst if inst.count(x) > 1}, key=str)
        return f"{where} lists {', '.join(map(repr, dupes))} more than once"
    if v in ("anyOf", "oneOf"):
        import jsonschema.exceptions

        # Prefer a specific complaint from the branch of the right type (e.g. duplicates).
        specific = [c for c in error.context if c.validator not in ("type", "const", "enum")]
        if specific:
            return _translate(jsonschema.exceptions.best_match(specific), subject)
        if "x-error" in schema:
            return f"{where} {schema['x-error']} (got {_got(inst)})"
        if error.context and all(c.validator == "type" for c in error.context):
            wanted = " or ".join(_TYPE_NAMES.get(t, t) for t in _types(schema))
            return f"{where} must be {wanted} (got {_got(inst)})"
        if error.context:
            return _translate(jsonschema.exceptions.best_match(error.context), subject)
    return f"{where}: {error.message}"
