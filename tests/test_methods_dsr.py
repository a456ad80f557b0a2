"""shPLRNN + GTF, AL-RNN, the neural ODE and the shared training loop (real small fits)."""

from __future__ import annotations

import csv
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from dsrbench import methods
from dsrbench.methods import RunFiles
from dsrbench.methods.alrnn import sparse_tf_rollout, symbolic_code_of
from dsrbench.methods.shplrnn_gtf import alpha_estimate, gtf_rollout

TINY = {"epochs": 6, "batches_per_epoch": 3, "seq_len": 20, "validate_every": 3}


def _plrnn(**kw):
    cls = methods.get("shplrnn_gtf")
    return cls(**{**cls.quick_hyperparameters, **TINY, "checkpoint_every": 1, **kw})


# -- generalized teacher forcing ------------------------------------------------------------
def _random_step(m: int = 4, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    w = torch.randn(m, m, generator=g, dtype=torch.float64) * 0.5
    return lambda z: torch.tanh(z @ w.T) + 0.1


def test_gtf_alpha_one_is_pure_teacher_forcing_and_zero_a_free_run() -> None:
    step = _random_step()
    x = torch.randn(2, 15, 2, dtype=torch.float64)
    z0 = torch.cat([x[:, 0], torch.zeros(2, 2, dtype=torch.float64)], 1)
    _, forced = gtf_rollout(step, z0, x, alpha=1.0)
    torch.testing.assert_close(forced[..., :2], x[:, 1:], rtol=0, atol=0)
    predicted, _ = gtf_rollout(step, z0, x, alpha=0.0)
    z, free = z0, []
    for _ in range(14):
        z = step(z)
        free.append(z)
    torch.testing.assert_close(predicted, torch.stack(free, 1), rtol=0, atol=0)
    # in between: the observed units are the convex combination
    predicted, forced = gtf_rollout(step, z0, x, alpha=0.3)
    torch.testing.assert_close(forced[..., :2], 0.7 * predicted[..., :2] + 0.3 * x[:, 1:])


def test_adaptive_alpha_is_one_minus_inverse_geometric_mean_of_spectral_norms() -> None:
    jac = torch.randn(50, 3, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    norms = [np.linalg.svd(j.numpy(), compute_uv=False)[0] for j in jac]
    g = float(np.exp(np.mean(np.log(norms))))
    assert alpha_estimate(jac) == pytest.approx(max(0.0, 1 - 1 / g), rel=1e-10)
    assert alpha_estimate(0.1 * torch.eye(3, dtype=torch.float64)[None]) == 0.0


def test_shplrnn_jacobian_of_both_variants_matches_finite_differences(lorenz_splits) -> None:
    for clipped in (False, True):
        model = _plrnn(clipped=clipped, epochs=2).fit(lorenz_splits["train"], device="cpu")
        z = np.random.default_rng(0).normal(size=(4, 3))
        jac = model.jacobian(z)
        for j in range(3):
            dz = np.zeros_like(z)
            dz[:, j] = 1e-6
            fd = (model.step(z + dz) - model.step(z - dz)) / 2e-6
            np.testing.assert_allclose(jac[:, :, j], fd, rtol=1e-5, atol=1e-7)


def test_clipped_shplrnn_is_bounded_by_its_linear_part(lorenz_splits) -> None:
    """ReLU(W2 z + h2) - ReLU(W2 z) is bounded by |h2|, so far from the origin the clipped
    map is A z + O(1) (Hess et al. 2023)."""
    model = _plrnn(clipped=True, epochs=2).fit(lorenz_splits["train"], device="cpu")
    z = 1e6 * np.random.default_rng(2).normal(size=(5, 3))
    w = model.weights_
    bound = np.abs(w["W1"]) @ np.abs(w["h2"]) + np.abs(w["h"])
    assert np.all(np.abs(model.step(z) - w["A"] * z) <= bound + 1e-6)


# -- AL-RNN ---------------------------------------------------------------------------------
def test_alrnn_with_no_relu_units_is_linear(lorenz_splits) -> None:
    cls = methods.get("alrnn")
    model = cls(**{**cls.quick_hyperparameters, **TINY, "relu_units": 0}).fit(
        lorenz_splits["train"], device="cpu"
    )
    rng = np.random.default_rng(0)
    z1, z2 = rng.normal(size=(1, 10)), rng.normal(size=(1, 10))
    h = model.weights_["h"]
    lhs = model.step(2.0 * z1 - 3.0 * z2) - h
    np.testing.assert_allclose(
        lhs, 2.0 * (model.step(z1) - h) - 3.0 * (model.step(z2) - h), atol=1e-12
    )
    jac = model.jacobian(rng.normal(size=(3, 10)))
    np.testing.assert_allclose(jac[0], jac[1], atol=0)  # one linear map everywhere
    assert model.symbolic_code()["n_regions"] == 1


def test_sparse_teacher_forcing_forces_every_tau_steps_only() -> None:
    calls = []

    def step(z):
        calls.append(z.clone())
        return z + 1.0

    x = torch.arange(2 * 13 * 2, dtype=torch.float64).reshape(2, 13, 2) * 100
    z0 = torch.zeros(2, 3, dtype=torch.float64)
    sparse_tf_rollout(step, z0, x, tau=4)
    for t, z_in in enumerate(calls[1:], start=1):  # the input of step t + 1
        if t % 4 == 0:
            torch.testing.assert_close(z_in[:, :2], x[:, t], rtol=0, atol=0)
        else:
            assert not torch.equal(z_in[:, :2], x[:, t])


def test_symbolic_code_of_a_known_sequence() -> None:
    signs = np.array([[0, 1], [0, 1], [1, 1], [0, 1], [1, 1], [1, 1]], dtype=bool)
    code = symbolic_code_of(signs)
    assert code["regions"] == ["01", "11"]
    np.testing.assert_allclose(code["frequencies"], [0.5, 0.5])
    np.testing.assert_allclose(code["transitions"], [[1 / 3, 2 / 3], [1 / 2, 1 / 2]])


def test_trained_alrnn_saves_its_symbolic_code(lorenz_splits, tmp_path) -> None:
    cls = methods.get("alrnn")
    model = cls(**{**cls.quick_hyperparameters, **TINY}).fit(
        lorenz_splits["train"], lorenz_splits["val"], device="cpu"
    )
    code = model.symbolic_code()
    assert 1 <= code["n_regions"] <= 2**2 and code["steps"] == 2000
    assert sum(code["frequencies"]) == pytest.approx(1.0)
    rows = np.asarray(code["transitions"]).sum(axis=1)
    np.testing.assert_allclose(rows[rows > 0], 1.0)
    model.save(tmp_path / "m")
    assert cls.load(tmp_path / "m").symbolic_code() == code


# -- neural ODE -----------------------------------------------------------------------------
def _linear_node(m: np.ndarray, method: str = "rk4"):
    from dsrbench.methods.node import VectorField

    model = methods.get("node")(method=method, substeps=20, hidden_dim=4)
    model.mean_, model.std_ = np.zeros(2), np.ones(2)
    field = VectorField(2, 4).to(torch.float64)
    with torch.no_grad():
        field.linear.weight.copy_(torch.as_tensor(m))
        field.linear.bias.zero_()
        field.mlp[-1].weight.zero_()
        field.mlp[-1].bias.zero_()
    model.field_ = field.eval()
    return model


def test_node_with_a_linear_field_follows_the_matrix_exponential() -> None:
    from scipy.linalg import expm

    m = np.array([[-0.1, 1.0], [-1.0, -0.1]])
    x0 = np.array([[1.0, 0.5]])
    for method in ("rk4", "dopri5"):
        model = _linear_node(m, method)
        pred = model.forecast(x0[:, None], 30)[0]
        exact = np.stack([expm(m * k) @ x0[0] for k in range(1, 31)])
        np.testing.assert_allclose(pred, exact, atol=1e-6 if method == "rk4" else 1e-3)
    model = _linear_node(m)
    np.testing.assert_allclose(model.jacobian(x0)[0], expm(m), atol=1e-8)


def test_node_divergence_gives_non_finite_values_not_an_exception() -> None:
    model = _linear_node(np.array([[3.0, 0.0], [0.0, 3.0]]), "dopri5")
    out = model.forecast(np.array([[[1e3, 1e3]]]), 400)
    assert out.shape == (1, 400, 2) and not np.all(np.isfinite(out))


# -- the training loop: logs, checkpoints, resume ---------------------------------------------
def test_epoch_log_has_the_documented_columns(lorenz_splits, tmp_path) -> None:
    run = RunFiles(checkpoint_dir=tmp_path / "ckpt", epoch_log=tmp_path / "epochs.csv")
    _plrnn().fit(lorenz_splits["train"], lorenz_splits["val"], device="cpu", run=run)
    rows = list(csv.DictReader((tmp_path / "epochs.csv").open()))
    assert list(rows[0]) == ["epoch", "loss", "lr", "alpha", "val_stsp", "seconds"]
    assert [int(r["epoch"]) for r in rows] == list(range(1, 7))
    assert np.isfinite(float(rows[2]["val_stsp"])) and rows[0]["val_stsp"] == "nan"
    lrs = [float(r["lr"]) for r in rows]
    assert lrs == sorted(lrs, reverse=True) and lrs[0] == pytest.approx(3e-3)


def test_budget_stop_then_rerun_resumes_and_matches_an_uninterrupted_run(
    lorenz_splits, tmp_path
) -> None:
    whole = _plrnn().fit(lorenz_splits["train"], lorenz_splits["val"], device="cpu")
    run = RunFiles(checkpoint_dir=tmp_path / "ckpt", epoch_log=tmp_path / "epochs.csv")
    first = _plrnn().fit(
        lorenz_splits["train"], lorenz_splits["val"], device="cpu", run=run, budget=1e-9
    )
    assert first.training_result_.stopped_by_budget and first.training_result_.epochs_run == 1
    # a stray temporary file from a write killed half-way is ignored
    (tmp_path / "ckpt" / "checkpoint.pt.tmp-999").write_bytes(b"partial")
    again = _plrnn().fit(lorenz_splits["train"], lorenz_splits["val"], device="cpu", run=run)
    assert again.training_result_.resumed_from == 1 and again.training_result_.epochs_run == 6
    for key, value in whole.weights_.items():
        np.testing.assert_array_equal(again.weights_[key], value)
    epochs = [int(r["epoch"]) for r in csv.DictReader((tmp_path / "epochs.csv").open())]
    assert epochs == list(range(1, 7))


def test_a_killed_training_job_resumes_from_its_checkpoint(lorenz_store, tmp_path) -> None:
    """SIGKILL a real `dsrbench train` after its first checkpoint; the rerun continues."""
    import json

    record = tmp_path / "dataset.json"
    record.write_text(
        json.dumps(
            {"system": "Lorenz", "dataset": "methods", "status": "ok", "path": str(lorenz_store)}
        )
    )
    params = {
        "epochs": 40,
        "batches_per_epoch": 5,
        "seq_len": 30,
        "checkpoint_every": 1,
        "validate_every": 100,
    }
    from conftest import LORENZ_SETTING

    cfg = json.dumps(
        {
            "systems": ["Lorenz"],
            "datasets": {"methods": LORENZ_SETTING},
            "training": {"device": "cpu"},
            "evaluation": {"hyperparameters": {"shplrnn_gtf": params}},
        }
    )
    ckpt, log = tmp_path / "ckpt", tmp_path / "epochs.csv"
    cmd = [
        sys.executable,
        "-m",
        "dsrbench.cli",
        "train",
        "--config-json",
        cfg,
        "--dataset-record",
        str(record),
        "--method",
        "shplrnn_gtf",
        "--out",
        str(tmp_path / "model"),
        "--record",
        str(tmp_path / "rec.json"),
        "--checkpoint-dir",
        str(ckpt),
        "--epoch-log",
        str(log),
    ]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while time.time() < deadline and not (ckpt / "checkpoint.pt").exists():
        assert proc.poll() is None, "dsrbench train exited before its first checkpoint"
        time.sleep(0.2)
    time.sleep(0.5)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not (tmp_path / "model").exists() and not (tmp_path / "rec.json").exists()
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    rec = json.loads((tmp_path / "rec.json").read_text())
    assert rec["status"] == "ok", rec
    assert 1 <= rec["resumed_from_epoch"] < 40 and rec["epochs_run"] == 40
    epochs = [int(r["epoch"]) for r in csv.DictReader(log.open())]
    assert epochs == list(range(1, 41))
    assert Path(rec["model_path"]).is_dir()


def test_device_auto_works_without_a_gpu() -> None:
    from dsrbench.training import resolve_device

    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert resolve_device("auto").type == expected
    if not torch.cuda.is_available():
        with pytest.warns(UserWarning, match="CUDA is unavailable"):
            assert resolve_device("cuda").type == "cpu"
