"""The test-only fault-injection hooks, in one place (docs/faults.md).

Each hook is an environment variable that the fault-matrix tests set on a job; unset (the
default everywhere else), a hook does nothing:

* :data:`FAIL_ENV` (:func:`injected_failure`): a model's training raises at a chosen epoch
  or right after its fit (``dsrbench.methods``);
* :data:`PAUSE_AFTER_RECORD_ENV` (:func:`pause_after_record`): a train job waits after
  writing each model's record (``dsrbench.pipeline.train_job``), so a test can interrupt it
  between two models;
* :data:`PAUSE_BEFORE_RENAME_ENV` (:func:`pause_before_rename`): a writer waits before
  renaming a finished temporary onto its target (``dsrbench.atomic``), so a test can kill
  the job at that point.

This module sits below every layer (it imports nothing of dsrbench).
"""

from __future__ import annotations

import fnmatch
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path

__all__ = [
    "FAIL_ENV",
    "PAUSE_AFTER_RECORD_ENV",
    "PAUSE_BEFORE_RENAME_ENV",
    "injected_failure",
    "pause_after_record",
    "pause_before_rename",
]

#: environment variable (tests): ``NAME@EPOCH``, e.g. ``Chen/seed0@2``: the training of the
#: model named NAME (its task's name; ``<system>/seed<k>`` in the workflow) of a method
#: trained in groups (``fit_many`` through :class:`dsrbench.methods.trainer.GroupTrainer`:
#: the latent RNNs, ``node``) raises a RuntimeError at the end of its epoch EPOCH (the
#: models trained together with it fail with it); ``NAME`` alone: a model of a method that
#: the default :meth:`dsrbench.methods.base.Method.fit_many` fits raises right after its fit
FAIL_ENV = "DSRBENCH_FAIL_TRAINING"

#: environment variable (tests): seconds a train job waits after writing each model's
#: record (default 0); lets a test interrupt a chunk job between two models
PAUSE_AFTER_RECORD_ENV = "DSRBENCH_PAUSE_AFTER_RECORD"

#: environment variable (tests): ``GLOB`` or ``GLOB=SECONDS``. Before a finished temporary
#: is renamed onto a target whose path matches ``GLOB`` (:func:`fnmatch.fnmatch` on the
#: path as the writer names it), the writer prints ``dsrbench: pausing before renaming
#: ...`` to stderr and waits SECONDS (default 600): the target is then fully written under
#: its temporary name and not there under its own, and a test kills the job at that point.
PAUSE_BEFORE_RENAME_ENV = "DSRBENCH_PAUSE_BEFORE_RENAME"


def injected_failure(names: Sequence[str | None], epoch: int | None = None) -> None:
    """Raise the failure that :data:`FAIL_ENV` asks for: one of ``names`` is its model and
    ``epoch`` its epoch (None: a fit without epochs, for a spec without one); nothing
    otherwise."""
    spec = os.environ.get(FAIL_ENV)
    if not spec:
        return
    name, _, at = spec.partition("@")
    if name not in names or (epoch is None) != (not at) or (at and int(at) != epoch):
        return
    when = f"at the end of epoch {epoch}" if epoch is not None else "after its fit"
    raise RuntimeError(f"injected failure of {name} {when} ({FAIL_ENV}={spec})")


def pause_after_record() -> None:
    """Wait the seconds of :data:`PAUSE_AFTER_RECORD_ENV` (nothing when unset)."""
    seconds = float(os.environ.get(PAUSE_AFTER_RECORD_ENV) or 0)
    if seconds > 0:
        time.sleep(seconds)


def pause_before_rename(tmp: Path, path: Path) -> None:
    """Wait before renaming ``tmp`` onto ``path`` when :data:`PAUSE_BEFORE_RENAME_ENV`
    names a glob that ``path`` matches (nothing otherwise)."""
    spec = os.environ.get(PAUSE_BEFORE_RENAME_ENV)
    if not spec:
        return
    pattern, _, seconds = spec.rpartition("=") if "=" in spec else (spec, "", "")
    if not fnmatch.fnmatch(str(path), pattern):
        return
    wait = float(seconds) if seconds else 600.0
    print(
        f"dsrbench: pausing {wait:g} s before renaming {tmp} onto {path} "
        f"({PAUSE_BEFORE_RENAME_ENV})",
        file=sys.stderr,
        flush=True,
    )
    time.sleep(wait)
