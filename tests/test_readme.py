"""The README is an entry page whose commands work.

Every command line of the README's shell code blocks (```bash, ```sh, ```shell, ```console,
and bare ``` blocks of command lines) is one of:

* run by these tests: the `dsrbench` commands for real (default tier, seconds), the
  `snakemake` commands as dry runs (`-n`, in a temporary working directory; several seconds
  each, so in the e2e tier);
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
import shlex
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
README = REPO / "README.md"
BIN = Path(sys.executable).parent

MAX_LINES = 250
MAX_BYTES = 16 * 1024

SHELL_LANGS = {"bash", "sh", "shell", "console", ""}
NOTE = re.compile(r"#\s*not run by the tests:\s*(?P<reason>\S.*)$")
#: `make` targets that CI runs (`.ci/run`), so the README may show them without running them.
CI_MAKE_TARGETS = {"test", "test-e2e", "lint"}
#: first words of a command line in a bare ``` block (other bare blocks are not commands)
COMMAND_START = re.compile(r"^(\$ |make\b|\.venv/|snakemake\b|dsrbench\b|python\b|pytest\b|\.ci/)")

#: pages moved out of the README (their relative links are checked too)
MOVED_PAGES = ["api.md", "cluster.md", "evaluation.md", "outputs.md", "performance.md"]


@dataclass(frozen=True)
class Command:
    line: int  # 1-based line of the README
    text: str  # the command as written (continuations joined), comment included
    note: str | None  # the reason of a "# not run by the tests:" note

    @property
    def argv(self) -> list[str]:
        return shlex.split(self.text, comments=True)

    @property
    def program(self) -> str:
        return Path(self.argv[0]).name if self.argv else ""

    def __str__(self) -> str:
        return f"README.md:{self.line}: {self.text}"


def fenced_blocks(text: str) -> list[tuple[str, int, list[str]]]:
    """(language, 1-based line of the first content line, lines) of every fenced block."""
    blocks, lang, start, body = [], None, 0, []
    for i, line in enumerate(text.split("\n"), 1):
        fence = re.match(r"^\s*```\s*([\w+-]*)", line)
        if fence and lang is None:
            lang, start, body = fence[1].lower(), i + 1, []
        elif fence:
            blocks.append((lang, start, body))
            lang = None
        elif lang is not None:
            body.append(line)
    return blocks


def commands(text: str) -> list[Command]:
    out = []
    for lang, start, body in fenced_blocks(text):
        if lang not in SHELL_LANGS:
            continue
        if lang == "" and not any(COMMAND_START.match(line.strip()) for line in body):
            continue  # a bare block of output or a message
        previous = ""  # the line above, for a note on its own line
        i = 0
        while i < len(body):
            first, line = i, body[i].strip()
            if lang == "console" or (lang == "" and line.startswith("$ ")):
                if not line.startswith("$ "):  # output
                    previous, i = line, i + 1
                    continue
                line = line[2:]
            while line.endswith("\\") and i + 1 < len(body):  # continuation lines
                i += 1
                line = line[:-1].rstrip() + " " + body[i].strip()
            i += 1
            if not line or line.startswith("#"):
                previous = line
                continue
            note = NOTE.search(line) or NOTE.match(previous)
            out.append(Command(start + first, line, note["reason"].strip() if note else None))
            previous = line
    return out


@functools.cache
def readme_commands() -> tuple[Command, ...]:
    return tuple(commands(README.read_text()))


def kind(cmd: Command) -> str:
    """How the command is covered: run, dry-run, ci or note (else uncovered)."""
    argv = cmd.argv
    if cmd.note:
        return "note"
    if cmd.program == "dsrbench":
        return "run"
    if cmd.program == "snakemake":
        return "dry-run"
    if argv[:1] == ["make"] and len(argv) == 2 and argv[1] in CI_MAKE_TARGETS:
        return "ci"
    return "uncovered"


def of_kind(name: str) -> list[Command]:
    return [c for c in readme_commands() if kind(c) == name]


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
        "each README command must be run by tests/test_readme.py, be a CI make target "
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


def _local(argv: list[str]) -> list[str]:
    """The README's `.venv/bin/X` (or bare `X`) as this environment's X."""
    return [str(BIN / Path(argv[0]).name), *argv[1:]]


@functools.cache
def _run(*argv: str) -> subprocess.CompletedProcess:
    return subprocess.run(_local(list(argv)), capture_output=True, text=True, timeout=120, cwd=REPO)


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


def _dry_run_argv(cmd: Command, workdir: Path) -> list[str]:
    argv = _local(cmd.argv)
    for i, arg in enumerate(argv[1:], 1):  # repository paths (configs, profiles), made absolute
        if not arg.startswith("-") and (REPO / arg).exists():
            argv[i] = str(REPO / arg)
    return [*argv, "--snakefile", str(REPO / "Snakefile"), "--directory", str(workdir), "-n"]


@pytest.mark.e2e
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
