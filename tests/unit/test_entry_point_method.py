"""A method from another installed package, registered through the entry-point group
``dsrbench.methods``: listed by ``dsrbench methods``, its traits read from its source
without importing it, and a name claimed twice refused naming both (the end-to-end tier
runs it through the whole workflow with ``PYTHONPATH`` pointing at the package).

The package is written by :func:`support.method_package.make_method_package`;
unit/test_methods_contract.py runs the contract on it, and the workflow run is in
e2e/test_entry_point_method_e2e.py.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.method_package import make_method_package

from dsrbench import methods
from dsrbench.cli import main


@pytest.fixture
def installed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """``linmap`` installed from the package ``dsrb_linmap`` (distribution ``dsrb-linmap``);
    the package is forgotten afterwards."""
    root = make_method_package(
        tmp_path / "site", "dsrb-linmap", "dsrb_linmap", {"linmap": "dsrb_linmap.linmap:LinearMap"}
    )
    monkeypatch.syspath_prepend(str(root))
    yield root
    for name in [m for m in sys.modules if m.split(".")[0] == "dsrb_linmap"]:
        del sys.modules[name]


def test_an_installed_method_is_listed_and_read_without_importing_it(
    installed: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert "linmap" in methods.available()
    assert methods.sources()["linmap"].origin == "package 'dsrb-linmap'"
    traits = methods.traits("linmap")
    assert "dsrb_linmap.linmap" not in sys.modules and "dsrb_linmap" not in sys.modules
    assert traits == methods.Traits(
        needs_fit=True,
        uses_torch=False,
        hyperparameters=frozenset({"ridge"}),
        label="linear map",
        color="#123456",
        has_jacobian=True,
    )
    from dsrbench.reports.style import method_color, method_label

    assert (method_label("linmap"), method_color("linmap")) == ("linear map", "#123456")
    assert main(["methods"]) == 0
    out = capsys.readouterr().out
    assert "linmap       ridge=1e-08" in out
    assert "z_{t+1} = [z_t, 1] C" in out


def test_a_package_claiming_a_builtin_name_is_refused_naming_both(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = make_method_package(
        tmp_path / "site", "dsrb-shadow", "dsrb_shadow", {"var": "dsrb_shadow.linmap:LinearMap"}
    )
    monkeypatch.syspath_prepend(str(root))
    with pytest.raises(methods.DuplicateMethodError, match="'var' is claimed twice") as err:
        methods.traits("var")
    assert "dsrbench (dsrbench.methods.var)" in str(err.value)
    assert "package 'dsrb-shadow' (dsrb_shadow.linmap:LinearMap)" in str(err.value)


def test_two_packages_claiming_one_name_are_refused_naming_both(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for dist in ("dsrb-one", "dsrb-two"):
        package = dist.replace("-", "_")
        root = make_method_package(
            tmp_path / dist, dist, package, {"linmap": f"{package}.linmap:LinearMap"}
        )
        monkeypatch.syspath_prepend(str(root))
    with pytest.raises(methods.DuplicateMethodError, match="'linmap' is claimed twice") as err:
        methods.available()
    assert "package 'dsrb-one'" in str(err.value) and "package 'dsrb-two'" in str(err.value)
