"""Rendering: papermill executes a template, nbconvert exports HTML without code cells.

:func:`render` runs the template with an explicitly named Jupyter kernel (registered for
this Python inside its environment, ``--sys-prefix``, when missing), in a given working
directory, with a per-cell timeout. The executed notebook is kept beside the HTML (for
whoever wants the code); both are written to temporary names and renamed, so a page that
exists is complete. When a cell raises, :class:`RenderError` carries the cell's error, no
HTML is left (not even an old one) and the failed notebook is kept as
``<page>.failed.ipynb`` for inspection.

The HTML template is JupyterLab's without the scripts it would load from the internet
(require.js, MathJax, mermaid, widgets): the pages are self-contained and open offline.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import html
import json
import os
import re
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import jinja2

from dsrbench import layout
from dsrbench.atomic import remove_path, replace_path, temporary_sibling, write_text_atomic
from dsrbench.references import ROWS_ONLY

__all__ = ["DEFAULT_KERNEL", "RenderError", "build_index", "ensure_kernel", "render"]

DEFAULT_KERNEL = "dsrbench"
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")

_TEMPLATE = """{%- extends 'lab/index.html.j2' -%}
{%- block html_head_js -%}{%- endblock html_head_js -%}
{%- block html_head_js_mathjax -%}{%- endblock html_head_js_mathjax -%}
{%- block html_head_js_mermaidjs -%}{%- endblock html_head_js_mermaidjs -%}
{%- block jupyter_widgets -%}{%- endblock jupyter_widgets -%}
{%- block extra_css -%}
<link rel="icon" href="data:,">
<style>
  .dsrbench-nav { font: 14px sans-serif; padding: 6px 16px; background: #f3f3f3; }
  figure.dsrbench-figure { margin: 8px 0 20px 0; }
  figure.dsrbench-figure figcaption { font-size: 13px; color: #444; }
  table.dsrbench-table td, table.dsrbench-table th { padding: 2px 8px; text-align: left; }
</style>
{%- endblock extra_css -%}
{%- block body_header -%}
{{ super() }}
<nav class="dsrbench-nav"><a href="{{ resources.index_href }}">&larr; all pages</a>
&middot; {{ resources.page_title | e }} &middot; <a href="{{ resources.notebook_href }}">executed
notebook</a></nav>
{%- endblock body_header -%}
"""


class RenderError(RuntimeError):
    """A notebook failed; the message names the template, the cell and its error."""


# ------------------------------------------------------------------------------- kernel
@contextlib.contextmanager
def _lock(path: Path) -> Iterator[None]:
    import fcntl

    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _kernel_python(spec_dir: Path) -> str | None:
    try:
        argv = json.loads((spec_dir / "kernel.json").read_text())["argv"]
    except (OSError, ValueError, KeyError, IndexError):
        return None
    return argv[0] if argv else None


def _is_ours(python: str | None) -> bool:
    """A kernel's interpreter is this environment's: an existing file in the same bin
    directory as ``sys.executable`` (``python`` and ``python3`` both count)."""
    if not python or not Path(python).is_file():
        return False
    return Path(python).absolute().parent == Path(sys.executable).absolute().parent


def ensure_kernel(name: str = DEFAULT_KERNEL) -> Path:
    """The kernel spec ``name`` for this Python, installed into ``sys.prefix`` (the virtual
    environment) when missing or pointing at another interpreter. Returns its directory."""
    from jupyter_client.kernelspec import KernelSpecManager

    target = Path(sys.prefix) / "share" / "jupyter" / "kernels" / name
    if _is_ours(_kernel_python(target)):
        return target
    with _lock(Path(sys.prefix) / "share" / "jupyter" / f".{name}.kernel.lock"):
        if _is_ours(_kernel_python(target)):
            return target
        from ipykernel.kernelspec import install

        install(
            kernel_name=name,
            display_name=f"Python ({name})",
            prefix=sys.prefix,
        )
    found = KernelSpecManager().find_kernel_specs().get(name)
    if found is None or Path(found).resolve() != target.resolve():
        raise RenderError(
            f"installed the kernel {name!r} into {target}, but Jupyter finds "
            f"{found or 'nothing'} under that name; remove the other kernel spec "
            f"(`jupyter kernelspec remove {name}`) and rerun"
        )
    return target


# ------------------------------------------------------------------------------- render
def _cell_error(nb: Any) -> str:
    """The first error output of an executed notebook: which code cell (counting the
    injected-parameters cell), its source and the traceback."""
    code = [c for c in nb.cells if c.get("cell_type") == "code"]
    for i, cell in enumerate(code):
        for out in cell.get("outputs", []):
            if out.get("output_type") == "error":
                tb = _ANSI.sub("", "\n".join(out.get("traceback", [])))
                src = "".join(cell.get("source", ""))
                count = cell.get("execution_count")
                where = f"code cell {i + 1}" + (f" (In [{count}])" if count else "")
                return (
                    f"{where} raised {out.get('ename')}: {out.get('evalue')}\n"
                    f"--- cell source ---\n{src}\n--- traceback ---\n{tb}"
                )
    return ""


def _remove(*paths: Path) -> None:
    for p in paths:
        remove_path(p)


def page_title(template: str | Path, parameters: dict[str, Any]) -> str:
    stem = Path(template).stem
    if stem == "system" and "system" in parameters:
        return f"System: {parameters['system']}"
    if stem == "method" and "method" in parameters:
        return f"Method: {parameters['method']}"
    return {
        "leaderboard": "Leaderboard",
        "reproductions": "Reproductions of the published numbers",
        "gilpin2023": "Gilpin 2023: model scale versus domain knowledge",
        "dsr": "Dynamical systems reconstruction (shPLRNN+GTF, AL-RNN)",
    }.get(stem, stem)


def _relative(target: Path, start: Path) -> str:
    return Path(os.path.relpath(target, start)).as_posix()


def render(
    template: str | Path,
    out_html: str | Path,
    parameters: dict[str, Any] | None = None,
    *,
    cwd: str | Path | None = None,
    kernel: str = DEFAULT_KERNEL,
    timeout: float = 600,
    index: str | Path | None = None,
    title: str | None = None,
) -> Path:
    """Execute ``template`` with ``parameters`` and write ``out_html`` (no code cells,
    images embedded) and the executed notebook ``out_html`` with suffix ``.ipynb``.

    ``cwd``: the kernel's working directory (relative paths in the parameters are relative
    to it; default the current directory). ``timeout``: seconds per cell. ``index``: the
    index page the navigation bar links to (default ``index.html`` in the reports root,
    the parent of ``systems/``, ``methods/``, ``papers/``). Raises :class:`RenderError`
    with the failing cell's error.
    """
    import nbformat
    import papermill as pm

    template, out_html = Path(template), Path(out_html)
    if not template.is_file():
        raise FileNotFoundError(f"report template {template} does not exist")
    parameters = dict(parameters or {})
    cwd = Path(cwd) if cwd is not None else Path.cwd()
    out_nb = out_html.with_suffix(".ipynb")
    failed_nb = out_html.with_suffix(".failed.ipynb")
    out_html.parent.mkdir(parents=True, exist_ok=True)
    _remove(out_html, out_nb, failed_nb)  # an old page must not pass for this run's
    ensure_kernel(kernel)
    # hidden siblings with the same suffix (papermill wants notebooks to end in .ipynb)
    tmp_nb, tmp_html = temporary_sibling(out_nb), temporary_sibling(out_html)
    title = title or page_title(template, parameters)
    try:
        pm.execute_notebook(
            str(template),
            str(tmp_nb),
            parameters=parameters,
            kernel_name=kernel,
            cwd=str(cwd),
            execution_timeout=timeout,
            start_timeout=120,
            progress_bar=False,
            log_output=False,
            report_mode=False,
        )
    except Exception as exc:
        detail = ""
        if tmp_nb.exists():
            with contextlib.suppress(Exception):
                detail = _cell_error(nbformat.read(tmp_nb, as_version=4))
            replace_path(tmp_nb, failed_nb)
        _remove(tmp_html)
        what = detail or f"{type(exc).__name__}: {_ANSI.sub('', str(exc)).strip()[:4000]}"
        raise RenderError(
            f"report {template.name} ({title}) failed: {what}\n"
            f"(executed notebook with the error: {failed_nb})"
        ) from exc
    try:
        nb = nbformat.read(tmp_nb, as_version=4)
        error = _cell_error(nb)
        if error:  # e.g. a cell tagged raises-exception: still a failed page
            replace_path(tmp_nb, failed_nb)
            raise RenderError(f"report {template.name} ({title}) has an error output: {error}")
        nb.metadata["title"] = title
        nb.metadata.setdefault("dsrbench", {})["parameters"] = parameters
        nbformat.write(nb, tmp_nb)
        index = Path(index) if index else _reports_root(out_html) / "index.html"
        body = export_html(
            nb,
            title=title,
            index_href=_relative(index, out_html.parent),
            notebook_href=out_nb.name,
        )
        tmp_html.write_text(body, encoding="utf-8")
        replace_path(tmp_nb, out_nb)
        replace_path(tmp_html, out_html)
    finally:
        _remove(tmp_nb, tmp_html)
    return out_html


def _reports_root(out_html: Path) -> Path:
    parent = out_html.parent
    return parent.parent if parent.name in layout.PAGE_KINDS.values() else parent


def export_html(
    nb: Any, *, title: str, index_href: str = "index.html", notebook_href: str = ""
) -> str:
    """HTML of an executed notebook without code cells or prompts, images embedded."""
    from nbconvert import HTMLExporter

    exporter = HTMLExporter(
        exclude_input=True,
        exclude_input_prompt=True,
        exclude_output_prompt=True,
        embed_images=True,
        extra_loaders=[jinja2.DictLoader({"dsrbench.html.j2": _TEMPLATE})],
        template_file="dsrbench.html.j2",
    )
    resources = {
        "metadata": {"name": title},
        "page_title": title,
        "index_href": index_href,
        "notebook_href": notebook_href,
    }
    body, _ = exporter.from_notebook_node(nb, resources=resources)
    return body


# ------------------------------------------------------------------------------- index
_SECTIONS = (
    ("leaderboard", "Leaderboard", "methods ranked across systems on each metric family"),
    ("reproductions", "Reproductions", "every published number with ours beside it and a status"),
    ("systems", "Systems", "true against generated attractors, forecasts, spectra, metrics"),
    ("methods", "Methods", "training, scores against system properties, symbolic codes"),
    ("papers", "Paper reproductions", "our figures beside the published ones"),
)


#: page ids the index links when their page exists in the reports root, though not passed
_OPTIONAL_PAGES = ("reproductions",)


def _title_of(page: Path) -> str:
    try:
        m = re.search(r"<title>(.*?)</title>", page.read_text(encoding="utf-8"), re.S)
    except OSError:
        m = None
    return html.unescape(m.group(1).strip()) if m else page.stem


def _section_of(page: Path, root: Path) -> str:
    rel = page.resolve().relative_to(root.resolve())
    return rel.parts[0] if len(rel.parts) > 1 else rel.stem


def build_index(
    pages: Sequence[str | Path],
    out: str | Path,
    *,
    results_dir: str | Path | None = None,
    title: str = "dsrbench reports",
) -> Path:
    """Write ``out`` (``results/reports/index.html``) linking every page in ``pages``
    (grouped as leaderboard, systems, methods, papers) and its executed notebook, with a
    summary of the run. With ``results_dir`` the systems are a sortable, filterable table
    (:mod:`dsrbench.reports.index`: dimension, largest Lyapunov exponent, every method's
    D_stsp and VPT), each name linking its page. Every page must exist; the reproductions
    page (``reproductions.html`` beside ``out``) is linked too when it has been rendered."""
    out = Path(out)
    root = out.parent
    pages = list(pages)
    # pages rendered outside the workflow's rules, linked once they exist
    for page in _OPTIONAL_PAGES:
        path = root / f"{page}.html"
        if path.is_file() and path.resolve() not in {Path(p).resolve() for p in pages}:
            pages.append(path)
    missing = [str(p) for p in pages if not Path(p).is_file()]
    if missing:
        raise FileNotFoundError(f"report pages missing: {', '.join(missing)}")
    grouped: dict[str, list[Path]] = {}
    for p in map(Path, pages):
        grouped.setdefault(_section_of(p, root), []).append(p)
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<link rel="icon" href="data:,">',
        f"<title>{html.escape(title)}</title>",
        "<style>body{font:15px/1.45 sans-serif;max-width:90em;margin:2em auto;padding:0 1em}"
        "h2{border-bottom:1px solid #ddd}li{margin:.2em 0}.nb{font-size:12px;color:#666}</style>",
        "</head><body>",
        f"<h1>{html.escape(title)}</h1>",
    ]
    parts.append(_run_summary(results_dir))
    known = [s for s, _, _ in _SECTIONS]
    for key, heading, blurb in (*_SECTIONS, *((k, k, "") for k in grouped if k not in known)):
        if key not in grouped:
            continue
        parts.append(f"<h2>{html.escape(heading)}</h2>")
        if blurb:
            parts.append(f"<p>{html.escape(blurb)}</p>")
        pages_here = sorted(grouped[key], key=lambda q: q.name)
        if key == "systems":
            table, pages_here = _systems_table(pages_here, root, results_dir)
            parts.append(table)
            if not pages_here:
                continue
        parts.append("<ul>")
        for p in pages_here:
            href = _relative(p, root)
            nb = p.with_suffix(".ipynb")
            nb_link = (
                f' <a class="nb" href="{html.escape(_relative(nb, root))}">(notebook)</a>'
                if nb.is_file()
                else ""
            )
            parts.append(
                f'<li><a href="{html.escape(href)}">{html.escape(_title_of(p))}</a>{nb_link}</li>'
            )
        parts.append("</ul>")
    parts.append(
        "<p class=nb>Rendered by papermill from the templates in <code>reports/</code>; "
        "open an executed notebook to see the code, change its parameters cell and rerun. "
        f"Built {_dt.datetime.now().astimezone():%Y-%m-%d %H:%M %Z}.</p>"
    )
    parts.append("</body></html>")
    return write_text_atomic(out, "\n".join(parts) + "\n")


def _systems_table(
    pages: list[Path], root: Path, results_dir: str | Path | None
) -> tuple[str, list[Path]]:
    """The sortable systems table (:mod:`dsrbench.reports.index`) linking the system pages,
    and the pages it does not cover (listed as before); no table without a metric table."""
    if results_dir is None or not layout.merged_metrics(results_dir).is_file():
        return "", pages
    import pandas as pd

    from dsrbench.reports.index import systems_table, systems_table_html
    from dsrbench.reports.results import random_smoke

    metrics = pd.read_parquet(
        layout.merged_metrics(results_dir),
        columns=["system", "dataset", "method", "seed", "metric", "value", "reason"],
    )
    table = systems_table(metrics[~random_smoke(metrics)])  # random weights: no result
    by_name = {p.stem: p for p in pages}
    links = {s: _relative(by_name[s], root) for s in table.get("system", []) if s in by_name}
    notebooks = {
        s: _relative(by_name[s].with_suffix(".ipynb"), root)
        for s in links
        if by_name[s].with_suffix(".ipynb").is_file()
    }
    rest = [p for p in pages if p.stem not in set(table.get("system", []))]
    html_table = systems_table_html(table, links, notebooks) if not table.empty else ""
    note = (
        "<p class=nb>Medians over seeds and dataset settings; click a header to sort, "
        "type to filter by name. D_stsp: lower is better; VPT (NRMSE &gt; 0.5, Lyapunov "
        "times): higher is better.</p>"
    )
    return (note + html_table if html_table else ""), rest


def _run_summary(results_dir: str | Path | None) -> str:
    if results_dir is None:
        return ""
    path = layout.merged_metrics(results_dir)
    if not path.is_file():
        return ""
    import pandas as pd
    import pyarrow.parquet as pq

    m = pd.read_parquet(path, columns=["system", "dataset", "method", "seed", "status"])
    methods = sorted(set(m["method"]) - set(ROWS_ONLY))
    prov = {}
    meta = pq.read_schema(path).metadata or {}
    if b"dsrbench_provenance" in meta:
        with contextlib.suppress(ValueError):
            prov = json.loads(meta[b"dsrbench_provenance"])
    rev = prov.get("git_revision", "unknown")
    return (
        f"<p>{m['system'].nunique()} systems, {m['dataset'].nunique()} dataset settings "
        f"({html.escape(', '.join(sorted(m['dataset'].dropna().unique())))}), "
        f"{len(methods)} methods ({html.escape(', '.join(methods))}); "
        f"git revision <code>{html.escape(str(rev))}</code>.</p>"
    )
