"""The README's "Compare your method" commands, verbatim, in a fresh clone of the repository.

No run ships an export under docs/results/ yet, so the test first makes a tiny shipped run
in the clone: ``configs/tiny_shipped.yaml`` (Lorenz, one small setting, truth, persistence
and mean) run by snakemake and published with ``benchmarks/tools/results_pages.py publish`` as
``docs/results/tiny_shipped/`` (its export ``tiny_shipped.parquet``). Then it runs the
README's commands as written, with only the README's placeholders filled in: ``RUN`` ->
``tiny_shipped``, ``CONFIG.yaml`` -> ``configs/tiny_shipped.yaml`` and ``mymethod`` ->
``var`` (a method the shipped run lacks, standing for a newly added one). It checks that
the leaderboard shows the shipped baselines beside ``var``, states the systems in common,
and that the shipped rows of the joined table are the export's.

The clone is of HEAD; its ``.venv`` links to this test's environment, with the clone's
``src`` first on ``PYTHONPATH`` so that the clone's code runs. To test uncommitted work, set
``DSRBENCH_TEST_WORKTREE=1``: the modified and untracked (not ignored) files of this
working tree are then copied over the clone. Takes about 2 to 4 min on 2 cores (two tiny
workflow runs, the numba kernels compiled afresh in the clone, one page rendered).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import yaml
from support.readme import Command, commands
from support.tiny_run import CONFIG

from dsrbench.reports.export import read_export

REPO = Path(__file__).resolve().parents[2]
SHIPPED = "tiny_shipped"
PLACEHOLDERS = {
    r"\bRUN\b": SHIPPED,
    r"\bCONFIG\.yaml\b": f"configs/{SHIPPED}.yaml",
    r"\bmymethod\b": "var",
}


def section_commands() -> list[Command]:
    """The commands of the README's "Compare your method" section."""
    text = (REPO / "README.md").read_text()
    section = text.split("## Compare your method", 1)[1].split("\n## ", 1)[0]
    return commands(section)


def _fill(arg: str) -> str:
    for pattern, value in PLACEHOLDERS.items():
        arg = re.sub(pattern, value, arg)
    return arg


def _git(*args: str) -> str:
    out = subprocess.run(["git", "-C", str(REPO), *args], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    return out.stdout


def _clone(dest: Path) -> Path:
    subprocess.run(["git", "clone", "--quiet", str(REPO), str(dest)], check=True)
    if os.environ.get("DSRBENCH_TEST_WORKTREE"):
        for name in _git("ls-files", "-z", "--modified", "--others", "--exclude-standard").split(
            "\0"
        ):
            src = REPO / name
            if name and src.is_file():
                (dest / name).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(src, dest / name)
    (dest / ".venv").symlink_to(Path(sys.prefix), target_is_directory=True)
    return dest


def _run(argv: list[str], cwd: Path, env: dict[str, str], timeout: int = 900) -> str:
    res = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    out = res.stdout + res.stderr
    assert res.returncode == 0, f"{' '.join(argv)} exited {res.returncode}:\n{out[-6000:]}"
    return out


def test_the_readme_section_has_the_three_commands_with_their_placeholders() -> None:
    cmds = section_commands()
    assert [c.program for c in cmds] == ["snakemake", "dsrbench", "dsrbench"]
    text = " ".join(c.text for c in cmds)
    for pattern in PLACEHOLDERS:
        assert re.search(pattern, text), pattern
    assert "report join" in text and "reports/leaderboard.ipynb" in text


def test_the_readme_commands_set_a_new_method_beside_a_shipped_run(tmp_path: Path) -> None:
    clone = _clone(tmp_path / "dsrbench")
    env = {**os.environ, "PYTHONPATH": str(clone / "src")}
    env.pop("PYTEST_XDIST_WORKER", None)
    # the shipped run: a tiny config, run, exported and published under docs/results/
    config = {
        **CONFIG,
        "results_dir": f"results/{SHIPPED}",
        "reports": {"enabled": False},
    }
    (clone / "configs" / f"{SHIPPED}.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    command = f".venv/bin/snakemake --cores 2 --configfile configs/{SHIPPED}.yaml"
    _run(command.split(), clone, env)
    _run(
        [
            ".venv/bin/python",
            "benchmarks/tools/results_pages.py",
            "publish",
            f"results/{SHIPPED}",
            SHIPPED,
            "--command",
            command,
            "--configfile",
            f"configs/{SHIPPED}.yaml",
        ],
        clone,
        env,
    )
    export = clone / "docs" / "results" / SHIPPED / f"{SHIPPED}.parquet"
    assert export.is_file()
    # the README's commands, placeholders filled in
    outputs = []
    for cmd in section_commands():
        outputs.append(_run([_fill(a) for a in cmd.argv], clone, env))
    assert "1 system(s) in common" in outputs[1]
    page = clone / "results" / "joined" / "reports" / "leaderboard.html"
    html = page.read_text()
    for name in ("persistence", "mean", "ridge VAR", "1 system(s) in common"):
        assert name in html, name
    # the shipped methods' rows are the export's, value for value
    shipped = read_export(export)
    shipped = shipped[shipped["kind"] == "metric"]
    joined = pd.read_parquet(clone / "results" / "joined" / "metrics.parquet")
    key = ["dataset", "system", "method", "seed", "metric", "horizon"]
    for name in ("persistence", "mean"):
        a = joined[joined["method"] == name].astype({c: str for c in key[:3] + ["metric"]})
        b = shipped[shipped["method"] == name].astype({c: str for c in key[:3] + ["metric"]})
        a = a.sort_values(key).reset_index(drop=True)
        b = b.sort_values(key).reset_index(drop=True)
        assert a["value"].astype(float).equals(b["value"].astype(float)), name
        assert list(a["status"].astype(str)) == list(b["status"].astype(str)), name
    assert set(joined["method"]) == {"floor", "truth", "persistence", "mean", "var"}
