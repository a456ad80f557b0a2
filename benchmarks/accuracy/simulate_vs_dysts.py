"""Throughput of dsrbench.simulate against dysts' make_trajectory, in one process.

For every continuous system: 16 initial conditions on the attractor (dysts' default
one plus 15 states of the trajectory from it, raw coordinates), n = 1000,
pts_per_period = 100.

* ours: the trajectory that supplies the 15 states plus one batched
  ``dsrbench.simulate`` call on all 16 (so 17 trajectories are timed), with numba's
  on-disk cache pointed at an empty folder, so every compilation (the shared kernels
  and each system's right-hand side) is inside the timed total;
* dysts: ``make_trajectory`` with its defaults (Radau, rtol = atol = 1e-12) and with
  ``method="DOP853"`` at our tolerances. dysts integrates one initial condition at a
  time, so its cost is linear in their number: it is timed on the default initial
  condition and multiplied by 16 (printed as such).

Accuracy beside each time: max |x - dysts Radau| / std over the first Lyapunov time
(at most 100 points), for ours and for dysts' DOP853 run.

    python benchmarks/accuracy/simulate_vs_dysts.py [--systems Lorenz ...] [--ics 16]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

if "--warm" not in sys.argv:  # before numba is imported: compile everything afresh
    os.environ["NUMBA_CACHE_DIR"] = tempfile.mkdtemp(prefix="dsrbench-numba-")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

sys.path.insert(0, str(Path(__file__).parent))
from _dysts_reference import dysts_trajectory, lyapunov_window, scaled_error  # noqa: E402

N = 1000
PTS = 100


def main(argv: list[str] | None = None) -> int:
    from dsrbench.integration import DEFAULT_ATOL, DEFAULT_RTOL, simulate
    from dsrbench.systems import all_systems, get_system_info

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--systems", nargs="*", default=None)
    parser.add_argument("--ics", type=int, default=16)
    parser.add_argument("--warm", action="store_true", help="reuse numba's on-disk cache")
    parser.add_argument(
        "--out", type=Path, default=Path(__file__).parent / "out" / "simulate_vs_dysts.csv"
    )
    args = parser.parse_args(argv)
    names = args.systems or all_systems()
    rows = []
    for name in names:
        info = get_system_info(name)
        window = lyapunov_window(name, PTS)
        ic = np.atleast_1d(np.asarray(info.initial_conditions, dtype=float))
        row = {"system": name, "kind": "delay" if info.is_delay else "ode", "window": window}
        try:
            start = time.perf_counter()
            pool = simulate(name, N, pts_per_period=PTS, postprocess=False)[0]
            picks = np.linspace(N // 10, N - 1, args.ics - 1).astype(int)
            ics = np.vstack([ic[None, :], pool[picks, : ic.size]])
            ours = simulate(name, N, pts_per_period=PTS, initial_conditions=ics)
            row["ours_s"] = time.perf_counter() - start
            ref, row["dysts_radau_1ic_s"] = dysts_trajectory(name, N, PTS)
            row["ours_err"] = scaled_error(ours[0], ref, window)
            if info.is_delay:  # dysts' delay solver takes no method or tolerances
                row["dysts_dop853_1ic_s"] = row["dysts_radau_1ic_s"]
                row["dysts_dop853_err"] = 0.0
            else:
                dop, row["dysts_dop853_1ic_s"] = dysts_trajectory(
                    name, N, PTS, method="DOP853", rtol=DEFAULT_RTOL, atol=DEFAULT_ATOL
                )
                row["dysts_dop853_err"] = scaled_error(dop, ref, window)
            row["status"] = "ok"
        except Exception as exc:  # noqa: BLE001 - recorded, the run goes on
            row["status"] = f"failed: {type(exc).__name__}: {exc}"
        rows.append(row)
        print(
            f"{name:28s} ours({args.ics} ics) {row.get('ours_s', np.nan):7.3f}s "
            f"err {row.get('ours_err', np.nan):.1e} | dysts Radau(1 ic) "
            f"{row.get('dysts_radau_1ic_s', np.nan):7.2f}s | dysts DOP853(1 ic) "
            f"{row.get('dysts_dop853_1ic_s', np.nan):7.2f}s err "
            f"{row.get('dysts_dop853_err', np.nan):.1e}",
            flush=True,
        )
    df = pd.DataFrame(rows)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    df.to_csv(args.out, index=False)
    ok = df[df.status == "ok"]
    ours_total = ok.ours_s.sum()
    radau_total = args.ics * ok.dysts_radau_1ic_s.sum()
    dop_total = args.ics * ok.dysts_dop853_1ic_s.sum()
    print()
    print(
        f"systems: {len(ok)} ok of {len(df)}; {args.ics} initial conditions each, n={N}, "
        f"pts_per_period={PTS}; numba cache {'warm' if args.warm else 'cold (compile included)'}"
    )
    print(f"ours, total:                      {ours_total:9.1f} s")
    print(
        f"dysts Radau 1e-12, x{args.ics} (scaled): {radau_total:9.1f} s  "
        f"-> ratio {radau_total / ours_total:7.1f}x"
    )
    print(
        f"dysts DOP853 at our tol, x{args.ics}:   {dop_total:9.1f} s  "
        f"-> ratio {dop_total / ours_total:7.1f}x"
    )
    ode = ok[ok.kind == "ode"]
    print(
        f"accuracy vs dysts Radau over the first Lyapunov time, ODE flows: ours max "
        f"{ode.ours_err.max():.1e}, dysts DOP853 max {ode.dysts_dop853_err.max():.1e}; "
        f"delay equations: ours max {ok[ok.kind == 'delay'].ours_err.max():.1e} (dysts' own "
        "delay solver is first order: see docs/integration_verification.md)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
