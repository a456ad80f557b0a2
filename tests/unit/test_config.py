"""Configuration loading, validation messages and defaults."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

from dsrbench.pipeline.config import SCHEMA_PATH, ConfigError, load_config
from dsrbench.pipeline.plan import expand, simulate_slice

REPO = Path(__file__).resolve().parents[2]
CONFIG_FILES = [REPO / "config.yaml", *sorted((REPO / "configs").glob("*.yaml"))]


def minimal(**setting) -> dict:
    base = {"pts_per_period": 20, "length": 100, "n_train": 1, "n_val": 1, "n_test": 1}
    base.update(setting)
    return {"systems": ["Lorenz"], "datasets": {"fine": base}}


def error_of(cfg) -> str:
    with pytest.raises(ConfigError) as info:
        load_config(cfg)
    return str(info.value)


def test_schema_is_draft_2020_12_and_closed():
    schema = yaml.safe_load(SCHEMA_PATH.read_text())
    assert schema["$schema"].endswith("2020-12/schema")
    assert schema["additionalProperties"] is False
    assert schema["properties"]["integration"]["additionalProperties"] is False
    assert schema["properties"]["datasets"]["additionalProperties"]["additionalProperties"] is False


@pytest.mark.parametrize("path", CONFIG_FILES, ids=lambda p: p.name)
def test_shipped_configs_validate(path):
    from support.shipped_configs import stack, stacked_config

    cfg = load_config(stacked_config(*stack(path.name)) if path.parent.name == "configs" else path)
    jobs = expand(cfg)
    assert jobs and len(jobs) == len(set(jobs))
    if cfg["systems"] == "all":
        assert len(jobs) == 135 * len(cfg["datasets"])


def test_default_config_contents():
    """The first run (README, "The default run"): small, but with the DSR RNNs beside the
    references, and long-term metrics over at least 10 000 points."""
    cfg = load_config(REPO / "config.yaml")
    assert cfg["systems"] == ["Lorenz", "Chen"]
    assert list(cfg["datasets"]) == ["fine"]
    assert cfg["datasets"]["fine"]["pts_per_period"] == 100
    ev = cfg["evaluation"]
    assert {"truth", "persistence", "shplrnn_gtf", "alrnn"} <= set(ev["methods"])
    assert ev["long_run_length"] >= 10_000
    # the RNNs stop at their epochs, not at the wall-clock cap (reruns give the same numbers)
    for rnn in ("shplrnn_gtf", "alrnn"):
        assert ev["hyperparameters"][rnn]["epochs"] == 200
    assert cfg["training"]["budget_seconds"] >= 120


def test_paper_configs_follow_the_protocols():
    full = load_config(REPO / "configs" / "full.yaml")
    assert {d["pts_per_period"] for d in full["datasets"].values()} == {100, 15}
    for d in full["datasets"].values():
        assert d["n_train"] + d["n_val"] + d["n_test"] == 16
    lyap = load_config(REPO / "configs" / "lyapunov.yaml")
    (setting,) = lyap["datasets"].values()
    assert setting["timescale"] == "lyapunov" and setting["pts_per_period"] == 30
    assert setting["length"] == 512 + 300
    assert setting["n_train"] + setting["n_val"] + setting["n_test"] == 20


def test_defaults_filled_and_input_untouched():
    raw = minimal()
    before = copy.deepcopy(raw)
    cfg = load_config(raw)
    assert raw == before
    assert cfg["seed"] == 0
    assert cfg["results_dir"] == "results"
    assert cfg["integration"] == {"rtol": 1e-10, "atol": 1e-10}
    fine = cfg["datasets"]["fine"]
    assert fine["timescale"] == "fourier"
    assert fine["burn_in"] == 1000
    assert fine["observation_noise"] == 0 and fine["dynamical_noise"] == 0


def test_unknown_top_level_key_suggests_fix():
    msg = error_of({**minimal(), "datasetz": {}})
    assert "unknown config key 'datasetz'" in msg
    assert "did you mean 'datasets'?" in msg
    assert "valid keys: systems, seed, results_dir, integration, datasets" in msg


def test_misspelt_required_key_reports_only_the_typo():
    cfg = minimal()
    cfg["datasetz"] = cfg.pop("datasets")
    msg = error_of(cfg)
    assert "unknown config key 'datasetz' (did you mean 'datasets'?)" in msg
    assert "missing" not in msg


def test_unknown_nested_key_names_full_path():
    msg = error_of(minimal(granularity=100))
    assert "unknown config key 'datasets.fine.granularity'" in msg
    assert "did you mean 'pts_per_period'?" in msg
    msg = error_of({**minimal(), "integration": {"rtoll": 1e-8}})
    assert "unknown config key 'integration.rtoll' (did you mean 'rtol'?)" in msg


def test_unknown_systems_listed_with_close_matches():
    cfg = minimal()
    cfg["systems"] = ["Lorenz", "Lorenz63", "Rosler", "lorenz96"]
    msg = error_of(cfg)
    assert "config key 'systems'" in msg
    assert "'Lorenz63' (did you mean" in msg and "'Lorenz'" in msg
    assert "'Rosler' (did you mean 'Rossler'" in msg
    assert "'lorenz96' (did you mean 'Lorenz96'" in msg
    assert "dsrbench systems" in msg


def test_schema_and_system_errors_reported_together():
    cfg = minimal(pts_per_period=-3)
    cfg["systems"] = ["Rosler"]
    msg = error_of(cfg)
    assert "2 problems" in msg
    assert "'datasets.fine.pts_per_period' must be >= 2 (got -3)" in msg
    assert "'Rosler'" in msg


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [
        ("n_train", -1, "config key 'datasets.fine.n_train' must be >= 1 (got -1)"),
        ("n_val", -2, "config key 'datasets.fine.n_val' must be >= 0 (got -2)"),
        ("n_test", 1.5, "config key 'datasets.fine.n_test' must be an integer (got 1.5)"),
        ("length", 5, "config key 'datasets.fine.length' must be >= 10 (got 5)"),
        ("burn_in", -1, "config key 'datasets.fine.burn_in' must be >= 0 (got -1)"),
        ("observation_noise", -0.1, "'datasets.fine.observation_noise' must be >= 0"),
    ],
)
def test_bad_counts(key, value, expected):
    assert expected in error_of(minimal(**{key: value}))


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (-3, "config key 'datasets.fine.pts_per_period' must be >= 2 (got -3)"),
        (0, "config key 'datasets.fine.pts_per_period' must be >= 2 (got 0)"),
        (12.5, "config key 'datasets.fine.pts_per_period' must be an integer (got 12.5)"),
        ("many", "config key 'datasets.fine.pts_per_period' must be an integer (got 'many')"),
        (True, "config key 'datasets.fine.pts_per_period' must be an integer (got True)"),
    ],
)
def test_bad_granularity(value, expected):
    assert expected in error_of(minimal(pts_per_period=value))


def test_bad_timescale():
    msg = error_of(minimal(timescale="hours"))
    assert "config key 'datasets.fine.timescale' must be one of fourier, lyapunov" in msg
    assert "(got 'hours')" in msg


def test_dysts_spelling_of_timescale_accepted():
    cfg = load_config(minimal(timescale="Lyapunov"))
    assert cfg["datasets"]["fine"]["timescale"] == "lyapunov"


def test_numbers_written_as_strings_are_read():
    # PyYAML reads 1e-8 (no dot) as a string; `--config` values may arrive as strings.
    cfg = load_config({**minimal(length="200"), "integration": {"rtol": "1e-8"}})
    assert cfg["integration"]["rtol"] == 1e-8
    assert cfg["datasets"]["fine"]["length"] == 200
    # a number where null is allowed too (`--config 'evaluation={dask: {n_workers: 1}}'`)
    cfg = load_config({**minimal(), "evaluation": {"dask": {"n_workers": "1"}}})
    assert cfg["evaluation"]["dask"]["n_workers"] == 1
    msg = error_of({**minimal(), "evaluation": {"dask": {"n_workers": "x"}}})
    assert "config key 'evaluation.dask.n_workers' must be null or an integer (got 'x')" in msg
    # `--config 'reports={"enabled": false}'` reaches the config as the string "false"
    assert (
        load_config({**minimal(), "reports": {"enabled": "false"}})["reports"]["enabled"] is False
    )
    assert "must be true or false (got 'no')" in error_of(
        {**minimal(), "reports": {"enabled": "no"}}
    )


def test_tolerance_bounds():
    msg = error_of({**minimal(), "integration": {"rtol": 0.01}})
    assert "config key 'integration.rtol' must be < 0.001 (got 0.01)" in msg
    msg = error_of({**minimal(), "integration": {"atol": 0}})
    assert "config key 'integration.atol' must be > 0 (got 0)" in msg


def test_systems_forms():
    assert load_config({**minimal(), "systems": "all"})["systems"] == "all"
    assert load_config({**minimal(), "systems": "Lorenz"})["systems"] == ["Lorenz"]
    assert "must not be empty" in error_of({**minimal(), "systems": []})
    assert "'Lorenz' more than once" in error_of({**minimal(), "systems": ["Lorenz", "Lorenz"]})
    assert 'must be "all" or a non-empty list' in error_of({**minimal(), "systems": 3})


def test_dataset_names_and_required_keys():
    cfg = minimal()
    cfg["datasets"]["bad-name"] = cfg["datasets"]["fine"]
    assert "dataset setting name 'bad-name'" in error_of(cfg)
    cfg = minimal()
    del cfg["datasets"]["fine"]["length"]
    assert "config key 'datasets.fine' is missing required key 'length'" in error_of(cfg)
    assert "config key 'datasets' must not be empty" in error_of({"systems": "all", "datasets": {}})
    assert "config is missing required key 'systems'" in error_of({"datasets": {}})


def test_config_files(tmp_path):
    assert "config file not found" in error_of(tmp_path / "nope.yaml")
    bad = tmp_path / "list.yaml"
    bad.write_text("- Lorenz\n")
    assert "must contain a mapping" in error_of(bad)
    typo = tmp_path / "typo.yaml"
    typo.write_text(yaml.safe_dump({**minimal(), "sed": 1}))
    msg = error_of(typo)
    assert "unknown config key 'sed' (did you mean 'seed'?)" in msg
    assert str(typo) in msg


def test_explicit_schema(tmp_path):
    schema = yaml.safe_load(SCHEMA_PATH.read_text())
    schema["properties"]["seed"]["maximum"] = 10
    path = tmp_path / "schema.yaml"
    path.write_text(yaml.safe_dump(schema))
    assert "must be <= 10" in str(
        pytest.raises(ConfigError, load_config, {**minimal(), "seed": 11}, schema=path).value
    )
    with pytest.raises(ConfigError, match="schema not found"):
        load_config(minimal(), schema=tmp_path / "missing.yaml")


def test_expand_and_simulate_slice():
    cfg = load_config(
        {
            "systems": ["Lorenz", "Chen"],
            "datasets": {
                "a": minimal()["datasets"]["fine"],
                "b": minimal(length=50)["datasets"]["fine"],
            },
        }
    )
    assert expand(cfg) == [("Lorenz", "a"), ("Lorenz", "b"), ("Chen", "a"), ("Chen", "b")]
    job = simulate_slice(cfg, "Chen", "b")
    assert job["setting"] == cfg["datasets"]["b"] != cfg["datasets"]["a"]
    assert set(job) == {"seed", "integration", "setting"}  # one setting, nothing else
    with pytest.raises(ConfigError, match="unknown dataset setting 'c'"):
        simulate_slice(cfg, "Chen", "c")


def test_systems_by_method_cuts_a_methods_chunks_to_its_systems():
    from dsrbench.pipeline.plan import method_chunks, method_systems, system_chunks

    cfg = minimal()
    cfg["systems"] = ["Lorenz", "Rossler", "Chen", "Aizawa", "Thomas"]
    cfg["chunking"] = {"systems_per_job": 2}
    ev = {"methods": ["persistence", "var"], "context_length": 10, "horizon": 20}
    cfg["evaluation"] = ev | {"systems_by_method": {"var": ["Thomas", "Aizawa"]}}
    cfg["datasets"]["fine"]["length"] = 200
    loaded = load_config(cfg)
    assert system_chunks(loaded) == {
        "c000": ["Aizawa", "Chen"],
        "c001": ["Lorenz", "Rossler"],
        "c002": ["Thomas"],
    }
    assert method_systems(loaded, "var") == ["Aizawa", "Thomas"]
    assert method_chunks(loaded, "var") == {"c000": ["Aizawa"], "c002": ["Thomas"]}
    assert method_chunks(loaded, "persistence") == system_chunks(loaded)


@pytest.mark.parametrize(
    ("restriction", "expected"),
    [
        ({"esn": ["Lorenz"]}, "'esn' is not in evaluation.methods"),
        ({"var": ["Lorenz", "Lornez"]}, "Lornez"),
        ({"var": ["Rossler"]}, "Rossler not in the config's systems"),
        ({"var": []}, "systems_by_method.var"),
    ],
)
def test_systems_by_method_names_configured_methods_and_systems(restriction, expected):
    cfg = minimal(length=200)
    ev = {"methods": ["persistence", "var"], "context_length": 10, "horizon": 20}
    cfg["evaluation"] = ev | {"systems_by_method": restriction}
    message = error_of(cfg)
    assert expected in message and "systems_by_method" in message


SCHEMA = yaml.safe_load(SCHEMA_PATH.read_text())


def _wrong_type(key: str):
    """A value of the wrong type for the top-level ``key``: a list where the schema wants
    a mapping, a mapping anywhere else (no key takes both)."""
    return [1, 2] if SCHEMA["properties"][key].get("type") == "object" else {"wrong": "type"}


@pytest.mark.parametrize("key", list(SCHEMA["properties"]))
def test_a_wrong_type_for_any_top_level_key_names_it_and_what_it_must_be(key):
    """Every top-level key of the schema (new keys are covered as they come); the message
    names the key and what it must be, e.g. "config key 'seed' must be an integer"."""
    msg = error_of({**minimal(), key: _wrong_type(key)})
    assert f"config key '{key}' must be " in msg, msg
    assert f"(got {_wrong_type(key)!r})" in msg, msg


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            {"datasets": minimal(length=-100)["datasets"]},
            "config key 'datasets.fine.length' must be >= 10 (got -100)",
        ),
        (
            {"evaluation": {"methods": ["truth", "vaar"]}},
            "config key 'evaluation.methods': unknown method 'vaar' (did you mean 'var'",
        ),
        (
            {"evaluation": {"methods": ["truth"], "datasets": ["coarse"]}},
            "config key 'evaluation.datasets': 'coarse' is not a dataset setting; choose from fine",
        ),
        (
            {"training": {"device": "gpu"}},
            "config key 'training.device' must be auto, cpu, cuda or cuda:N (N a GPU index, "
            "e.g. cuda:0) (got 'gpu')",
        ),
    ],
    ids=["negative-length", "unknown-method", "unknown-dataset", "unknown-device"],
)
def test_malformed_values_name_the_key_and_the_fix(change, expected):
    assert expected in error_of({**minimal(), **change})
