"""The README's shell commands, parsed: every command line of its fenced shell blocks
(```bash, ```sh, ```shell, ```console and bare ``` blocks of command lines), with the reason
of a ``# not run by the tests: <reason>`` note, and how each is covered (unit/test_readme.py
checks the cover; e2e/test_readme_e2e.py and e2e/test_compare_your_method.py run them)."""

from __future__ import annotations

import functools
import re
import shlex
import sys
from dataclasses import dataclass
from pathlib import Path

from support import REPO

README = REPO / "README.md"
BIN = Path(sys.executable).parent

SHELL_LANGS = {"bash", "sh", "shell", "console", ""}
NOTE = re.compile(r"#\s*not run by the tests:\s*(?P<reason>\S.*)$")
#: `make` targets that CI runs (`.ci/run`), so the README may show them without running them.
CI_MAKE_TARGETS = {"test", "test-e2e", "lint"}
#: first words of a command line in a bare ``` block (other bare blocks are not commands)
COMMAND_START = re.compile(r"^(\$ |make\b|\.venv/|snakemake\b|dsrbench\b|python\b|pytest\b|\.ci/)")


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


def local(argv: list[str]) -> list[str]:
    """The README's `.venv/bin/X` (or bare `X`) as this environment's X."""
    return [str(BIN / Path(argv[0]).name), *argv[1:]]
