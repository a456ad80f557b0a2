"""Smoke run of the ``chronos`` method through the real workflow, with RANDOM weights.

    python benchmarks/tools/chronos_smoke.py [--results results/zeroshot_chronos_smoke]

1. saves a tiny randomly initialised Chronos-Bolt model (``--kind``; see
   :func:`dsrbench.methods.chronos.build_random_weights`) with the marker file saying
   ``random-smoke`` under ``<results>/weights/``;
2. writes the override ``configs/overrides/zeroshot_chronos_smoke_cpu.yaml`` (3 systems,
   4 initial conditions, truth, persistence, context parroting and chronos pointing at those
   weights, reports off);
3. runs ``snakemake --cores 2 --configfile configs/lyapunov.yaml configs/zeroshot.yaml
   <override>`` and measures its wall time;
4. ships the run as ``docs/results/zeroshot_chronos_smoke/`` with
   ``benchmarks/tools/results_pages.py publish``.

It checks that the weights load and forecast through the prediction, evaluation and export
jobs, and that every chronos row is labelled ``weights=random-smoke``; it measures nothing
about Chronos. With the published weights, see docs/methods.md ("chronos").
"""

from __future__ import annotations

import argparse
import os
import shlex
import subprocess
import sys
import time
from pathlib import Path

from dsrbench.methods.chronos import RANDOM_KINDS, build_random_weights

REPO = Path(__file__).resolve().parents[2]
NAME = "zeroshot_chronos_smoke"
OVERRIDE = Path("configs/overrides/zeroshot_chronos_smoke_cpu.yaml")
STACK = [Path("configs/lyapunov.yaml"), Path("configs/zeroshot.yaml"), OVERRIDE]
SYSTEMS = ["Lorenz", "Rossler", "Thomas"]

HEADER = """\
# A SMOKE RUN of the zero-shot protocol with the chronos method on RANDOMLY INITIALISED
# weights (a tiny {kind} model, hidden width 16, made by
# dsrbench.methods.chronos.build_random_weights, with the marker dsrbench_weights.json
# saying random-smoke): it checks the loading and forecasting path through the workflow,
# and every chronos row is labelled weights=random-smoke. Not a measurement of Chronos: with
# the published weights see docs/methods.md ("chronos"). 3 systems, 4 initial conditions
# (2/1/1 instead of 16/2/2), reports off. Written by benchmarks/tools/chronos_smoke.py,
# which builds the weights, runs
#   snakemake --cores 2 --configfile configs/lyapunov.yaml configs/zeroshot.yaml \\
#       configs/overrides/zeroshot_chronos_smoke_cpu.yaml
# and publishes docs/results/zeroshot_chronos_smoke/.
"""


def override_text(results: Path, weights: Path, kind: str) -> str:
    """The override yaml (its header says what the run is)."""
    import yaml

    body = {
        "results_dir": str(results),
        "systems": SYSTEMS,
        "datasets": {"lyap30": {"n_train": 2, "n_val": 1, "n_test": 1}},
        "training": {"threads": 1},
        "evaluation": {
            "methods": ["truth", "persistence", "context_parroting", "chronos"],
            "hyperparameters": {"chronos": {"model": str(weights), "device": "cpu"}},
        },
        "reports": {"enabled": False},
    }
    return HEADER.format(kind=kind) + yaml.safe_dump(body, sort_keys=False, default_flow_style=None)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--results", type=Path, default=Path("results") / NAME)
    parser.add_argument("--kind", choices=RANDOM_KINDS, default="bolt")
    parser.add_argument("--cores", type=int, default=2)
    parser.add_argument("--no-publish", action="store_true", help="run, but ship no page")
    args = parser.parse_args(argv)
    os.chdir(REPO)  # the paths in the override are relative to the repository root

    weights = args.results / "weights" / f"chronos-{args.kind}-random"
    build_random_weights(args.kind, weights)
    OVERRIDE.write_text(override_text(args.results, weights, args.kind))

    snakemake = Path(sys.executable).with_name("snakemake")
    cmd = [str(snakemake), "--cores", str(args.cores), "--configfile", *map(str, STACK)]
    print("+", shlex.join(cmd), flush=True)
    start = time.perf_counter()
    rc = subprocess.run(cmd, check=False).returncode
    wall = time.perf_counter() - start
    print(f"snakemake exit {rc}, wall time {wall:.0f} s", flush=True)
    if rc != 0 or args.no_publish:
        return rc

    script = ["python", "benchmarks/tools/chronos_smoke.py"]
    if args.results != Path("results") / NAME:
        script += ["--results", str(args.results)]
    if args.kind != "bolt":
        script += ["--kind", args.kind]
    notes = (
        f"A SMOKE RUN WITH RANDOM WEIGHTS: the chronos rows come from a tiny randomly "
        f"initialised Chronos-{args.kind} model (hidden width 16, "
        f"dsrbench.methods.chronos.build_random_weights), not from the published Chronos "
        f"weights. The run checks the loading and forecasting path of the chronos method "
        f"through the workflow (prediction, evaluation, export); it is not a measurement of "
        f"Chronos, and its chronos numbers mean nothing. Every chronos row is labelled "
        f"weights=random-smoke (in its reason column), and the leaderboard and the index "
        f"leave such rows out. 3 systems, 4 initial conditions each (2/1/1 instead of "
        f"16/2/2), the context-length sweep kept. Snakemake wall time: {wall:.0f} s on 2 "
        f"shared CPU cores. To run Chronos with the real weights, place them locally and "
        f"point evaluation.hyperparameters.chronos.model at them: docs/methods.md, section "
        f"'chronos: Chronos, Chronos-Bolt, Chronos-2'."
    )
    publish = [
        sys.executable,
        "benchmarks/tools/results_pages.py",
        "publish",
        str(args.results),
        NAME,
        "--command",
        shlex.join(script),
        *[a for f in STACK for a in ("--configfile", str(f))],
        "--notes",
        notes,
    ]
    return subprocess.run(publish, check=False).returncode


if __name__ == "__main__":
    raise SystemExit(main())
