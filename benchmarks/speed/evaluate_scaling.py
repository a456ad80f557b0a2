"""Evaluation of the default config on 1 against 2 Dask workers (target speed-up >= 1.7).

Reads the prediction records of a finished default run (``make run`` writes them under
``results/predictions``), then evaluates all of them (every metric, truth floors
included) on a LocalCluster of 1 and of 2 single-threaded workers. Each cluster is started
and warmed up (dsrbench imported, numba kernels loaded on every worker) before the clock
starts; the start-up time is printed apart.

    .venv/bin/python benchmarks/speed/evaluate_scaling.py [--results results] [--repeats 1]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path


def _warm_up() -> bool:
    import dsrbench.integration.dop853  # noqa: F401 - loads the cached kernels
    import dsrbench.metrics  # noqa: F401

    return True


def main(argv: list[str] | None = None) -> int:
    from dsrbench.pipeline.evaluate import dask_client, run_evaluation

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--results", type=Path, default=Path("results"))
    ap.add_argument("--repeats", type=int, default=1)
    args = ap.parse_args(argv)
    records = sorted((args.results / "predictions").glob("*/*/*/seed*.json"))
    jobs = [r for r in (json.loads(p.read_text()) for p in records) if r["status"] == "ok"]
    if not jobs:
        print(f"no prediction records under {args.results}/predictions: run `make run` first")
        return 1
    print(f"{len(jobs)} predictions, {len({j['dataset_path'] for j in jobs})} truth floors")
    timings = {}
    for n in (1, 2):
        start = time.perf_counter()
        with dask_client(n_workers=n) as client:
            client.run(_warm_up)
            startup = time.perf_counter() - start
            best = float("inf")
            for _ in range(args.repeats):
                t = time.perf_counter()
                table = run_evaluation(jobs, client=client, progress=False)
                best = min(best, time.perf_counter() - t)
        timings[n] = best
        bad = int((~table.status.isin(["ok", "diverged"])).sum())
        print(
            f"{n} worker(s): {best:7.1f} s  (cluster start-up {startup:.1f} s; "
            f"{len(table)} rows, {bad} not ok)"
        )
    print(f"speed-up 2 vs 1 workers: {timings[1] / timings[2]:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
