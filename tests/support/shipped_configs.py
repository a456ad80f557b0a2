"""The shipped config files and what each is stacked on: a config that extends another
(configs/zeroshot.yaml only lengthens configs/lyapunov.yaml's dataset setting and sets the
protocol) is run as ``--configfile BASE FILE``; the tests validate and plan it that way."""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

#: config file name -> the file (under configs/) it is stacked on
STACKED_ON = {"zeroshot.yaml": "lyapunov.yaml"}


def stack(name: str) -> list[str]:
    """The files (names under configs/) that ``snakemake --configfile`` takes for ``name``."""
    return [STACKED_ON[name], name] if name in STACKED_ON else [name]


def stacked_config(*files: str | Path) -> dict:
    """The config of ``snakemake --configfile A B ...``: each file deep-merged into the
    ones before it, as Snakemake merges them."""
    import yaml
    from snakemake.utils import update_config

    cfg: dict = {}
    for f in files:
        path = Path(f) if Path(f).is_absolute() else REPO / "configs" / f
        update_config(cfg, yaml.safe_load(path.read_text()))
    return cfg
