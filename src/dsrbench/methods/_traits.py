"""What the workflow plans by, per method, without importing the method modules (torch).

``needs_fit``: the method gets a training job (``Method.needs_fit``); ``uses_torch``: its
jobs ask for a GPU (``Method.uses_torch``); ``hyperparameters``: for the torch methods, the
names of ``Method.hyperparameters``, so that the config check needs no torch import (the
other methods' classes are built instead, which also checks values); ``pretrained_on``: the
data a method was pretrained on before it sees any of ours (``Method.pretrained_on``);
``fit_on_context``: its protocol fits it on each test context (``Method.fit_on_context``).
The table must match the classes (tests/test_chunks.py checks it): add a row when you add a
method.
"""

from __future__ import annotations

from typing import NamedTuple


class Traits(NamedTuple):
    """The class attributes of a method that planning needs."""

    needs_fit: bool
    uses_torch: bool
    #: hyperparameter names (torch methods); None: build the class to check them
    hyperparameters: frozenset[str] | None = None
    #: what the method was pretrained on before any dsrbench data: one of
    #: :data:`PRETRAINED_ON` (``"dysts"``: the test systems themselves, so its forecasts of
    #: them are not zero-shot)
    pretrained_on: str = "none"
    #: True when the method's protocol fits it on each test context (e.g. a trained
    #: zero-shot baseline refitted per context); False for the others
    fit_on_context: bool = False


#: the values of ``pretrained_on``: ``none`` (no pretraining: everything it knows comes from
#: our training split or the context), ``dysts`` (pretrained on the dysts systems, which are
#: our test systems), ``unknown`` (pretrained on data whose overlap with them is unknown)
PRETRAINED_ON = ("none", "dysts", "unknown")


_TRAINER = {"batch_size", "batches_per_epoch", "checkpoint_every", "epochs", "seq_len"}
_TRAINER |= {"lr_start", "lr_end", "validate_every"}


#: the hyperparameters every darts torch model has (dsrbench.methods._darts)
_DARTS_TORCH = {"batch_size", "input_chunk_length", "n_epochs", "output_chunk_length"}


def _darts_torch(*names: str) -> Traits:
    """The traits of a darts torch forecaster with ``names`` beyond :data:`_DARTS_TORCH`."""
    return Traits(
        needs_fit=True, uses_torch=True, hyperparameters=frozenset(_DARTS_TORCH | set(names))
    )


#: method name -> its traits (the classes' ``needs_fit`` and ``uses_torch``)
TRAITS: dict[str, Traits] = {
    "alrnn": Traits(
        needs_fit=True,
        uses_torch=True,
        hyperparameters=frozenset(
            _TRAINER
            | {"code_steps", "dtype", "forcing_interval", "latent_dim", "noise_level", "relu_units"}
        ),
    ),
    "edmd": Traits(needs_fit=True, uses_torch=False),
    "esn": Traits(needs_fit=True, uses_torch=False),
    "koopman_ae": Traits(
        needs_fit=True,
        uses_torch=True,
        hyperparameters=frozenset(
            _TRAINER - {"seq_len"}
            | {"aux_hidden", "dtype", "hidden", "l2_weight", "linf_weight"}
            | {"num_complex_pairs", "num_real", "num_shifts", "num_shifts_middle", "recon_weight"}
        ),
    ),
    "mean": Traits(needs_fit=True, uses_torch=False),
    "node": Traits(
        needs_fit=True,
        uses_torch=True,
        hyperparameters=frozenset(
            _TRAINER
            | {"atol", "field", "hidden_dim", "init_std", "linear_skip", "method", "n_blocks"}
            | {"dtype", "optimizer", "rtol", "substeps"}
        ),
    ),
    "nvar": Traits(needs_fit=True, uses_torch=False),
    "persistence": Traits(needs_fit=False, uses_torch=False),
    # Zhang & Gilpin 2025: copies from the context, no training
    "context_parroting": Traits(needs_fit=False, uses_torch=False),
    "phyxmamba": Traits(
        needs_fit=True,
        uses_torch=True,
        hyperparameters=frozenset(
            {"batch_size", "batches_per_epoch", "checkpoint_every", "d_conv", "d_model"}
            | {"d_state", "delay", "dropout", "dtype", "embedding_dim", "expand"}
            | {"finetune_epochs", "hier_layers", "lookback", "lr", "lr_finetune", "mmd_alpha"}
            | {"cond_mmd_weight", "mmd_points", "mmd_sigmas", "mmd_weight", "mtp_heads"}
            | {"mtp_weight", "plateau_factor", "plateau_patience", "pretrain_epochs"}
            | {"probe_epochs", "rollout_steps", "token_size", "weight_decay"}
        ),
    ),
    "shplrnn_gtf": Traits(
        needs_fit=True,
        uses_torch=True,
        hyperparameters=frozenset(
            _TRAINER
            | {"alpha", "alpha_decay", "alpha_mode", "alpha_update_every", "clipped", "dtype"}
            | {"hidden_dim", "latent_dim", "noise_level"}
        ),
    ),
    "sindy": Traits(needs_fit=True, uses_torch=False),
    "var": Traits(needs_fit=True, uses_torch=False),
    # the darts forecasters of Gilpin 2023 (dsrbench.methods._darts)
    "arima": Traits(needs_fit=True, uses_torch=False),
    "autoarima": Traits(needs_fit=True, uses_torch=False),
    "dlinear": _darts_torch("kernel_size"),
    "exponential_smoothing": Traits(needs_fit=True, uses_torch=False),
    "fft": Traits(needs_fit=True, uses_torch=False),
    "four_theta": Traits(needs_fit=True, uses_torch=False),
    "kalman": Traits(needs_fit=True, uses_torch=False),
    "linear_regression": Traits(needs_fit=True, uses_torch=False),
    "lstm": _darts_torch("dropout", "hidden_dim", "model", "n_rnn_layers", "training_length"),
    "naive_drift": Traits(needs_fit=True, uses_torch=False),
    "naive_mean": Traits(needs_fit=True, uses_torch=False),
    "naive_seasonal": Traits(needs_fit=True, uses_torch=False),
    "nbeats": _darts_torch(
        "dropout", "generic_architecture", "layer_widths", "num_blocks", "num_layers", "num_stacks"
    ),
    "nhits": _darts_torch("dropout", "layer_widths", "num_blocks", "num_layers", "num_stacks"),
    "nlinear": _darts_torch(),
    "random_forest": Traits(needs_fit=True, uses_torch=False),
    "rnn": _darts_torch("dropout", "hidden_dim", "model", "n_rnn_layers"),
    "tbats": Traits(needs_fit=True, uses_torch=False),
    "tcn": _darts_torch("dilation_base", "dropout", "kernel_size", "num_filters"),
    "theta": Traits(needs_fit=True, uses_torch=False),
    # a trained baseline of Zhang & Gilpin 2025 beside Gilpin 2023's
    "tide": _darts_torch(
        "decoder_output_dim",
        "dropout",
        "hidden_size",
        "num_decoder_layers",
        "num_encoder_layers",
        "temporal_decoder_hidden",
        "use_layer_norm",
    ),
    "transformer": _darts_torch(
        "d_model", "dim_feedforward", "dropout", "nhead", "num_decoder_layers", "num_encoder_layers"
    ),
    "xgboost": Traits(needs_fit=True, uses_torch=False),
}
