"""Checks of a SLURM cluster before a workflow submits to it.

:func:`slurm_gpu_problem` compares the jobs that ask for a GPU (the torch methods' train
jobs, ``gpu=1`` unless ``training.device`` is ``cpu``) with the GPUs that ``sinfo`` lists
in the partitions they go to. Without the check, sbatch refuses such a job with "Requested
node configuration is not available", which names neither the job's GPU nor the fix; the
Snakefile runs it before the first job of a run with ``--executor slurm`` (its ``onstart``)
and stops with the message.

This module sits below every layer (it imports nothing of dsrbench).
"""

from __future__ import annotations

import subprocess
from collections.abc import Mapping, Sequence

__all__ = ["partition_gres", "slurm_gpu_problem"]


def partition_gres(sinfo: str = "sinfo") -> tuple[dict[str, set[str]], str | None]:
    """The generic resources of each partition's nodes (``sinfo -h -o %P|%G``; ``(null)``
    dropped) and the default partition (the one ``sinfo`` marks with ``*``, if any)."""
    out = subprocess.run(
        [sinfo, "-h", "-o", "%P|%G"], capture_output=True, text=True, check=True, timeout=60
    ).stdout
    gres: dict[str, set[str]] = {}
    default = None
    for line in out.splitlines():
        if "|" not in line:
            continue
        name, res = line.strip().split("|", 1)
        if name.endswith("*"):
            name = name[:-1]
            default = name
        entries = gres.setdefault(name, set())
        entries.update(r for r in res.split(",") if r and r != "(null)")
    return gres, default


def _has_gpu(entries: set[str]) -> bool:
    return any(e == "gpu" or e.startswith("gpu:") or e.startswith("gpu(") for e in entries)


def slurm_gpu_problem(
    requests: Mapping[str | None, Sequence[str]], *, sinfo: str = "sinfo"
) -> str | None:
    """The message naming the fix when a job asks for a GPU in a partition without one;
    None when every request can be placed (or there is none, or no ``sinfo`` to ask).

    ``requests``: partition (None for the cluster's default) -> the jobs asking for a GPU
    there, as they are to be named in the message.
    """
    requests = {p: list(jobs) for p, jobs in requests.items() if jobs}
    if not requests:
        return None
    try:
        gres, default = partition_gres(sinfo)
    except (OSError, subprocess.SubprocessError):
        return None  # no SLURM client here: the executor reports that itself
    problems = []
    for partition, jobs in sorted(requests.items(), key=lambda kv: str(kv[0])):
        name = partition or default
        if name is None:
            where = "the cluster has no default partition (sinfo marks none with *)"
        elif name not in gres:
            where = f"SLURM has no partition {name!r} (sinfo lists: {', '.join(sorted(gres))})"
        elif not _has_gpu(gres[name]):
            found = ", ".join(sorted(gres[name])) or "none"
            label = "the default partition" if partition is None else "partition"
            where = f"{label} {name!r} has no GPU (its nodes' GRES: {found})"
        else:
            continue
        shown = ", ".join(jobs[:5]) + (f" and {len(jobs) - 5} more" if len(jobs) > 5 else "")
        problems.append(f"{len(jobs)} job(s) ask for a GPU (gpu=1: {shown}), but {where}.")
    if not problems:
        return None
    return "\n".join(
        [
            *problems,
            "Either set `training.device: cpu` in the config (the torch methods then train on "
            "the CPU and ask for no GPU), or send these jobs to a partition with GPUs "
            "(slurm_partition in the profile's default-resources, or "
            "--set-resources train:slurm_partition=NAME), or declare the nodes' GPUs to SLURM "
            "(GresTypes=gpu in slurm.conf, Gres=gpu:N on the NodeName line, and gres.conf).",
        ]
    )
