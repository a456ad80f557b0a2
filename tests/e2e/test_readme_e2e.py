"""The README's `snakemake` commands as dry runs (`-n`, in a temporary working directory;
several seconds each, hence the end-to-end tier). The other README checks are in
unit/test_readme.py."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
from support import REPO
from support.readme import Command, local, of_kind


def _dry_run_argv(cmd: Command, workdir: Path) -> list[str]:
    argv = local(cmd.argv)
    for i, arg in enumerate(argv[1:], 1):  # repository paths (configs, profiles), made absolute
        if not arg.startswith("-") and (REPO / arg).exists():
            argv[i] = str(REPO / arg)
    return [*argv, "--snakefile", str(REPO / "Snakefile"), "--directory", str(workdir), "-n"]


@pytest.mark.parametrize("cmd", of_kind("dry-run"), ids=str)
def test_readme_snakemake_command_plans(cmd, tmp_path):
    """Each README `snakemake` command, as a dry run in a temporary working directory: the
    configuration validates and the workflow plans (4 to 14 s each, hence the e2e tier)."""
    res = subprocess.run(
        _dry_run_argv(cmd, tmp_path), capture_output=True, text=True, timeout=300, cwd=tmp_path
    )
    out = res.stdout + res.stderr
    assert res.returncode == 0, out
    assert re.search(r"^total\s+\d+$", out, re.M), out
    assert not (tmp_path / "results").exists()
