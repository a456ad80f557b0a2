"""Score the weight snapshots of a DSR database run and write its budget table and figure.

    python benchmarks/tools/dsr_snapshots.py results/dsr_database_20k \
        --doc docs/results/dsr_database_20k

Every snapshot (``training.snapshot_steps`` of configs/dsr_database.yaml) is run freely and
scored as the evaluation scores the trained model (dsrbench.pipeline.snapshots); then, per method
and optimiser step, the fraction of systems whose D_stsp lies within 2x and 5x of the truth
floor. Writes ``snapshots.csv`` (one row per snapshot), ``floor_fractions.csv``,
``floor_fractions.md`` and ``floor_fractions.png`` into ``--doc``.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import pandas as pd

from dsrbench import layout
from dsrbench.pipeline.snapshots import floor_fractions, metric_fractions, score_snapshots


def figure(fractions, out: Path, reference=None) -> None:
    """Fraction of systems within 2x and 5x of the floor against optimiser steps, with the
    ``reference`` method's fractions (persistence) as horizontal lines."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    for method, g in fractions.groupby("method"):
        line = ax.plot(g["step"], g["within_5x_floor"], marker="o", label=f"{method}, 5x")[0]
        ax.plot(
            g["step"],
            g["within_2x_floor"],
            marker="s",
            linestyle="--",
            color=line.get_color(),
            label=f"{method}, 2x",
        )
    if reference is not None and not reference.empty:
        for r in reference.itertuples():
            for column, style in (("within_5x_floor", ":"), ("within_2x_floor", "-.")):
                ax.axhline(
                    getattr(r, column),
                    color="grey",
                    linestyle=style,
                    linewidth=1,
                    label=f"{r.method}, {column.split('_')[1]}",
                )
    ax.set_xscale("log")
    ax.set_xlabel("optimiser steps (16 windows of 100 steps each)")
    ax.set_ylabel("fraction of systems with D_stsp within k x floor")
    ax.set_ylim(0, 1)
    ax.legend(frameon=False)
    fig.tight_layout()
    fig.savefig(out, dpi=120)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("results", type=Path, help="results directory of the run")
    parser.add_argument("--doc", type=Path, required=True, help="folder for the tables")
    parser.add_argument(
        "--reuse-scores",
        action="store_true",
        help="redraw the tables and the figure from <doc>/snapshots.csv, scoring nothing",
    )
    args = parser.parse_args(argv)
    if not args.results.is_dir():
        print(f"error: no results directory {args.results}", file=sys.stderr)
        return 2
    t0 = time.perf_counter()
    previous = args.doc / "floor_fractions.md"
    if args.reuse_scores:  # keep the command line (and its seconds) of the scoring run
        scores = pd.read_csv(args.doc / "snapshots.csv")
        timing = previous.read_text().split("Command: ", 1)[1].split("\n", 1)[0]
    else:
        scores = score_snapshots(args.results, progress=True)
        timing = (
            f"`python benchmarks/tools/dsr_snapshots.py {args.results} --doc {args.doc}` "
            f"({time.perf_counter() - t0:.0f} s)."
        )
    if scores.empty:
        print(
            f"error: {args.results} has no snapshots (run with training.snapshot_steps)",
            file=sys.stderr,
        )
        return 2
    args.doc.mkdir(parents=True, exist_ok=True)
    scores.to_csv(args.doc / "snapshots.csv", index=False)
    fractions = floor_fractions(scores)
    fractions.to_csv(args.doc / "floor_fractions.csv", index=False)
    previous.write_text(
        "# D_stsp within k x the floor, by optimiser steps\n\n"
        f"Command: {timing}\n\n" + fractions.to_markdown(index=False) + "\n"
    )
    metrics = pd.read_parquet(layout.merged_metrics(args.results))
    reference = metric_fractions(metrics, ["persistence"], 0)
    figure(fractions, args.doc / "floor_fractions.png", reference)
    print(fractions.to_string(index=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
