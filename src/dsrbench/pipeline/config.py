"""Loading and validation of the workflow configuration.

The schema ships inside the package (:mod:`dsrbench.schemas`, the one home of the
defaults). :func:`load_config` validates a YAML file or a dict (e.g. the ``config``
Snakemake assembled from ``--configfile`` and ``--config``), fills the defaults, checks the
system names against the registry and the cross-key rules, and raises :class:`ConfigError`
with messages that name the offending key and the fix. How a validated config becomes jobs
is :mod:`dsrbench.pipeline.plan`.
"""

from __future__ import annotations

import copy
import difflib
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import jsonschema
import jsonschema.exceptions
import yaml

from dsrbench import methods, references
from dsrbench.methods.base import HyperparameterError
from dsrbench.pipeline.plan import (
    BY_SYSTEM,
    evaluation_datasets,
    fits_on_context,
    is_trained,
    shared_hyperparameters,
)
from dsrbench.schemas import SCHEMA_PATH, ConfigError, load_schema
from dsrbench.systems import UnknownSystemError, get_system_info, resolve_systems

__all__ = ["ConfigError", "SCHEMA_PATH", "load_config", "load_schema"]

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


def _evaluation_error(cfg: Mapping[str, Any]) -> str | None:
    """Cross-key checks of the evaluation section: names exist, contexts fit the data."""
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
                try:
                    get_system_info(system)
                except UnknownSystemError as exc:
                    return f"config key '{key}': {exc}"
            given = {**shared_hyperparameters(params), **overrides}
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
    return methods.traits(method).hyperparameters


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
