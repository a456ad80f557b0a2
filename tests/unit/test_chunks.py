"""Chunk jobs: the systems of a config cut into chunks, one simulate / train / predict job
per chunk, each system with its own record carrying a job_key; a rerun redoes only the
systems not finished with the same inputs, and a failing system does not stop its chunk."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from dsrbench import layout, methods
from dsrbench.cli import main
from dsrbench.pipeline import plan, records
from dsrbench.pipeline.config import load_config
from dsrbench.pipeline.plan import chunk_id, system_chunks
from dsrbench.pipeline.slices import cut_chunk
from dsrbench.systems import resolve_systems

DATASET = "methods"  # the dataset name of the conftest's Lorenz store
TRAIN_JOB = {
    "hyperparameters": {},
    "training": {"device": "cpu", "budget_seconds": None, "train_length": None, "val_length": None},
}
#: the config of the chunk jobs here (their datasets: the records of _dataset_records)
CONFIG = {
    "systems": ["Chen", "Lorenz"],
    "datasets": {
        DATASET: {"pts_per_period": 20, "length": 100, "n_train": 1, "n_val": 1, "n_test": 1}
    },
    "evaluation": {
        "methods": ["mean"],
        "seeds": [0, 1],
        "context_length": 10,
        "horizon": 20,
        "contexts_per_trajectory": 1,
        "long_run_length": 200,
    },
    "training": {"device": "cpu"},
}


def _resolved(directory: Path, config: dict = CONFIG) -> Path:
    """``config`` validated and written as a resolved config (what the workflow does)."""
    return plan.write_resolved_config(load_config(config), directory / "config.resolved.json")


#: the methods that set ``has_jacobian = True`` by hand before it was derived from an
#: override of ``jacobian`` (all the others had False)
HAD_JACOBIAN = {"alrnn", "edmd", "esn", "havok", "koopman_ae", "node", "nvar", "shplrnn_gtf", "var"}


def test_what_planning_reads_from_source_matches_the_method_classes():
    """:func:`methods.traits` reads each class's literal attributes with ``ast`` (bases
    included) and equals what the imported class says; a computed value would raise here
    (TraitsError), so authors keep them literal."""
    for name in methods.available():
        cls = methods.get(name)
        traits = methods.traits(name)
        assert (traits.needs_fit, traits.uses_torch) == (cls.needs_fit, cls.uses_torch), name
        assert traits.hyperparameters == frozenset(cls.hyperparameters), name
        # pretraining (a model pretrained on the test systems is flagged) and per-context fits
        assert traits.pretrained_on == cls.pretrained_on, name
        assert traits.pretrained_on in methods.PRETRAINED_ON, name
        assert traits.fit_on_context is cls.fit_on_context, name
        assert traits.family == getattr(cls, "family", None), name
        assert (traits.label, traits.color) == (cls.label, cls.color), name
        assert traits.has_jacobian is cls.has_jacobian, name
        assert traits.irregular_sampling is cls.irregular_sampling, name
    assert methods.traits("truth") == methods.Traits(needs_fit=False, uses_torch=False)
    with pytest.raises(methods.UnknownMethodError, match="did you mean"):
        methods.traits("alrn")


def test_has_jacobian_is_derived_from_an_override_of_jacobian():
    derived = {name for name in methods.available() if methods.get(name).has_jacobian}
    assert derived == HAD_JACOBIAN

    class WithJacobian(methods.Method):
        name = "with_jacobian"

        def jacobian(self, state):
            return state

    class Inherits(WithJacobian):
        name = "inherits"

    assert WithJacobian.has_jacobian and Inherits.has_jacobian
    assert not methods.Method.has_jacobian and not methods.get("persistence").has_jacobian


def _module(root: Path, name: str, source: str) -> str:
    (root / f"{name}.py").write_text(source)
    return name


def test_bases_are_followed_and_computed_values_refused(tmp_path, monkeypatch):
    """Bases are followed through the module's imports into dsrbench's method modules
    (their source, not an import); a trait that is not a literal fails naming its line."""
    from dsrbench.methods._declared import TraitsError, read_declared

    monkeypatch.syspath_prepend(str(tmp_path))
    head = "from dsrbench.methods._latent_rnn import LatentRNN\n"
    head += "from dsrbench.methods import base\n\n"
    _module(
        tmp_path,
        "probe_ok",
        head + "class Mid(LatentRNN):\n    label = 'mid'\n\n"
        "class Probe(Mid):\n    name = 'probe'\n    hyperparameters = {'a': 1, 'b': [2]}\n\n"
        "class Other(base.Method):\n    name = 'other'\n    needs_fit = False\n",
    )
    probe = read_declared("probe", "probe_ok")
    assert probe == methods.Traits(
        needs_fit=True,  # Method's default
        uses_torch=True,  # LatentRNN's, two bases up
        hyperparameters=frozenset({"a", "b"}),
        label="mid",
        has_jacobian=True,  # LatentRNN defines jacobian
    )
    assert read_declared("other", "probe_ok", "Other").needs_fit is False
    assert "probe_ok" not in sys.modules
    _module(
        tmp_path,
        "probe_computed",
        "from dsrbench.methods.base import Method\nTORCH = True\n\n"
        "class Probe(Method):\n    name = 'probe'\n    uses_torch = TORCH\n",
    )
    with pytest.raises(TraitsError, match=r"probe_computed.py:6: Probe.uses_torch must be a lit"):
        read_declared("probe", "probe_computed")
    _module(
        tmp_path,
        "probe_dict",
        "from dsrbench.methods.base import Method\nCOMMON = {'a': 1}\n\n"
        "class Probe(Method):\n    name = 'probe'\n    hyperparameters = {**COMMON, 'b': 2}\n",
    )
    with pytest.raises(TraitsError, match=r"probe_dict.py:6: Probe.hyperparameters must be a dict"):
        read_declared("probe", "probe_dict")


def test_systems_are_cut_into_consecutive_sorted_chunks():
    base = {
        "datasets": {
            "a": {"pts_per_period": 20, "length": 100, "n_train": 1, "n_val": 1, "n_test": 1}
        }
    }
    cfg = load_config({**base, "systems": ["Rossler", "Lorenz", "Chen", "Aizawa", "Thomas"]})
    assert cfg["chunking"] == {"systems_per_job": 16}  # the documented default
    assert system_chunks(cfg) == {"c000": ["Aizawa", "Chen", "Lorenz", "Rossler", "Thomas"]}
    cfg = load_config({**base, "systems": cfg["systems"], "chunking": {"systems_per_job": 2}})
    assert system_chunks(cfg) == {
        "c000": ["Aizawa", "Chen"],
        "c001": ["Lorenz", "Rossler"],
        "c002": ["Thomas"],
    }
    everything = system_chunks(load_config({**base, "systems": "all"}))
    assert list(everything) == [chunk_id(i) for i in range(9)]  # ceil(135 / 16)
    flat = [s for members in everything.values() for s in members]
    assert flat == sorted(resolve_systems("all")) and len(flat) == 135
    assert max(map(len, everything.values())) == 16


def test_the_job_key_follows_the_slice_the_names_and_the_upstream_records():
    up = {"status": "ok", "path": "x.zarr", "wall_time_s": 1.0}
    key = records.job_key(TRAIN_JOB, up, system="Lorenz", seed=0)
    assert key == records.job_key(
        json.loads(json.dumps(TRAIN_JOB)), dict(up), seed=0, system="Lorenz"
    )
    assert key != records.job_key(TRAIN_JOB, {**up, "wall_time_s": 2.0}, system="Lorenz", seed=0)
    assert key != records.job_key(TRAIN_JOB, up, system="Lorenz", seed=1)
    assert key != records.job_key(
        {**TRAIN_JOB, "hyperparameters": {"x": 1}}, up, system="Lorenz", seed=0
    )


def _dataset_records(results: Path, store: Path, bad_store: Path) -> None:
    """Dataset records of Lorenz (the conftest store) and of Chen pointing to a store whose
    data hold a NaN (its models fail), at their layout paths."""
    for system, path in (("Lorenz", store), ("Chen", bad_store)):
        rec = {"system": system, "dataset": DATASET, "status": "ok", "reason": None}
        layout.dataset_record(results, DATASET, system).parent.mkdir(parents=True, exist_ok=True)
        layout.dataset_record(results, DATASET, system).write_text(
            json.dumps({**rec, "path": str(path)})
        )


def _train(results: Path, method: str = "mean") -> int:
    chunk = layout.model_chunk(results, DATASET, method, "c000")
    return main(
        [
            "train-chunk",
            "--resolved-config", str(_resolved(results.parent)),
            "--dataset", DATASET,
            "--chunk", "c000",
            "--method", method,
            "--results-dir", str(results),
            "--chunk-record", str(chunk),
        ]
    )  # fmt: skip


def _mtimes(results: Path, kind: str) -> dict[tuple, int]:
    return {
        (f.names["system"], f.names["seed"]): os.stat(f.path).st_mtime_ns
        for f in layout.find(results, kind)
    }


def test_a_failing_system_is_recorded_and_the_chunk_finishes(
    lorenz_store, lorenz_nan_store, tmp_path
):
    results = tmp_path / "results"
    _dataset_records(results, lorenz_store, lorenz_nan_store)
    assert _train(results) == 0
    chunk = json.loads(layout.model_chunk(results, DATASET, "mean", "c000").read_text())
    assert chunk["statuses"] == {"failed": 2, "ok": 2} and chunk["systems"] == ["Chen", "Lorenz"]
    paths = records.record_paths([layout.model_chunk(results, DATASET, "mean", "c000")])
    assert paths == [
        layout.model_record(results, DATASET, "mean", s, k)
        for s in ("Chen", "Lorenz")
        for k in (0, 1)
    ]
    for seed in (0, 1):
        chen = records.read_record(layout.model_record(results, DATASET, "mean", "Chen", seed))
        assert chen["status"] == "failed" and chen["reason"] and chen["job_key"]
        lorenz = records.read_record(layout.model_record(results, DATASET, "mean", "Lorenz", seed))
        assert lorenz["status"] == "ok" and lorenz["seed"] == seed
        assert (Path(lorenz["model_path"]) / "training.json").is_file()
        assert lorenz["fit_many_models"] == 2  # Lorenz's two seeds; Chen's data failed before
        assert layout.train_log(results, DATASET, "mean", "Chen", seed).is_file()
    assert "raised" in layout.train_log(results, DATASET, "mean", "Chen", 0).read_text()

    # predictions of the chunk: the failed trainings fail their predictions, the others run
    pchunk = layout.prediction_chunk(results, DATASET, "mean", "c000")
    args = ["predict-chunk", "--resolved-config", str(_resolved(tmp_path)), "--chunk", "c000"]
    args += ["--dataset", DATASET, "--method", "mean", "--results-dir", str(results)]
    assert main([*args, "--chunk-record", str(pchunk)]) == 0
    assert json.loads(pchunk.read_text())["statuses"] == {"failed": 2, "ok": 2}
    before = _mtimes(results, "prediction_record")
    pchunk.unlink()
    assert main([*args, "--chunk-record", str(pchunk)]) == 0
    assert _mtimes(results, "prediction_record") == before  # all finished: none redone
    # a kept prediction whose store is no longer sound is redone (its record too)
    store = layout.prediction_store(results, DATASET, "mean", "Lorenz", 1)
    (store / "forecast" / "zarr.json").unlink()
    pchunk.unlink()
    assert main([*args, "--chunk-record", str(pchunk)]) == 0
    after = _mtimes(results, "prediction_record")
    assert {k for k in before if after[k] != before[k]} == {("Lorenz", 1)}
    assert (
        records.read_record(layout.prediction_record(results, DATASET, "mean", "Lorenz", 1))[
            "status"
        ]
        == "ok"
    )


def test_a_rerun_redoes_only_the_systems_whose_record_is_missing_or_stale(
    lorenz_store, lorenz_nan_store, tmp_path
):
    results = tmp_path / "results"
    _dataset_records(results, lorenz_store, lorenz_nan_store)
    assert _train(results) == 0
    first = _mtimes(results, "model_record")
    assert len(first) == 4
    # a killed job: the chunk record is gone (Snakemake deletes it), one model record too
    layout.model_chunk(results, DATASET, "mean", "c000").unlink()
    layout.model_record(results, DATASET, "mean", "Lorenz", 1).unlink()
    assert _train(results) == 0
    again = _mtimes(results, "model_record")
    changed = {k for k in first if again.get(k) != first[k]}
    assert changed == {("Lorenz", 1)}  # failed ones are finished too: not retried
    # new upstream content (Lorenz re-simulated) -> Lorenz's models are redone, not Chen's
    rec = layout.dataset_record(results, DATASET, "Lorenz")
    rec.write_text(json.dumps({**json.loads(rec.read_text()), "wall_time_s": 9.0}))
    assert _train(results) == 0
    third = _mtimes(results, "model_record")
    assert {k for k in again if third[k] != again[k]} == {("Lorenz", 0), ("Lorenz", 1)}
    # a record whose model directory is gone is not finished
    model = layout.model_dir(results, DATASET, "mean", "Lorenz", 0)
    for p in model.iterdir():
        p.unlink()
    model.rmdir()
    assert _train(results) == 0
    assert {k for k in third if _mtimes(results, "model_record")[k] != third[k]} == {("Lorenz", 0)}
    assert (model / "training.json").is_file()


def test_a_chunk_job_refuses_a_resolved_config_that_does_not_give_its_slice_hash(tmp_path, capsys):
    resolved = _resolved(tmp_path)
    cfg, slices = cut_chunk("train", resolved, DATASET, "c000", method="mean")
    planned = plan.slice_hash(slices, cfg["evaluation"]["seeds"])
    assert list(slices) == ["Chen", "Lorenz"] and slices["Lorenz"] == TRAIN_JOB
    args = ["train-chunk", "--resolved-config", str(resolved), "--dataset", DATASET]
    args += ["--chunk", "c000", "--method", "mean", "--results-dir", str(tmp_path)]
    args += ["--chunk-record", str(tmp_path / "c.json")]
    # another run rewrote the file with other seeds since this job was planned
    _resolved(tmp_path, {**CONFIG, "evaluation": {**CONFIG["evaluation"], "seeds": [0]}})
    assert main([*args, "--slice-hash", planned]) == 2
    err = capsys.readouterr().err
    assert f"was planned with slice hash {planned}" in err and "run snakemake again" in err
    assert main([*args[:-2], "--chunk", "c001", *args[-2:]]) == 2
    assert "no train job of chunk 'c001'" in capsys.readouterr().err
    assert not (tmp_path / "c.json").exists()


def test_planning_imports_no_torch_nor_any_method_module():
    """What the Snakefile calls on a config with torch methods and their hyperparameters
    (a typo in one is still refused by name)."""
    code = """
import sys
from dsrbench.pipeline.config import load_config
from dsrbench.pipeline.plan import is_trained, predict_slice, system_chunks, train_slice
cfg = load_config("configs/dsr.yaml")
chunks = system_chunks(cfg)
for m in cfg["evaluation"]["methods"]:
    for s in cfg["systems"]:
        predict_slice(cfg, m, s)
        if is_trained(m):
            train_slice(cfg, m, s)
cfg["evaluation"]["hyperparameters"]["alrnn"]["latent_dm"] = 3
try:
    load_config(cfg)
except Exception as exc:
    print(exc)
loaded = sorted(m for m in sys.modules if m == "torch" or m.startswith("dsrbench.methods."))
print(loaded)
"""
    repo = Path(__file__).resolve().parents[2]
    env = {**os.environ, "PYTHONPATH": str(repo / "src")}
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=repo, env=env, capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr
    error, modules = out.stdout.strip().splitlines()
    assert "evaluation.hyperparameters.alrnn" in error
    assert "unknown hyperparameter 'latent_dm' (did you mean 'latent_dim'?)" in error
    assert modules == str(["dsrbench.methods._declared", "dsrbench.methods.base"])


@pytest.mark.parametrize("configfile", ["configs/dsr_database.yaml", "configs/full.yaml"])
def test_planning_a_135_system_config_imports_no_torch(configfile):
    """What the Snakefile plans for the 135 systems (chunks, every slice of every method
    and system) reads the methods' traits from their source: torch is never imported."""
    code = f"""
import sys
from dsrbench.pipeline.config import load_config
from dsrbench.pipeline.plan import expand, is_trained, method_chunks
from dsrbench.pipeline.plan import predict_slice, system_chunks, train_slice
cfg = load_config({configfile!r})
systems = sorted({{s for s, _ in expand(cfg)}})
chunks = system_chunks(cfg)
for m in cfg["evaluation"]["methods"]:
    method_chunks(cfg, m)
    for s in systems:
        predict_slice(cfg, m, s)
        if is_trained(m):
            train_slice(cfg, m, s)
print(len(systems), "torch" in sys.modules)
"""
    repo = Path(__file__).resolve().parents[2]
    env = {**os.environ, "PYTHONPATH": str(repo / "src")}
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=repo, env=env, capture_output=True, text=True, timeout=300
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["135", "False"]


def test_a_rerun_of_a_simulate_chunk_rebuilds_a_kept_store_that_is_not_sound(tmp_path, caplog):
    """What `snakemake --forcerun <dataset chunk record>` (the fix a store error names)
    relies on: systems finished before are kept unless their store does not open (corrupt,
    or invalid data such as a NaN), and those are simulated again."""
    import numpy as np
    import zarr

    from dsrbench import stores

    results = tmp_path / "results"
    setting = {"pts_per_period": 20, "length": 100, "n_train": 1, "n_val": 1, "n_test": 1}
    config = {"systems": ["Chen", "Lorenz"], "datasets": {"tiny": {**setting, "burn_in": 100}}}
    chunk = layout.dataset_chunk(results, "tiny", "c000")
    args = ["simulate-chunk", "--resolved-config", str(_resolved(tmp_path, config))]
    args += ["--dataset", "tiny", "--chunk", "c000"]
    args += ["--results-dir", str(results), "--chunk-record", str(chunk)]
    assert main(args) == 0
    records = {s: layout.dataset_record(results, "tiny", s) for s in ("Chen", "Lorenz")}
    before = {s: r.stat().st_mtime_ns for s, r in records.items()}
    x = stores.open_dataset(layout.dataset_store(results, "tiny", "Lorenz"))["x"].values
    zarr.open_array(layout.dataset_store(results, "tiny", "Lorenz") / "x", mode="r+")[0, 1, 0] = (
        np.nan
    )
    chunk.unlink()  # what --forcerun does before the job runs
    assert main(args) == 0
    after = {s: r.stat().st_mtime_ns for s, r in records.items()}
    assert after["Chen"] == before["Chen"] and after["Lorenz"] != before["Lorenz"]
    again = stores.open_dataset(layout.dataset_store(results, "tiny", "Lorenz"))["x"].values
    np.testing.assert_array_equal(again, x)  # rebuilt bit for bit
    assert "Lorenz.json: its output is not sound, redoing it" in caplog.text
    assert "holds invalid data: variable 'x' holds non-finite values" in caplog.text


def test_the_training_failure_hook_fires_only_for_its_model_and_epoch(monkeypatch):
    """The test-only hook of the fault matrix (docs/faults.md): ``NAME@EPOCH`` for the
    epochs of the latent RNNs, ``NAME`` for a fit without epochs; nothing otherwise."""
    from dsrbench.faults import FAIL_ENV, injected_failure

    injected_failure(["Chen/seed0"], 2)  # not set: nothing
    monkeypatch.setenv(FAIL_ENV, "Chen/seed0@2")
    injected_failure(["Chen/seed0"], 1)
    injected_failure(["Lorenz/seed0"], 2)
    injected_failure(["Chen/seed0"])  # a fit without epochs: the spec asks for an epoch
    with pytest.raises(RuntimeError, match="injected failure of Chen/seed0 at the end of epoch 2"):
        injected_failure(["Lorenz/seed0", "Chen/seed0"], 2)
    monkeypatch.setenv(FAIL_ENV, "Chen/seed0")
    injected_failure(["Chen/seed0"], 1)
    with pytest.raises(RuntimeError, match="injected failure of Chen/seed0 after its fit"):
        injected_failure(["Chen/seed0"])
