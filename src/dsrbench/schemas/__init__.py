"""The workflow configuration's JSON Schema (``config.schema.yaml``, draft 2020-12; package
data, ``workflow/schemas/config.schema.yaml`` links to it) and the one home of its defaults:
code that needs a default reads it here (:func:`default`) instead of restating it."""

from __future__ import annotations

import copy
import functools
import importlib.resources
import os
from pathlib import Path
from typing import Any

import yaml

__all__ = ["ConfigError", "SCHEMA_PATH", "default", "load_schema", "setting_defaults"]

#: The config schema, package data of dsrbench (found without a checkout).
SCHEMA_PATH = Path(str(importlib.resources.files("dsrbench") / "schemas" / "config.schema.yaml"))


class ConfigError(ValueError):
    """Invalid workflow configuration; the message names the key and the fix."""


def load_schema(schema: str | os.PathLike[str] | None = None) -> dict[str, Any]:
    """Read the config JSON Schema (default: the one shipped in the package; a new copy
    each call)."""
    if schema is None:
        return copy.deepcopy(_shipped())
    path = Path(schema)
    if not path.is_file():
        raise ConfigError(f"config schema not found at {path}; pass schema=PATH to load_config")
    with open(path) as fh:
        return yaml.safe_load(fh)


@functools.cache
def _shipped() -> dict[str, Any]:
    resource = importlib.resources.files("dsrbench") / "schemas" / "config.schema.yaml"
    if not resource.is_file():
        raise ConfigError(
            f"config schema not found at {resource}: the dsrbench installation lacks its "
            "package data (dsrbench/schemas/config.schema.yaml); reinstall dsrbench"
        )
    return yaml.safe_load(resource.read_text(encoding="utf-8"))


def _node(*path: str) -> dict[str, Any]:
    """The schema of the key at ``path`` (``"datasets", "*"``: a dataset setting)."""
    node = _shipped()
    for key in path:
        node = node["additionalProperties"] if key == "*" else node["properties"][key]
    return node


def default(*path: str) -> Any:
    """The schema's default of the key at ``path``, e.g. ``default("training", "tune")``
    (a new copy). KeyError when the key has none."""
    return copy.deepcopy(_node(*path)["default"])


def setting_defaults() -> dict[str, Any]:
    """The defaults of a dataset setting's keys (those that have one)."""
    props = _node("datasets", "*")["properties"]
    return {k: copy.deepcopy(v["default"]) for k, v in props.items() if "default" in v}
