"""The workflow's config schema is the package's (a link), so the two cannot differ; the
non-editable install is tested in e2e/test_package_e2e.py."""

from __future__ import annotations

from support import REPO


def test_the_workflow_schema_is_a_link_to_the_package_schema():
    link = REPO / "workflow" / "schemas" / "config.schema.yaml"
    assert link.is_symlink()
    assert link.resolve() == (REPO / "src" / "dsrbench" / "schemas" / "config.schema.yaml")
