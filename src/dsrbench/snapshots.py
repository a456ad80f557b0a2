"""Deprecated alias of :mod:`dsrbench.pipeline.snapshots` (moved in 0.1.0).

Every name is looked up there; import it instead. This module goes in the next release
(docs/migration.md)."""

import importlib
import warnings

warnings.warn(
    "dsrbench.snapshots is deprecated: import dsrbench.pipeline.snapshots (docs/migration.md)",
    DeprecationWarning,
    stacklevel=2,
)


def __getattr__(name: str):
    return getattr(importlib.import_module("dsrbench.pipeline.snapshots"), name)
