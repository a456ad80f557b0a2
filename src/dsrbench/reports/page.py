"""Displaying a page's content in a notebook: figures (embedded PNG, also saved as files
for ``snakemake --report``), tables and notes.

Every call takes the function that builds the content and its arguments; a :class:`NoData`
it raises becomes a visible note on the page ("not in this run: ..."), any other exception
propagates and fails the notebook.
"""

from __future__ import annotations

import base64
import contextlib
import html
import io
import re
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from dsrbench.reports.results import NoData

__all__ = ["Page"]


def _display(bundle: dict[str, str]) -> None:
    from IPython.display import display

    display(bundle, raw=True)


@contextlib.contextmanager
def _warnings_noted(page: Page, what: str) -> Iterator[None]:
    """Warnings raised while building ``what`` become one note on the page (not stderr
    output, which would look like a failure; not silence either)."""
    with warnings.catch_warnings(record=True) as caught, np.errstate(all="warn"):
        warnings.simplefilter("always")
        yield
    if caught:
        texts = sorted({f"{w.category.__name__}: {w.message}" for w in caught})
        page.note(f"warnings while computing {what}: " + "; ".join(texts[:5]))


class Page:
    """Output helpers of one page; ``figures_dir`` (optional) receives every figure as PNG."""

    def __init__(self, figures_dir: str | Path | None = None, *, dpi: int = 100) -> None:
        self.figures_dir = Path(figures_dir) if figures_dir else None
        if self.figures_dir is not None:
            self.figures_dir.mkdir(parents=True, exist_ok=True)
        self.dpi = dpi
        self.figures: list[str] = []

    # ------------------------------------------------------------------ building blocks
    def note(self, text: str) -> None:
        """A highlighted note (what is missing from the run, and why)."""
        _display(
            {
                "text/markdown": f"> **Note:** {text}",
                "text/plain": f"Note: {text}",
            }
        )

    def markdown(self, text: str) -> None:
        _display({"text/markdown": text, "text/plain": text})

    def notes(self, run: Any, contains: str | None = None) -> None:
        """The run's notes (configured methods without results, failures); only those that
        mention ``contains`` when given."""
        for text in run.notes:
            if contains is None or contains in text:
                self.note(text)

    def figure(
        self, name: str, build: Callable[..., Any], *args: Any, caption: str = "", **kw: Any
    ) -> None:
        """Build a matplotlib Figure with ``build(*args, **kw)`` and show it with ``caption``;
        the PNG is also saved as ``figures_dir/<name>.png``."""
        if not re.fullmatch(r"[A-Za-z0-9_.-]+", name):
            raise ValueError(f"figure name {name!r} may use letters, digits, '_', '.', '-'")
        try:
            with _warnings_noted(self, name):
                fig = build(*args, **kw)
                buf = io.BytesIO()
                fig.savefig(buf, format="png", dpi=self.dpi)
        except NoData as exc:
            self.note(f"not in this run: {exc}")
            return
        png = buf.getvalue()
        if self.figures_dir is not None:
            (self.figures_dir / f"{name}.png").write_bytes(png)
        self.figures.append(name)
        data = base64.b64encode(png).decode()
        alt = html.escape(caption or name, quote=True)
        cap = f"<figcaption>{html.escape(caption)}</figcaption>" if caption else ""
        _display(
            {
                "text/html": (
                    f'<figure class="dsrbench-figure" id="fig-{name}">'
                    f'<img src="data:image/png;base64,{data}" alt="{alt}" '
                    f'style="max-width:100%;height:auto">{cap}</figure>'
                ),
                "text/plain": f"<figure {name}>",
            }
        )

    def table(
        self,
        build: Callable[..., Any],
        *args: Any,
        caption: str = "",
        empty: str = "",
        **kw: Any,
    ) -> None:
        """Show the DataFrame ``build(*args, **kw)`` returns (with ``caption``); ``empty``
        is said instead when it has no rows."""
        try:
            with _warnings_noted(self, caption or getattr(build, "__name__", "table")):
                df = build(*args, **kw) if callable(build) else build
        except NoData as exc:
            self.note(f"not in this run: {exc}")
            return
        if not isinstance(df, pd.DataFrame):
            raise TypeError(f"{getattr(build, '__name__', build)} returned {type(df).__name__}")
        if df.empty:
            self.markdown(empty or f"*{caption or 'the table'}: no rows in this run.*")
            return
        body = df.to_html(
            index=False, escape=True, na_rep="n/a", border=0, classes="dsrbench-table"
        )
        cap = f"<p><em>{html.escape(caption)}</em></p>" if caption else ""
        _display({"text/html": cap + body, "text/plain": df.to_string(index=False)})
