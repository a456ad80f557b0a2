"""Provenance records for generated artefacts.

Everything here is deterministic for a given environment and configuration: there are no
timestamps, host names or process ids, so that a dataset regenerated with the same code, the
same packages and the same configuration is bit-identical to the first one.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.metadata
import importlib.util
import json
import os
import platform
import subprocess
import sys
from pathlib import Path
from typing import Any

__all__ = ["package_versions", "git_revision", "config_hash", "canonical_json", "provenance"]

#: Distributions whose versions are recorded; ``torch`` only when it is installed.
PACKAGES: tuple[str, ...] = (
    "dsrbench",
    "dysts",
    "numpy",
    "scipy",
    "numba",
    "xarray",
    "zarr",
    "numcodecs",
    "dask",
)
OPTIONAL_PACKAGES: tuple[str, ...] = ("torch",)


def package_versions() -> dict[str, str]:
    """Versions of the packages that determine the generated data, plus ``python``.

    Versions come from the installed distribution metadata (nothing heavy is imported).
    A required package that is missing is recorded as ``"not installed"``; an optional one
    (``torch``) is left out unless it is importable.
    """
    versions: dict[str, str] = {}
    for name in PACKAGES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = "not installed"
    for name in OPTIONAL_PACKAGES:
        try:
            if importlib.util.find_spec(name) is None:
                continue
            versions[name] = importlib.metadata.version(name)
        except (importlib.metadata.PackageNotFoundError, ImportError, ValueError):
            continue
    versions["python"] = platform.python_version()
    return versions


def hardware(device: str = "cpu") -> dict[str, Any]:
    """The machine a model trained on: CPU model, cores, torch threads, and the GPU's name
    when ``device`` is a CUDA device (what a reported training time was measured on)."""
    cpu = platform.processor() or platform.machine()
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    out: dict[str, Any] = {"cpu": cpu, "cores": os.cpu_count()}
    torch = sys.modules.get("torch")
    if torch is not None:
        out["torch_threads"] = torch.get_num_threads()
        if str(device).startswith("cuda") and torch.cuda.is_available():
            out["gpu"] = torch.cuda.get_device_name(torch.device(device))
    return out


def _git(args: list[str], cwd: Path) -> str | None:
    """Output of ``git <args>`` run in ``cwd``, or None when git fails or is unavailable."""
    try:
        proc = subprocess.run(
            ["git", *args],
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    if proc.returncode != 0:
        return None
    return proc.stdout.strip()


def git_revision(path: str | Path | None = None) -> str:
    """Commit of the git work tree containing ``path`` (default: this package's source).

    Returns the full commit hash, with ``"-dirty"`` appended when tracked files differ from
    it or untracked, non-ignored files exist. Returns ``"unknown"`` when ``path`` is not in
    a git work tree or git is unavailable, and ``"unknown-dirty"`` inside a work tree that
    has no commit yet (``git rev-parse HEAD`` fails) but does hold files.
    """
    start = Path(path) if path is not None else Path(__file__).resolve().parent
    if start.is_file():
        start = start.parent
    if not start.exists():
        return "unknown"
    inside = _git(["rev-parse", "--is-inside-work-tree"], start)
    if inside != "true":
        return "unknown"
    head = _git(["rev-parse", "--verify", "--quiet", "HEAD"], start)
    revision = head if head else "unknown"
    status = _git(["status", "--porcelain"], start)
    if status is None or status:
        # An unreadable status is treated as dirty: claiming a clean tree must be earned.
        revision += "-dirty"
    return revision


def short_revision(path: str | Path | None = None) -> str:
    """:func:`git_revision` with the commit shortened to 7 hex digits (``-dirty`` kept), as
    the evidence pages under docs/results/ print it."""
    revision = git_revision(path)
    commit, dirty, rest = revision.partition("-dirty")
    return (commit[:7] if commit != "unknown" else commit) + dirty + rest


def _json_default(obj: Any) -> Any:
    """JSON fallback for numpy scalars/arrays, paths, sets and tuples-like objects."""
    if isinstance(obj, Path):
        return str(obj)
    if isinstance(obj, set | frozenset):
        return sorted(obj)
    tolist = getattr(obj, "tolist", None)
    if callable(tolist):  # numpy scalar or array
        return tolist()
    raise TypeError(f"object of type {type(obj).__name__} is not JSON serialisable")


def canonical_json(obj: Any) -> str:
    """Canonical JSON text: sorted keys, no whitespace, ASCII only; numpy values as lists."""
    return json.dumps(
        obj, sort_keys=True, separators=(",", ":"), ensure_ascii=True, default=_json_default
    )


def config_hash(cfg: dict) -> str:
    """First 16 hex digits of the SHA-256 of ``cfg``'s canonical JSON."""
    return hashlib.sha256(canonical_json(cfg).encode("ascii")).hexdigest()[:16]


def provenance(cfg: dict) -> dict[str, Any]:
    """Provenance of an artefact built from ``cfg``: package versions, code revision, hash.

    Deliberately free of timestamps so that reruns produce identical records.
    """
    return {
        "packages": package_versions(),
        "git_revision": git_revision(),
        "config_hash": config_hash(cfg),
    }
