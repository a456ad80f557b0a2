"""The end-to-end tier: every test under tests/e2e/ carries the ``e2e`` marker, so
``make test`` (``-m "not e2e"``) leaves it out and ``make test-e2e`` (``-m e2e``) runs it.
The fixtures are in tests/conftest.py."""

from __future__ import annotations

from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent


@pytest.hookimpl(tryfirst=True)  # before ``-m`` deselects by marker
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if item.path.is_relative_to(HERE):
            item.add_marker(pytest.mark.e2e)
