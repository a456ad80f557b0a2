"""Deprecated alias of :mod:`dsrbench.pipeline.records` (moved in 0.1.0).

Every name is looked up there; import it instead. This module goes in the next release
(docs/migration.md)."""

import importlib
import warnings

warnings.warn(
    "dsrbench.records is deprecated: import dsrbench.pipeline.records (docs/migration.md)",
    DeprecationWarning,
    stacklevel=2,
)


def __getattr__(name: str):
    return getattr(importlib.import_module("dsrbench.pipeline.records"), name)
