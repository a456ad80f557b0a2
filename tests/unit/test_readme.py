"""The README is an entry page whose commands work.

Every command line of the README's shell code blocks (```bash, ```sh, ```shell, ```console,
and bare ``` blocks of command lines) is one of:

* run by these tests: the `dsrbench` commands for real (default tier, seconds), the
  `snakemake` commands as dry runs (`-n`, in a temporary working directory; several seconds
  each, so in the e2e tier: e2e/test_readme_e2e.py);
* run by CI: `make test`, `make test-e2e`, `make lint` (`.ci/run` runs each as a stage);
* or marked `# not run by the tests: <reason>`, on its line or on the comment line directly
  above it in the block.

Also: the README stays short (at most 250 lines and 16 KiB) and starts with `make run` and
`make test`, and every relative link of the README, of the run pages under docs/results/
and of the topic pages moved out of the README points to an existing file (and heading).
"""

from __future__ import annotations

import functools
import re
import subprocess
from pathlib import Path

import pytest
from support.readme import CI_MAKE_TARGETS, commands, kind, local, of_kind, readme_commands

REPO = Path(__file__).resolve().parents[2]
README = REPO / "README.md"

MAX_LINES = 250
MAX_BYTES = 16 * 1024

#: pages moved out of the README (their relative links are checked too)
MOVED_PAGES = ["api.md", "cluster.md", "evaluation.md", "outputs.md", "performance.md"]


def test_readme_is_short():
    text = README.read_text()
    assert len(text.splitlines()) <= MAX_LINES, "the README is an entry page: move text to docs/"
    assert len(text.encode()) <= MAX_BYTES, "the README is an entry page: move text to docs/"


def test_make_run_and_make_test_are_the_first_two_commands():
    assert [c.argv for c in readme_commands()[:2]] == [["make", "run"], ["make", "test"]]


def test_the_parser_finds_commands_notes_and_continuations():
    text = "\n".join(
        [
            "```bash",
            "# not run by the tests: hours",
            "snakemake --cores all \\",
            "    --configfile configs/full.yaml",
            "make lint  # the linter",
            "x --y  # not run by the tests: a cluster",
            "```",
            "```console",
            "$ dsrbench systems",
            "Lorenz ...",
            "```",
            "```",
            "1 job(s) ask for a GPU",
            "```",
            "```python",
            "import dsrbench",
            "```",
        ]
    )
    found = commands(text)
    assert [(c.line, c.argv, c.note) for c in found] == [
        (3, ["snakemake", "--cores", "all", "--configfile", "configs/full.yaml"], "hours"),
        (5, ["make", "lint"], None),
        (6, ["x", "--y"], "a cluster"),
        (9, ["dsrbench", "systems"], None),
    ]
    assert [kind(c) for c in found] == ["note", "ci", "note", "run"]


def test_every_readme_command_is_run_by_a_test_or_ci_or_says_why_not():
    cmds = readme_commands()
    assert cmds, "no commands found in the README's code blocks"
    uncovered = [str(c) for c in cmds if kind(c) == "uncovered"]
    assert not uncovered, (
        "each README command must be run by a test (tests/unit/test_readme.py, "
        "tests/e2e/test_readme_e2e.py), be a CI make target "
        f"({sorted(CI_MAKE_TARGETS)}) or carry '# not run by the tests: <reason>':\n"
        + "\n".join(uncovered)
    )


def test_ci_runs_the_make_targets_the_readme_relies_on():
    ci = (REPO / ".ci" / "run").read_text()
    makefile = (REPO / "Makefile").read_text()
    for cmd in of_kind("ci"):
        target = cmd.argv[1]
        assert re.search(rf'^stage "[^"]*" make {re.escape(target)}$', ci, re.M), (
            f"{cmd}: .ci/run does not run it"
        )
        assert re.search(rf"^{re.escape(target)}:", makefile, re.M), f"{cmd}: no Makefile target"


@functools.cache
def _run(*argv: str) -> subprocess.CompletedProcess:
    return subprocess.run(local(list(argv)), capture_output=True, text=True, timeout=120, cwd=REPO)


@pytest.mark.parametrize("cmd", of_kind("run"), ids=str)
def test_readme_dsrbench_command_runs(cmd):
    res = _run(cmd.program, *cmd.argv[1:])
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip(), f"{cmd}: printed nothing"


def _method_names(output: str) -> set[str]:
    """The names `dsrbench methods` prints (each at the start of its first line)."""
    return {m[1] for m in re.finditer(r"^([a-z][a-z0-9_]*)\s", output, re.M)}


def test_the_methods_table_lists_every_method():
    res = _run("dsrbench", "methods")
    assert res.returncode == 0, res.stderr
    listed = _method_names(res.stdout)
    section = README.read_text().split("## Methods", 1)[1].split("\n## ", 1)[0]
    table = {m[1] for m in re.finditer(r"^\| `([a-z0-9_]+)` \|", section, re.M)}
    only_readme, only_cli = table - listed, listed - table
    assert table == listed, f"README only: {only_readme}; `dsrbench methods` only: {only_cli}"


def test_readme_snakemake_commands_use_repository_files():
    """The cheap half of the dry runs, in the default tier: every config file and profile a
    README `snakemake` command names exists."""
    for cmd in [c for c in readme_commands() if c.program == "snakemake"]:
        argv = cmd.argv
        for flag in ("--configfile", "--profile"):
            if flag in argv:
                i = argv.index(flag) + 1
                while i < len(argv) and not argv[i].startswith("-"):
                    assert (REPO / argv[i]).exists(), f"{cmd}: {argv[i]} does not exist"
                    i += 1


def _slug(heading: str) -> str:
    """GitHub's anchor of a Markdown heading."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def _anchors(path: Path) -> set[str]:
    text = path.read_text()
    out = set()
    in_code = False
    for line in text.split("\n"):
        if line.lstrip().startswith("```"):
            in_code = not in_code
        elif not in_code and (m := re.match(r"^#{1,6}\s+(.*)$", line)):
            out.add(_slug(m[1]))
    return out


def _relative_links(path: Path) -> list[str]:
    text = re.sub(r"```.*?```", "", path.read_text(), flags=re.S)  # not inside code blocks
    links = re.findall(r"\]\(([^)\s]+)\)", text)
    return [x for x in links if not re.match(r"^[a-z][a-z0-9+.-]*:", x)]  # http:, mailto:


LINKED_PAGES = [
    README,
    REPO / "docs" / "results" / "README.md",
    *sorted((REPO / "docs" / "results").glob("*/README.md")),
    *(REPO / "docs" / name for name in MOVED_PAGES),
]


@pytest.mark.parametrize("page", LINKED_PAGES, ids=lambda p: str(p.relative_to(REPO)))
def test_relative_links_point_to_existing_files(page):
    assert page.exists(), page
    broken = []
    for link in _relative_links(page):
        target, _, anchor = link.partition("#")
        dest = (page.parent / target).resolve() if target else page
        if not dest.exists():
            broken.append(f"{link}: no such file")
        elif anchor and dest.suffix == ".md" and anchor not in _anchors(dest):
            broken.append(f"{link}: no heading '{anchor}' in {dest.relative_to(REPO)}")
    assert not broken, f"{page.relative_to(REPO)}:\n" + "\n".join(broken)


def test_the_results_index_lists_every_run_page():
    index = (REPO / "docs" / "results" / "README.md").read_text()
    pages = sorted(p.parent.name for p in (REPO / "docs" / "results").glob("*/README.md"))
    assert pages
    for run in pages:
        assert f"]({run}/README.md)" in index, f"docs/results/README.md does not list {run}"
