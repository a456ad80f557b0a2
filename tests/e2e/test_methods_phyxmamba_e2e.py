"""PhyxMamba: a run stopped after every epoch (through pre-training, the probe and fine-tuning)
and resumed gives the uninterrupted model; the other PhyxMamba tests are in
unit/test_methods_phyxmamba.py."""

from __future__ import annotations

import torch

from dsrbench.methods.phyxmamba import PhyxMamba


def test_a_run_resumed_after_every_epoch_equals_an_uninterrupted_one(
    lorenz_splits, tmp_path
) -> None:
    """Checkpoints carry the stage state (best weights, plateau scheduler): stopping after
    every epoch (a budget of the seconds already spent) through pre-training, the probe and
    fine-tuning and resuming gives the uninterrupted model."""
    from dsrbench.methods import RunFiles

    hp = {**PhyxMamba.quick_hyperparameters, "pretrain_epochs": 3, "probe_epochs": 2}
    hp.update(finetune_epochs=2, batches_per_epoch=2)
    train, val = lorenz_splits["train"], lorenz_splits["val"]
    whole = PhyxMamba(**hp).fit(train, val, device="cpu", seed=0)
    run = RunFiles(checkpoint_dir=tmp_path / "ckpt", epoch_log=tmp_path / "log.csv")
    budget = 0.0
    for _ in range(7):  # each run's budget is the seconds already spent: one more epoch
        parts = PhyxMamba(**hp).fit(train, val, device="cpu", seed=0, budget=budget, run=run)
        budget = parts.training_result_.seconds
    assert parts.training_result_.epochs_run == 7
    assert parts.training_result_.resumed_from == 6
    for (name, a), (_, b) in zip(
        whole.net_.state_dict().items(), parts.net_.state_dict().items(), strict=True
    ):
        assert torch.equal(a, b), name
    history = [r["stage"] for r in whole.training_result_.history]
    assert history == [1, 1, 1, 1.5, 1.5, 2, 2]
