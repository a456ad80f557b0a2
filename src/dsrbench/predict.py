"""Deprecated alias of :mod:`dsrbench.pipeline.predict` (moved in 0.1.0).

Every name is looked up there; import it instead. This module goes in the next release
(docs/migration.md)."""

import importlib
import warnings

warnings.warn(
    "dsrbench.predict is deprecated: import dsrbench.pipeline.predict (docs/migration.md)",
    DeprecationWarning,
    stacklevel=2,
)


def __getattr__(name: str):
    return getattr(importlib.import_module("dsrbench.pipeline.predict"), name)
