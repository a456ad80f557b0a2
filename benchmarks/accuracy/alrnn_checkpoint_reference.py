"""Score the AL-RNN authors' shipped Lorenz-63 checkpoints with dsrbench's metrics.

    python benchmarks/accuracy/alrnn_checkpoint_reference.py --repo PATH_TO_ALRNN_DSR_CLONE

DurstewitzLab/ALRNN-DSR ships two trained AL-RNNs (``alrnn_python/models/lorenz_m20_p2``:
M = 20, P = 2; ``lorenz_m30_p10``: M = 30, P = 10; torch state dicts A, W, h, B) with the
standardised Lorenz-63 test series they were evaluated on (``alrnn_python/lorenz63_test.npy``,
100 000 x 3, dt = 0.01). Both are GPL-3.0: nothing of them ships with dsrbench; this script
reads them from a clone (``fetch github:DurstewitzLab/ALRNN-DSR``, or any checkout given by
``--repo``).

Each model runs under dsrbench's DSR protocol (configs/dsr.yaml): the first 100 test points
read with pure teacher forcing (the observed units set to the data at every step;
z_0 = B' x_0 with its first 3 units x_0, as the authors' model), then 125 000 free steps, the
first 25 000 dropped; D_stsp (30 bins per dimension over the truth's range +- 10 % of its
sd, Laplace smoothing 1e-5) and D_H (sigma = 20) against the first 100 000 test points, the
number of linear subregions the free run visits (sign patterns of the P ReLU units), and
the floor of the same data: the test series against an independent Lorenz-63 run. The
result goes to ``src/dsrbench/data/published/alrnn_checkpoint_scores.csv``, the reference
rows of the published-numbers table (``published_table``).
"""

from __future__ import annotations

import argparse
import io
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from dsrbench.integration import simulate
from dsrbench.metrics.attractor import power_spectrum_distance, state_space_divergence

DATA = Path(__file__).resolve().parents[2] / "src/dsrbench/data/published"
OUT = DATA / "alrnn_checkpoint_scores.csv"
MODELS = {"lorenz_m20_p2": 2, "lorenz_m30_p10": 10}
T, DISCARD, CONTEXT = 100_000, 25_000, 100


def _git_bytes(repo: Path, path: str) -> tuple[bytes, str]:
    commit = subprocess.run(
        ["git", "-C", str(repo), "rev-parse", "HEAD"], capture_output=True, text=True, check=True
    ).stdout.strip()
    blob = subprocess.run(
        ["git", "-C", str(repo), "show", f"HEAD:{path}"], capture_output=True, check=True
    ).stdout
    return blob, commit


def _load_state(blob: bytes) -> dict[str, np.ndarray]:
    import torch

    state = torch.load(io.BytesIO(blob), map_location="cpu", weights_only=True)
    return {k: v.double().numpy() for k, v in state.items()}


def free_run(p: dict[str, np.ndarray], relu: int, context: np.ndarray, steps: int) -> np.ndarray:
    """The AL-RNN z' = A z + W phi(z) + h (ReLU on the last ``relu`` units) after reading
    ``context`` with the observed units forced to the data; returns the latent free run."""
    n = context.shape[1]
    z = context[:1] @ p["B"]
    z[:, :n] = context[:1]

    def step(z: np.ndarray) -> np.ndarray:
        phi = z.copy()
        phi[:, -relu:] = np.maximum(z[:, -relu:], 0.0)
        return p["A"] * z + phi @ p["W"].T + p["h"]

    for t in range(1, len(context)):
        z = step(z)
        z[:, :n] = context[t : t + 1]
    out = np.empty((steps, z.shape[1]))
    for t in range(steps):
        z = step(z)
        out[t] = z[0]
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repo", type=Path, required=True, help="a clone of ALRNN-DSR")
    args = parser.parse_args(argv)
    if not (args.repo / "HEAD").exists() and not (args.repo / ".git").exists():
        print(f"error: {args.repo} is not a git repository", file=sys.stderr)
        return 2
    blob, commit = _git_bytes(args.repo, "alrnn_python/lorenz63_test.npy")
    test = np.load(io.BytesIO(blob))
    truth = test[:T]
    # the floor: an independent Lorenz-63 run, standardised to the test series' moments
    other = simulate("Lorenz", 2 * T, pts_per_period=150, rtol=1e-10, atol=1e-10)[0, T:]
    other = (other - other.mean(0)) / other.std(0) * test.std(0) + test.mean(0)
    rows = [
        {
            "model": "floor (test vs an independent Lorenz-63 run)",
            "M": None,
            "P": None,
            "D_stsp": float(state_space_divergence(truth, other, n_bins=30).value),
            "D_H": float(power_spectrum_distance(truth, other)),
            "subregions_visited": None,
            "where": f"DurstewitzLab/ALRNN-DSR@{commit[:7]}:alrnn_python/lorenz63_test.npy",
        }
    ]
    for name, relu in MODELS.items():
        path = f"alrnn_python/models/{name}"
        p = _load_state(_git_bytes(args.repo, path)[0])
        run = free_run(p, relu, test[:CONTEXT], T + DISCARD)[DISCARD:]
        gen = run[:, : test.shape[1]]
        codes = {tuple(r) for r in (run[:, -relu:] > 0).astype(int)}
        rows.append(
            {
                "model": name,
                "M": int(p["A"].shape[0]),
                "P": relu,
                "D_stsp": float(state_space_divergence(truth, gen, n_bins=30).value),
                "D_H": float(power_spectrum_distance(truth, gen)),
                "subregions_visited": len(codes),
                "where": f"DurstewitzLab/ALRNN-DSR@{commit[:7]}:{path}",
            }
        )
    table = pd.DataFrame(rows)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    table.to_csv(OUT, index=False, float_format="%.6g")
    print(table.to_string(index=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
