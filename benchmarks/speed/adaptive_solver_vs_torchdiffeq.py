"""Our Dormand-Prince 5(4) solver (``dsrbench.methods._adaptive_solver``) against torchdiffeq's
``dopri5``, side by side in one process: seconds, NFE, accepted steps and the largest
difference of the solutions, for Lorenz-63 and for a small neural vector field (``node``'s
default field: Gilpin 2023's 30-unit residual MLP, weights from N(0, 0.1^2)), forward
(``torch.no_grad``) and forward plus backward (the training case). Run on one thread:

    OMP_NUM_THREADS=1 PYTHONPATH=src .venv/bin/python \\
        benchmarks/speed/adaptive_solver_vs_torchdiffeq.py [--repeats 5]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import torch
from torchdiffeq import odeint

from dsrbench.methods._adaptive_solver import dopri5_solve
from dsrbench.methods.node import VectorField


class Counted(torch.nn.Module):
    """Counts the evaluations of the wrapped field ``f(t, y)``."""

    def __init__(self, f: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]) -> None:
        super().__init__()
        self.f, self.calls = f, 0

    def forward(self, t: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        return self.f(t, y)


def lorenz(t: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    x, v, z = y[..., 0], y[..., 1], y[..., 2]
    return torch.stack([10 * (v - x), x * (28 - z) - v, x * v - 8 / 3 * z], dim=-1)


def best_of(run: Callable[[], torch.Tensor], repeats: int) -> tuple[float, torch.Tensor]:
    """Fastest of ``repeats`` runs (seconds) and the last result."""
    best, out = float("inf"), None
    for _ in range(repeats):
        start = time.perf_counter()
        out = run()
        best = min(best, time.perf_counter() - start)
    return best, out


def compare(name: str, field: torch.nn.Module, y0, t, rtol, atol, backward, repeats) -> dict:
    params = [p for p in field.parameters() if p.requires_grad]

    def ours() -> torch.Tensor:
        ys = dopri5_solve(field, y0, t, rtol=rtol, atol=atol).ys
        if backward:
            torch.autograd.grad(ys.pow(2).sum(), params or [y0])
        return ys.detach()

    def theirs() -> torch.Tensor:
        ys = odeint(field, y0, t, method="dopri5", rtol=rtol, atol=atol)
        if backward:
            torch.autograd.grad(ys.pow(2).sum(), params or [y0])
        return ys.detach()

    row = {"case": name, "mode": "forward+backward" if backward else "forward"}
    with torch.set_grad_enabled(backward):
        for label, run in (("torchdiffeq", theirs), ("ours", ours)):
            field.calls = 0
            seconds, ys = best_of(run, repeats)
            row[f"{label}_s"], row[f"{label}_nfe"] = seconds, field.calls // repeats
            row[f"{label}_ys"] = ys
    row["max_diff"] = float((row.pop("ours_ys") - row.pop("torchdiffeq_ys")).abs().max())
    row["ratio"] = row["ours_s"] / row["torchdiffeq_s"]
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5, help="timed runs (the best counts)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    gen = torch.Generator().manual_seed(0)
    rows = []
    # Lorenz-63, 64 initial states on the attractor's scale, 10 time units, float64
    y0 = torch.randn(64, 3, dtype=torch.float64, generator=gen) * 8 + torch.tensor([0, 0, 25.0])
    t = torch.linspace(0, 10, 101, dtype=torch.float64)
    for rtol, atol in ((1e-4, 1e-4), (1e-8, 1e-8)):
        field = Counted(lorenz)
        name = f"Lorenz-63, B=64, T=10, rtol={rtol:g}"
        rows.append(compare(name, field, y0, t, rtol, atol, False, args.repeats))
    # node's default field on its training batch (128 windows of 15 points, rtol 1e-4), as
    # initialised (std 0.1) and with larger weights (std 0.5: a livelier field, more steps)
    for dtype, std in ((torch.float32, 0.1), (torch.float64, 0.1), (torch.float32, 0.5)):
        torch.manual_seed(0)
        net = VectorField(3, 30, blocks=1, linear_skip=False, mlp=True)
        net.initialise(std)
        field = Counted(net.to(dtype))
        x0 = torch.randn(128, 3, dtype=dtype, generator=gen)
        t = torch.arange(15, dtype=dtype)
        name = f"node field (MLP 30, std {std}), B=128, 14 steps, {str(dtype)[6:]}, rtol=1e-4"
        for backward in (False, True):
            rows.append(compare(name, field, x0, t, 1e-4, 1e-4, backward, args.repeats))
    print(
        "| case | mode | torchdiffeq s | ours s | ratio ours/torchdiffeq | NFE torchdiffeq "
        "| NFE ours | max abs difference |"
    )
    print("|" + " --- |" * 8)
    for r in rows:
        print(
            f"| {r['case']} | {r['mode']} | {r['torchdiffeq_s']:.4f} | {r['ours_s']:.4f} | "
            f"{r['ratio']:.2f} | {r['torchdiffeq_nfe']} | {r['ours_nfe']} | {r['max_diff']:.1e} |"
        )


if __name__ == "__main__":
    main()
