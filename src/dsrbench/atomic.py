"""Atomic writes: every output is written under a temporary sibling name and renamed onto
its final path, so a killed job never leaves a file or directory that looks complete.

* :func:`temporary_sibling` names the hidden sibling (same suffix, unique per call);
* :func:`replace_path` renames a finished temporary file or directory onto the target
  (an existing directory is renamed away first and removed afterwards);
* :func:`atomic_path` is the context manager the writers use: it yields the temporary
  path, renames it onto the target when the block succeeds and removes it when it fails;
* :func:`write_text_atomic` / :func:`write_json_atomic` are the one-liners for records;
* :func:`environment_error` tells a full disk (or an exceeded file size limit, a read-only
  or failing file system) from any other error: such an error stops the job, it is never
  recorded as a result.

After a successful rename, the temporary siblings that an earlier, killed writer of the
same target left behind are removed. For tests, :data:`PAUSE_ENV` makes a writer wait
before the rename of a chosen target, so that the test can kill the job at that point.

This module sits below every layer (it imports nothing of dsrbench but its test hook,
:mod:`dsrbench.faults`).
"""

from __future__ import annotations

import contextlib
import errno
import glob
import json
import os
import re
import secrets
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from dsrbench.faults import PAUSE_BEFORE_RENAME_ENV, pause_before_rename

__all__ = [
    "PAUSE_ENV",
    "atomic_path",
    "environment_error",
    "leftovers",
    "remove_path",
    "replace_path",
    "temporary_sibling",
    "write_json_atomic",
    "write_text_atomic",
]


def temporary_sibling(path: str | os.PathLike[str], *, hidden: bool = True) -> Path:
    """``.<stem>.tmp-<random><suffix>`` beside ``path`` (the suffix is kept: papermill
    and zarr look at it); ``hidden=False`` drops the leading dot."""
    path = Path(path)
    dot = "." if hidden else ""
    return path.with_name(f"{dot}{path.stem}.tmp-{secrets.token_hex(6)}{path.suffix}")


def leftovers(path: str | os.PathLike[str]) -> list[Path]:
    """Temporary siblings of ``path`` that a killed writer left behind."""
    path = Path(path)
    stem, suffix = glob.escape(path.stem), glob.escape(path.suffix)
    found = {
        *path.parent.glob(f".{stem}.tmp-*{suffix}"),
        *path.parent.glob(f"{stem}.tmp-*{suffix}"),
        *path.parent.glob(f".{stem}.old-*{suffix}"),
    }
    return sorted(found)


def remove_path(path: str | os.PathLike[str]) -> None:
    """Remove a file, link or directory tree; nothing when it does not exist."""
    path = Path(path)
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


#: environment variable (tests): a writer waits before renaming a chosen target
#: (:data:`dsrbench.faults.PAUSE_BEFORE_RENAME_ENV`)
PAUSE_ENV = PAUSE_BEFORE_RENAME_ENV


def replace_path(tmp: str | os.PathLike[str], path: str | os.PathLike[str]) -> Path:
    """Rename the finished ``tmp`` onto ``path``. A file replaces a file atomically; an
    existing directory is first renamed away (restored if the rename fails) and then
    removed, so ``path`` never holds a partial directory. Temporary siblings of ``path``
    left by an earlier, killed writer (:func:`leftovers`) are removed afterwards."""
    tmp, path = Path(tmp), Path(path)
    pause_before_rename(tmp, path)
    if path.is_dir() and not path.is_symlink():
        old = path.with_name(f".{path.stem}.old-{secrets.token_hex(6)}{path.suffix}")
        os.replace(path, old)
        try:
            os.replace(tmp, path)
        except BaseException:
            os.replace(old, path)
            raise
        remove_path(old)
    else:
        os.replace(tmp, path)
    for stale in _own_temporaries(path):  # a killed writer's partial output
        remove_path(stale)
    return path


def _own_temporaries(path: Path) -> list[Path]:
    """The temporary siblings that :func:`temporary_sibling` and :func:`replace_path` name
    for ``path`` exactly (not those of another target with the same stem)."""
    stem, suffix = re.escape(path.stem), re.escape(path.suffix)
    own = re.compile(rf"\.?{stem}\.tmp-[0-9a-f]{{12}}{suffix}|\.{stem}\.old-[0-9a-f]{{12}}{suffix}")
    return [p for p in leftovers(path) if own.fullmatch(p.name)]


#: errno values of a full disk, an exceeded file size limit (``ulimit -f``), a quota, a
#: read-only or failing file system
ENVIRONMENT_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EROFS, errno.EIO})


def environment_error(exc: BaseException | None) -> OSError | None:
    """The :class:`OSError` of a full disk, an exceeded file size limit, a quota, a
    read-only or failing file system that ``exc`` is or was raised from (its causes and
    contexts are followed); None for any other error. Such an error is the machine's, not
    the job's: it stops the job instead of being recorded as a result."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, OSError) and exc.errno in ENVIRONMENT_ERRNOS:
            return exc
        exc = exc.__cause__ or exc.__context__
    return None


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str], *, hidden: bool = True) -> Iterator[Path]:
    """Yield a temporary sibling of ``path`` to write a file or directory to; on success
    rename it onto ``path``, on failure remove it (``path`` keeps its previous content)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temporary_sibling(path, hidden=hidden)
    try:
        yield tmp
        replace_path(tmp, path)
    finally:
        if tmp.exists() or tmp.is_symlink():
            remove_path(tmp)


def write_text_atomic(path: str | os.PathLike[str], text: str) -> Path:
    """Write ``text`` to ``path`` through a temporary file, fsync and a rename."""
    path = Path(path)
    with atomic_path(path) as tmp, open(tmp, "w", encoding="utf-8") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())
    return path


def write_json_atomic(path: str | os.PathLike[str], obj: Any) -> Path:
    """``obj`` as indented, key-sorted JSON (a record), written atomically."""
    return write_text_atomic(path, json.dumps(obj, indent=2, sort_keys=True) + "\n")
