"""JAWS's claim at CPU scale: a Jacobian penalty with adaptive weights makes long free runs
diverge less often without worsening the attractor statistic.

Nie & Suzuki 2026 ("JAWS: Enhancing long-term rollout of neural operators via
spatially-adaptive Jacobian regularization", arXiv 2603.05538, abstract): a spatially
adaptive Jacobian (contraction) prior improves the long-term stability of autoregressive
rollouts (1D Burgers, 2D flow past a cylinder). Our option: ``jacobian_weight`` of
``node`` (docs/methods.md, "Jacobian regularisation"). This script trains ``node`` with
and without it and writes ``docs/results/jacobian_regularisation/`` (README.md, the
per-seed CSV and the cost CSV).

Fixed before the run:

* systems: the last database run of ``node`` is the neural-ODE step of the Gilpin 2023
  per-system run (``docs/results/gilpin2023_per_system``: 135 systems, ``fine``, seed 0,
  its per-system rows in the shipped export); its free run diverged on 16 of them. The
  rule (:func:`subset`): the first :data:`PER_GROUP` systems in alphabetical order whose
  ``node`` D_stsp row is ``diverged`` there, and the first :data:`PER_GROUP` whose row is
  ``ok``.
* data: the gilpin2023 ``fine`` protocol (100 points per Fourier period, one training
  and one test trajectory of 6000 points after 1000 dropped); train on the first 1000
  training points, read the test trajectory's first 1000 points as context and run freely
  for the next 5000 steps against the truth.
* model and budget: ``node`` with each system's hyperparameters from that run's training
  record (RK4 with one step per data step, 30 epochs of 10 batches of 64 windows, Adam
  1e-2 decaying to 1e-3, ``seq_len`` as tuned there over {5, 15, 30}), no validation (the
  last weights are kept), seeds :data:`SEEDS`, equal for every arm.
* arms: ``off`` (weight 0), ``uniform`` and ``adaptive`` (weight :data:`WEIGHT`, 32
  states a batch, one probe); the weight was set before the run, not tuned.
* metrics: a free run diverged when :func:`dsrbench.metrics.attractor.check_divergence`
  flags it (non-finite, or outside 10x the truth's extent); D_stsp (30 bins) over the
  5000 steps, divided by the floor (D_stsp between the test and the training trajectory's
  same 5000 points); a diverged run's ratio is inf. Persistence (the last context point
  repeated) is the baseline on D_stsp/floor.
* the claim holds when the adaptive arm's fraction of diverged runs is below the off
  arm's and its median D_stsp/floor is not above the off arm's. It is tested only where
  the off arm is a yardstick: its median D_stsp/floor over the stable group beats
  persistence's there. (Persistence never diverges, so the fraction of diverged runs
  cannot gate; and over the diverged group the off arm's median is the divergences the
  claim is about.)
* cost: seconds per epoch of one model (Lorenz-63, ``fine``) at the settings above for
  node, and at the DSR database's settings (80 batches of 16 windows of 100 steps cut to
  3 epochs) for ``alrnn`` and ``shplrnn_gtf``: numba kernels (off), torch (off, forced)
  and torch with the penalty. Timed by ``--part cost`` on its own (idle cores), since the
  claim's runs take hours and may share the machine.

    python benchmarks/accuracy/jacobian_regularisation.py [--part claim|cost|page] [--out DIR]
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from dsrbench.provenance import short_revision
from dsrbench.reports.reproductions import quartiles

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "docs" / "results" / "jacobian_regularisation"

#: the run whose node free runs pick the systems (its shipped export)
DATABASE_RUN = ROOT / "docs" / "results" / "gilpin2023_per_system" / "gilpin2023_per_system.parquet"
#: systems per group (diverged, stable)
PER_GROUP = 10
SEEDS = (0, 1, 2)
WEIGHT = 0.1
ARMS = {
    "off": {"jacobian_weight": 0.0},
    "uniform": {"jacobian_weight": WEIGHT, "jacobian_weighting": "uniform"},
    "adaptive": {"jacobian_weight": WEIGHT, "jacobian_weighting": "adaptive"},
}
SETTING = {
    "pts_per_period": 100,
    "timescale": "fourier",
    "length": 6000,
    "n_train": 1,
    "n_val": 0,
    "n_test": 1,
    "burn_in": 1000,
}
INTEGRATION = {"rtol": 1e-10, "atol": 1e-10}  # the gilpin2023 config's
TRAIN, CONTEXT, HORIZON = 1000, 1000, 5000
#: node at the database run's CPU budget, for the cost table (each system of the claim
#: takes its own record's hyperparameters: :func:`subset`)
NODE = {
    "method": "rk4",
    "substeps": 1,
    "epochs": 30,
    "batches_per_epoch": 10,
    "batch_size": 64,
    "seq_len": 15,
}
#: the DSR database's latent RNN settings (docs/results/dsr_database_2000_steps), 3 epochs
RNN_COST = {
    "alrnn": {"latent_dim": 20, "relu_units": 2, "forcing_interval": 16},
    "shplrnn_gtf": {"latent_dim": "dim", "hidden_dim": 50},
}
RNN_COMMON = {"epochs": 3, "batches_per_epoch": 25, "batch_size": 16, "seq_len": 100}


def dataset(system: str, where: Path):
    from dsrbench import splits, stores
    from dsrbench.datasets import build_dataset

    out = where / f"{system}.zarr"
    result = build_dataset(
        system, "fine", SETTING, seed=0, integration=INTEGRATION, config={"jaws": 1}, out=out
    )
    if result.status != "ok":
        raise RuntimeError(f"{system}: {result}")
    ds = stores.open_dataset(out)
    return splits.split_of(ds, "train"), splits.split_of(ds, "test")


def d_stsp(truth: np.ndarray, gen: np.ndarray) -> float:
    from dsrbench.metrics import state_space_divergence

    value = state_space_divergence(truth, gen, n_bins=30)
    return float(getattr(value, "value", value))


def score(truth: np.ndarray, gen: np.ndarray, floor: float) -> tuple[bool, float]:
    """(diverged, D_stsp / floor) of a free run ``gen (T, D)``; a diverged run is inf."""
    from dsrbench.metrics.attractor import check_divergence

    if check_divergence(gen, truth).diverged:
        return True, float("inf")
    return False, d_stsp(truth, gen) / floor


def subset() -> tuple[tuple[str, ...], tuple[str, ...], dict[str, dict]]:
    """(diverged, stable, hyperparameters per system) from :data:`DATABASE_RUN`: node's
    D_stsp status per system and its training record's hyperparameters (the rule: the
    module docstring)."""
    from dsrbench.reports.export import read_export

    export = read_export(DATABASE_RUN)
    node = export[export["method"] == "node"]
    d_stsp = node[(node["kind"] == "metric") & (node["metric"] == "D_stsp")]
    status = d_stsp.set_index(d_stsp["system"].astype(str))["status"].astype(str)
    diverged = tuple(sorted(status[status == "diverged"].index)[:PER_GROUP])
    stable = tuple(sorted(status[status == "ok"].index)[:PER_GROUP])
    training = node[node["kind"] == "training"].set_index(
        node["system"].astype(str)[node["kind"] == "training"]
    )
    hyperparameters = {
        system: json.loads(training.loc[system, "hyperparameters"]) for system in diverged + stable
    }
    return diverged, stable, hyperparameters


def run_claim(
    where: Path,
    diverged: tuple[str, ...],
    stable: tuple[str, ...],
    hyperparameters: dict[str, dict],
    seeds: tuple[int, ...] = SEEDS,
    partial: Path | None = None,
) -> list[dict]:
    """Every arm on every system and seed: one row per free run. The models of one arm and
    group train together (``fit_many``); each such unit's rows are appended to ``partial``
    as it ends, and a rerun keeps the units found there (the run resumes after a stop)."""
    from dsrbench.methods.base import FitTask
    from dsrbench.methods.node import NeuralODE

    rows = read_csv(partial) if partial is not None and partial.is_file() else []
    done = {(r["arm"], r["group"]) for r in rows}
    data, floors, baseline = {}, {}, {}
    for system in diverged + stable:
        train, test = dataset(system, where)
        x_train, x_test = train["x"].values[0], test["x"].values[0]
        truth = x_test[CONTEXT : CONTEXT + HORIZON]
        floors[system] = d_stsp(truth, x_train[CONTEXT : CONTEXT + HORIZON])
        persistence = np.repeat(x_test[CONTEXT - 1][None], HORIZON, axis=0)
        baseline[system] = score(truth, persistence, floors[system])[1]
        data[system] = (train.isel(time=slice(0, TRAIN)), x_test, truth)
    for arm, extra in ARMS.items():
        for group, systems in (("diverged", diverged), ("stable", stable)):
            if (arm, group) in done:
                continue
            tasks = [
                FitTask(
                    data[s][0], None, seed, {**hyperparameters[s], **extra}, None, f"{s}/{seed}"
                )
                for s in systems
                for seed in seeds
            ]
            t0 = time.perf_counter()
            outcomes = NeuralODE.fit_many(tasks, device="cpu")
            unit_seconds = time.perf_counter() - t0
            unit = []
            for task, outcome in zip(tasks, outcomes, strict=True):
                system, seed = task.name.split("/")
                _, x_test, truth = data[system]
                model = outcome.model
                if model is None:
                    raise RuntimeError(f"{task.name} {arm}: {outcome}")
                gen = model.forecast(x_test[None, :CONTEXT], HORIZON)[0]
                blew_up, ratio = score(truth, gen, floors[system])
                result = model.training_result_
                unit.append(
                    {
                        "system": system,
                        "group": group,
                        "seq_len": int(hyperparameters[system]["seq_len"]),
                        "seed": int(seed),
                        "arm": arm,
                        "diverged": blew_up,
                        "stsp_over_floor": ratio,
                        "persistence_stsp_over_floor": baseline[system],
                        "floor": floors[system],
                        "final_loss": result.history[-1]["loss"],
                        "train_seconds": result.seconds,
                        "seconds_per_epoch": result.seconds / max(result.epochs_run, 1),
                        "unit_seconds": unit_seconds,
                    }
                )
            rows += unit
            if partial is not None:
                write_csv(partial, rows)
    return rows


def arm_seconds(rows: list[dict]) -> dict[str, float]:
    """Training seconds per arm: the sum of its units' (``fit_many`` calls') seconds."""
    units = {(r["arm"], r["group"]): r["unit_seconds"] for r in rows}
    return {arm: sum(s for (a, _), s in units.items() if a == arm) for arm in ARMS}


def run_cost(where: Path) -> list[dict]:
    """Seconds per epoch of one model, off and on, on Lorenz-63."""
    from dsrbench import methods
    from dsrbench.methods import _latent_rnn

    train, _ = dataset("Lorenz", where)
    train = train.isel(time=slice(0, 6000))
    out = []

    def timed(name: str, backend: str, hp: dict) -> None:
        cls = methods.get(name)
        forced = backend == "torch (forced)"
        original = _latent_rnn.gradient_backend
        if forced:
            _latent_rnn.gradient_backend = lambda device, dtype: "torch"
        try:
            model = cls(**hp).fit(train, None, seed=0, device="cpu")
        finally:
            _latent_rnn.gradient_backend = original
        epochs = [row["seconds"] for row in model.training_result_.history]
        out.append(
            {
                "method": name,
                "path": backend,
                "jacobian_weight": hp.get("jacobian_weight", 0.0),
                "epochs": len(epochs),
                "batches_per_epoch": hp["batches_per_epoch"],
                # the first epoch carries one-off compilation (numba): the median of the rest
                "seconds_per_epoch": float(np.median(epochs[1:] if len(epochs) > 1 else epochs)),
            }
        )

    timed("node", "torch", {**NODE, "epochs": 5})
    timed("node", "torch", {**NODE, "epochs": 5, "jacobian_weight": WEIGHT})
    for name, hp in RNN_COST.items():
        base = {**hp, **RNN_COMMON}
        backend = _latent_rnn.gradient_backend(
            __import__("torch").device("cpu"), __import__("torch").float64
        )
        timed(name, backend, base)
        timed(name, "torch (forced)", base)
        timed(name, "torch", {**base, "jacobian_weight": WEIGHT})
    return out


def iqr(values: np.ndarray) -> str:
    """``median [q1, q3]``; an infinite neighbour makes a quartile infinite (never NaN)."""
    q1, q2, q3 = quartiles(np.asarray(values, dtype=float))
    return f"{q2:.3g} [{q1:.3g}, {q3:.3g}]"


def write_csv(path: Path, rows: list[dict]) -> None:
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def read_csv(path: Path) -> list[dict]:
    """Rows written by :func:`write_csv`, numbers and booleans parsed back."""

    def parse(value: str):
        if value in ("True", "False"):
            return value == "True"
        try:
            return int(value)
        except ValueError:
            try:
                return float(value)
            except ValueError:
                return value

    with path.open(newline="") as f:
        return [{k: parse(v) for k, v in row.items()} for row in csv.DictReader(f)]


def summary(rows: list[dict]) -> list[dict]:
    out = []
    for arm in ARMS:
        for group in ("diverged", "stable", "all"):
            sel = [r for r in rows if r["arm"] == arm and (group == "all" or r["group"] == group)]
            ratios = np.array([r["stsp_over_floor"] for r in sel], dtype=float)
            out.append(
                {
                    "arm": arm,
                    "systems": group,
                    "runs": len(sel),
                    "diverged": sum(r["diverged"] for r in sel),
                    "fraction_diverged": np.mean([r["diverged"] for r in sel]),
                    "median_stsp_over_floor": quartiles(ratios)[1],
                    "iqr": iqr(ratios),
                    "below_persistence": sum(
                        r["stsp_over_floor"] < r["persistence_stsp_over_floor"] for r in sel
                    ),
                }
            )
    return out


def _systems(rows: list[dict], group: str) -> list[str]:
    return sorted({r["system"] for r in rows if r["group"] == group})


def _persistence(rows: list[dict], group: str | None = None) -> float:
    """Persistence's median D_stsp/floor over the systems of ``group`` (None: all)."""
    per_system = {
        r["system"]: r["persistence_stsp_over_floor"]
        for r in rows
        if r["arm"] == "off" and (group is None or r["group"] == group)
    }
    return quartiles(np.array(list(per_system.values()), dtype=float))[1]


def _group_note(get: dict) -> str:
    """The claim's rule reads all systems at once; what each group shows beside it."""
    parts = []
    for group in ("diverged", "stable"):
        off, ada = get[("off", group)], get[("adaptive", group)]
        parts.append(
            f"on the {group} group the adaptive arm's median D_stsp/floor is "
            f"{ada['median_stsp_over_floor']:.3g} against the off arm's "
            f"{off['median_stsp_over_floor']:.3g}, with {ada['below_persistence']} of "
            f"{ada['runs']} free runs below persistence's against {off['below_persistence']}"
        )
    return "Group by group (read beside the rule, which pools them): " + "; ".join(parts) + "."


def page(rows: list[dict], claim: dict, cost: list[dict], cost_meta: dict) -> str:
    table = summary(rows)
    get = {(t["arm"], t["systems"]): t for t in table}
    off, ada = get[("off", "all")], get[("adaptive", "all")]
    off_stable = get[("off", "stable")]
    persistence, persistence_stable = _persistence(rows), _persistence(rows, "stable")
    diverged, stable = _systems(rows, "diverged"), _systems(rows, "stable")
    seeds = sorted({r["seed"] for r in rows})
    tested = off_stable["median_stsp_over_floor"] < persistence_stable
    holds = (
        ada["fraction_diverged"] < off["fraction_diverged"]
        and ada["median_stsp_over_floor"] <= off["median_stsp_over_floor"]
    )
    gate = (
        f"the unregularised arm's median D_stsp/floor over the stable group "
        f"({off_stable['median_stsp_over_floor']:.3g}) "
        + ("beats" if tested else "does not beat")
        + f" persistence's there ({persistence_stable:.3g})"
    )
    if not tested:
        verdict = (
            f"**Not tested**: {gate} at this budget (30 epochs of 10 batches), so the "
            "unregularised node is no yardstick. A test needs a budget at which node "
            "reconstructs the attractors of the stable group (at least the Gilpin 2023 "
            "budget, 500 iterations of 128 windows with dopri5)."
        )
    else:
        verdict = (
            "**The claim "
            + ("holds**" if holds else "does not hold**")
            + (
                f" at this budget ({gate}): fraction of diverged free runs "
                f"{off['fraction_diverged']:.2f} (off) against {ada['fraction_diverged']:.2f} "
                f"(adaptive), median D_stsp/floor {off['median_stsp_over_floor']:.3g} against "
                f"{ada['median_stsp_over_floor']:.3g}."
            )
        )
    lines = [
        "# Jacobian regularisation (JAWS) of node's rollouts: diverging free runs and D_stsp",
        "",
        "Generated by `benchmarks/accuracy/jacobian_regularisation.py`; do not edit by hand.",
        "",
        f"- Commands: `{claim['command']}` (the claim), then `{cost_meta['command']}` (the "
        "cost table, on idle cores)",
        f"- Commits: `{claim['commit']}` (the claim), `{cost_meta['commit']}` (the cost)",
        f"- Machine: {claim['machine']}, torch on 1 thread; claim run: {claim['load']}",
        f"- Wall time of the claim: {claim['wall']:.0f} s"
        + (" (of its last segment: it resumed after a stop)" if claim.get("resumed") else "")
        + " (training per arm: "
        + ", ".join(f"{a} {s:.0f} s" for a, s in claim["seconds"].items())
        + f"); of the cost table: {cost_meta['wall']:.0f} s",
        f"- Budget (equal for every arm): node, RK4 one step per data step, {NODE['epochs']} "
        f"epochs of {NODE['batches_per_epoch']} batches of {NODE['batch_size']} windows, each "
        "system's hyperparameters (`seq_len` among them, in the CSV) from the database run's "
        f"training record; seeds {seeds}, paired across arms",
        f"- Arms: off; uniform and adaptive weights at jacobian_weight {WEIGHT} (fixed before the "
        "run), 32 states a batch, one Hutchinson probe",
        f"- Systems, fixed before the run from node's own free runs in the last database run "
        "(`docs/results/gilpin2023_per_system`, the rule in the script's docstring): diverged "
        f"there {diverged}; not diverged there {stable}",
        "- Data: gilpin2023 `fine` (100 points per Fourier period), 1000 training points, "
        f"a free run of {HORIZON} steps after a {CONTEXT}-point context of the test trajectory",
        "",
        "**The paper's claim** (Nie & Suzuki 2026, arXiv 2603.05538, abstract): the spatially "
        "adaptive Jacobian regulariser gives stable long-term rollouts (1D Burgers, 2D flow "
        "past a cylinder) where unregularised autoregressive training blows up; the paper's "
        "numbers and penalty form were not available (docs/background/issue29_paper_facts.md), "
        "so no published number stands beside ours.",
        "",
        "**The gate** (fixed before the run): persistence never diverges, so it cannot gate "
        "the fraction of diverged runs, and over the diverged group the off arm's median is "
        "the divergences the claim is about; the claim is tested where the off arm's median "
        "D_stsp/floor over the stable group beats persistence's there.",
        "",
        verdict,
        "",
        _group_note(get),
        "",
        "## Per arm: diverged free runs and D_stsp / floor (median [IQR] over system x seed; "
        "a diverged run counts as inf)",
        "",
        "| arm | systems | runs | diverged | fraction | D_stsp/floor | runs below persistence's |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for t in table:
        lines.append(
            f"| {t['arm']} | {t['systems']} | {t['runs']} | {t['diverged']} | "
            f"{t['fraction_diverged']:.2f} | {t['iqr']} | {t['below_persistence']} |"
        )
    lines += [
        "",
        f"Persistence (the last context point held), the baseline on D_stsp/floor: median "
        f"{persistence:.3g} over the {len(diverged) + len(stable)} systems, "
        f"{persistence_stable:.3g} over the stable group, {_persistence(rows, 'diverged'):.3g} "
        "over the diverged group. The last column counts the free runs whose D_stsp/floor is "
        "below persistence's on their system: a penalty that only pulled the field towards a "
        "fixed point would stop divergence without beating persistence.",
        "",
        "## Cost per epoch (one model, Lorenz-63, seconds; the penalty needs torch autograd, "
        "so the latent RNNs leave their numba kernels when it is on)",
        "",
        "| method | gradient path | jacobian_weight | batches/epoch | s/epoch |",
        "| --- | --- | --- | --- | --- |",
    ]
    for c in cost:
        lines.append(
            f"| {c['method']} | {c['path']} | {c['jacobian_weight']} | "
            f"{c['batches_per_epoch']} | {c['seconds_per_epoch']:.3f} |"
        )
    lines += [
        "",
        "Per-seed rows: [jacobian_regularisation.csv](jacobian_regularisation.csv); costs: "
        "[cost.csv](cost.csv); the runs' commands, commits and times: [runs.json](runs.json). "
        "The option: [docs/methods.md](../../methods.md).",
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument(
        "--part",
        choices=("all", "claim", "cost", "page"),
        default="all",
        help="claim: the arms' runs (hours); cost: the cost table (minutes, on idle cores); "
        "page: README.md again from the CSVs and runs.json; all: claim, cost and page",
    )
    parser.add_argument(
        "--smoke", action="store_true", help="2 epochs, 1 + 1 systems, 1 seed (a check only)"
    )
    args = parser.parse_args(argv)
    import torch

    torch.set_num_threads(1)
    commit = short_revision(ROOT)  # the code that runs, before anything is written
    args.out.mkdir(parents=True, exist_ok=True)
    runs_file = args.out / "runs.json"
    runs = json.loads(runs_file.read_text()) if runs_file.is_file() else {}
    command = "python benchmarks/accuracy/jacobian_regularisation.py"
    with tempfile.TemporaryDirectory() as tmp:
        if args.part in ("all", "claim"):
            diverged, stable, hyperparameters = subset()
            seeds = SEEDS
            if args.smoke:
                diverged, stable, seeds = diverged[:1], stable[:1], SEEDS[:1]
                hyperparameters = {s: {**h, "epochs": 2} for s, h in hyperparameters.items()}
            wall, load = time.perf_counter(), os.getloadavg()[0]
            partial = args.out / "jacobian_regularisation.partial.csv"
            partial_found = partial.is_file()
            rows = run_claim(Path(tmp), diverged, stable, hyperparameters, seeds, partial)
            write_csv(args.out / "jacobian_regularisation.csv", rows)
            partial.unlink(missing_ok=True)
            runs["claim"] = {
                "command": f"{command} --part claim",
                "commit": commit,
                "machine": platform.machine(),
                "load": f"load average {load:.2f} at the start, "
                f"{os.getloadavg()[0]:.2f} at the end",
                "wall": time.perf_counter() - wall,
                "resumed": partial_found,
                "seconds": arm_seconds(rows),
            }
        if args.part in ("all", "cost"):
            if args.smoke:
                NODE["epochs"] = RNN_COMMON["epochs"] = 2
            wall = time.perf_counter()
            write_csv(args.out / "cost.csv", run_cost(Path(tmp)))
            runs["cost"] = {
                "command": f"{command} --part cost",
                "commit": commit,
                "wall": time.perf_counter() - wall,
            }
    if args.part != "page":
        runs_file.write_text(json.dumps(runs, indent=1) + "\n")
    if "claim" not in runs or "cost" not in runs:
        print(f"{runs_file}: the page needs both parts; run the missing one with --part")
        return 0
    text = page(
        read_csv(args.out / "jacobian_regularisation.csv"),
        runs["claim"],
        read_csv(args.out / "cost.csv"),
        runs["cost"],
    )
    (args.out / "README.md").write_text(text + "\n")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
