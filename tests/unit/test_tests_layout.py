"""The test suite's own layout (tests/README.md): a test file imports no other test file
(nor conftest); what tests share is a fixture in tests/conftest.py or a helper in the
``support`` package, which imports no test file either."""

from __future__ import annotations

import ast

from support import TESTS


def _imported(path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


def test_no_test_file_imports_another_test_file_or_conftest() -> None:
    files = sorted(TESTS.glob("*/**/*.py")) + [TESTS / "conftest.py"]
    assert len(files) > 50
    bad = {
        str(f.relative_to(TESTS)): sorted(
            n for n in _imported(f) if n.startswith(("test_", "conftest"))
        )
        for f in files
    }
    assert not {f: names for f, names in bad.items() if names}, "move what they share to support/"


def test_the_tiers_are_folders_of_test_files_with_unique_names() -> None:
    unit = {p.name for p in (TESTS / "unit").glob("*.py")}
    e2e = {p.name for p in (TESTS / "e2e").glob("*.py")} - {"conftest.py"}
    assert not unit & e2e, "a split file's end-to-end half is named test_<name>_e2e.py"
    assert all(n.startswith("test_") for n in unit | e2e)
    assert not list(TESTS.glob("test_*.py")), "a test goes to tests/unit/ or tests/e2e/"
