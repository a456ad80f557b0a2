"""The shipped Zhang & Gilpin zero-shot figures (dsrbench.reports.published.zhang_gilpin_zeroshot):
the csv's integrity (the authors' files are not read here)."""

from __future__ import annotations

import numpy as np

from dsrbench.reports.published import zhang_gilpin_zeroshot

COLUMNS = [
    "paper",
    "source",
    "method",
    "metric",
    "horizon_lyapunov_times",
    "context_length",
    "statistic",
    "value",
    "scale",
    "systems",
    "note",
]


def test_columns_and_rows() -> None:
    df = zhang_gilpin_zeroshot()
    assert list(df.columns) == COLUMNS
    assert len(df) > 0


def test_every_row_has_paper_source_method_metric() -> None:
    df = zhang_gilpin_zeroshot()
    for col in ("paper", "source", "method", "metric", "statistic", "scale"):
        assert (df[col].astype(str).str.strip() != "").all(), col


def test_values_finite_unless_claim() -> None:
    df = zhang_gilpin_zeroshot()
    numbers = df[df["statistic"] != "claim"]
    assert np.isfinite(numbers["value"].to_numpy(dtype=float)).all()
    claims = df[df["statistic"] == "claim"]
    assert claims["value"].isna().all()  # a claim's text is its note, not a number
    assert (claims["note"].str.strip() != "").all()


def test_papers_are_the_two_zhang_gilpin_papers() -> None:
    papers = set(zhang_gilpin_zeroshot()["paper"])
    assert all("Zhang & Gilpin" in p for p in papers)
    assert any("2409.15771" in p for p in papers) and any("2505.11349" in p for p in papers)


def test_a_fresh_copy_each_call() -> None:
    df = zhang_gilpin_zeroshot()
    df.loc[0, "method"] = "changed"
    assert zhang_gilpin_zeroshot().loc[0, "method"] != "changed"
