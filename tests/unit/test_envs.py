"""The pins in pyproject.toml, envs/requirements.txt and envs/environment.yaml agree."""

from __future__ import annotations

import tomllib
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]


def _pyproject_pins() -> list[str]:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    extras = project["optional-dependencies"]
    assert set(extras) == {"dev", "slurm", "chronos"}
    return sorted([*project["dependencies"], *extras["dev"], *extras["slurm"], *extras["chronos"]])


def test_every_pin_is_exact():
    for pin in _pyproject_pins():
        assert "==" in pin, f"{pin} in pyproject.toml is not an exact pin"


def test_requirements_txt_matches_pyproject():
    lines = (REPO / "envs" / "requirements.txt").read_text().splitlines()
    pins = sorted(line.strip() for line in lines if line.strip() and not line.startswith("#"))
    assert pins == _pyproject_pins()


def test_environment_yaml_matches_pyproject():
    env = yaml.safe_load((REPO / "envs" / "environment.yaml").read_text())
    deps = env["dependencies"]
    assert "python=3.11" in deps and "pip" in deps
    (pip,) = [d["pip"] for d in deps if isinstance(d, dict)]
    assert sorted(pip) == _pyproject_pins()


def test_make_install_installs_the_chronos_extra():
    """CI runs the chronos tests: `make install` installs the extra they need."""
    makefile = (REPO / "Makefile").read_text()
    assert "pip install -e '.[dev,slurm,chronos]'" in makefile
