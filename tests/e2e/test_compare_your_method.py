"""The README's "Compare your method" commands, verbatim, in a fresh clone of the repository,
against a run that ships: ``docs/results/default/`` (the default run, ``config.yaml``, its
export ``default.parquet``, made on the project's 2-core machine).

It runs the README's commands as written, with only the README's placeholders filled in:
``RUN`` -> ``default``, ``CONFIG.yaml`` -> ``config.yaml`` and ``mymethod`` ->
``context_parroting`` (a method the shipped run lacks, standing for a newly added one).
The join accepts the user's run only if its protocol and its dataset stores (content
hashes) are the shipped run's, so this also checks that the same config gives the same
datasets on the machine running the test as on the one that made the export. It checks
that the leaderboard shows the shipped baselines beside the new method and states the
systems in common, and that the shipped rows of the joined table are the export's.

The clone is of HEAD; its ``.venv`` links to this test's environment, with the clone's
``src`` first on ``PYTHONPATH`` so that the clone's code runs. To test uncommitted work, set
``DSRBENCH_TEST_WORKTREE=1``: the modified and untracked (not ignored) files of this
working tree are then copied over the clone. Takes about 2 to 3 min on 2 cores (one
workflow run of config.yaml for truth and the new method, the numba kernels compiled
afresh in the clone, its report pages and the joined leaderboard rendered).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
from support.readme import Command, commands

from dsrbench.reports.export import read_export

REPO = Path(__file__).resolve().parents[2]
SHIPPED = "default"
NEW_METHOD = "context_parroting"
PLACEHOLDERS = {
    r"\bRUN\b": SHIPPED,
    r"\bCONFIG\.yaml\b": "config.yaml",
    r"\bmymethod\b": NEW_METHOD,
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
    export = clone / "docs" / "results" / SHIPPED / f"{SHIPPED}.parquet"
    assert export.is_file()
    # the README's commands, placeholders filled in
    outputs = []
    for cmd in section_commands():
        outputs.append(_run([_fill(a) for a in cmd.argv], clone, env))
    assert "2 system(s) in common" in outputs[1]
    page = clone / "results" / "joined" / "reports" / "leaderboard.html"
    html = page.read_text()
    for name in ("persistence", "ridge VAR", "NG-RC (NVAR)", "AL-RNN", NEW_METHOD):
        assert name in html, name
    assert "2 system(s) in common" in html
    # the shipped methods' rows are the export's, value for value
    shipped = read_export(export)
    shipped = shipped[shipped["kind"] == "metric"]
    joined = pd.read_parquet(clone / "results" / "joined" / "metrics.parquet")
    key = ["dataset", "system", "method", "seed", "metric", "horizon"]
    baselines = ("persistence", "var", "nvar", "esn", "shplrnn_gtf", "alrnn")
    for name in baselines:
        a = joined[joined["method"] == name].astype({c: str for c in key[:3] + ["metric"]})
        b = shipped[shipped["method"] == name].astype({c: str for c in key[:3] + ["metric"]})
        a = a.sort_values(key).reset_index(drop=True)
        b = b.sort_values(key).reset_index(drop=True)
        assert a["value"].astype(float).equals(b["value"].astype(float)), name
        assert list(a["status"].astype(str)) == list(b["status"].astype(str)), name
        assert len(a) == len(b) > 0, name
    assert set(joined["method"]) == {"floor", "truth", NEW_METHOD, *baselines}
