"""The systems table of the index page: one row per system, sortable and filterable.

Columns: the system (linked to its page), its dimension, the largest Lyapunov exponent
(dysts' estimate ``maximum_lyapunov_estimated`` and, where the package's Lyapunov table is
installed, ours with the chaos flag of :func:`dsrbench.systems.chaos_flag`), the truth
floor of ``D_stsp`` and every learned method's ``D_stsp`` and VPT (NRMSE > 0.5, in
Lyapunov times), each the median over seeds and dataset settings. The page stays plain
HTML with a small inline script (no network): a click on a header sorts by that column
(numbers numerically, missing values last), the text box filters by name, the check box
hides the systems that are not chaotic.
"""

from __future__ import annotations

import html
import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from dsrbench import systems as registry
from dsrbench.references import FLOOR, NAMES
from dsrbench.reports.style import method_label, order_methods

__all__ = ["SYSTEM_COLUMNS", "systems_table", "systems_table_html"]

#: (metric, column label) of the per-method columns, lower / higher is better as named
SYSTEM_COLUMNS: tuple[tuple[str, str], ...] = (("D_stsp", "D_stsp"), ("vpt_nrmse", "VPT"))


def _facts(name: str, flags: Mapping[str, Any] | None) -> dict[str, Any]:
    """Dimension, dysts' and our largest Lyapunov exponent, the chaos flag of ``name``."""
    try:
        info = registry.get_system_info(name)
    except registry.UnknownSystemError:
        info = None
    flag = (flags or {}).get(name)
    if flag is None and hasattr(registry, "chaos_flag") and info is not None:
        flag = registry.chaos_flag(name)
    lam = info.maximum_lyapunov_estimated if info is not None else None
    return {
        "dimension": info.dimension if info is not None else math.nan,
        "lambda_max_dysts": math.nan if lam is None else float(lam),
        "lambda_max_ours": flag.max_lyapunov if flag is not None else math.nan,
        "chaotic": None if flag is None else bool(flag.chaotic),
        "chaos_reason": "" if flag is None else str(flag.reason),
    }


def systems_table(metrics: pd.DataFrame, *, flags: Mapping[str, Any] | None = None) -> pd.DataFrame:
    """One row per system of ``metrics`` (the merged metric table): ``system``,
    ``dimension``, ``lambda_max_dysts``, ``lambda_max_ours``, ``chaotic`` (None when
    unknown), ``chaos_reason``, ``floor D_stsp`` and ``<method> <label>`` for every learned
    method and :data:`SYSTEM_COLUMNS` entry: the median over the finite values of all its
    seeds and dataset settings (NaN when none is finite). ``flags``: system -> chaos flag
    (default :func:`dsrbench.systems.chaos_flag` where it exists)."""
    m = metrics.assign(value=metrics["value"].astype(float))
    m = m.assign(value=m["value"].where(np.isfinite(m["value"])))
    systems = sorted(set(m["system"].dropna()))
    methods = [x for x in order_methods(set(m["method"])) if x not in NAMES]
    table = pd.DataFrame([{"system": s, **_facts(s, flags)} for s in systems])
    if table.empty:
        return table
    table = table.set_index("system")
    floor = m[(m["method"] == FLOOR) & (m["metric"] == "D_stsp")]
    table["floor D_stsp"] = floor.groupby("system")["value"].median().reindex(table.index)
    for method in methods:
        for metric, label in SYSTEM_COLUMNS:
            sub = m[(m["method"] == method) & (m["metric"] == metric)]
            med = sub.groupby(["system", "dataset", "seed"])["value"].median()
            per = med.groupby(level="system").median()  # over seeds and datasets
            table[f"{method} {label}"] = per.reindex(table.index)
    return table.reset_index()


def _num(v: Any) -> str:
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return ""
    return f"{float(v):.6g}"


def _show(v: Any, digits: int = 3) -> str:
    from dsrbench.reports.stats import fmt

    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "–"
    return fmt(float(v), digits)


_SCRIPT = """
(function () {
  var table = document.getElementById("dsrbench-systems");
  if (!table) return;
  var body = table.tBodies[0], heads = table.tHead.rows[0].cells;
  var box = document.getElementById("dsrbench-filter");
  var hide = document.getElementById("dsrbench-chaotic-only");
  var count = document.getElementById("dsrbench-count");
  function key(row, i) { return row.cells[i].getAttribute("data-v"); }
  Array.prototype.forEach.call(heads, function (th, i) {
    th.addEventListener("click", function () {
      var asc = th.getAttribute("aria-sort") !== "ascending";
      Array.prototype.forEach.call(heads, function (h) { h.removeAttribute("aria-sort"); });
      th.setAttribute("aria-sort", asc ? "ascending" : "descending");
      var num = th.getAttribute("data-type") === "num";
      var rows = Array.prototype.slice.call(body.rows);
      rows.sort(function (a, b) {
        var x = key(a, i), y = key(b, i);
        if (num) {
          var fx = parseFloat(x), fy = parseFloat(y), nx = isNaN(fx), ny = isNaN(fy);
          if (nx || ny) return nx - ny;  /* missing values last, either way */
          return asc ? fx - fy : fy - fx;
        }
        return asc ? x.localeCompare(y) : y.localeCompare(x);
      });
      rows.forEach(function (r) { body.appendChild(r); });
    });
  });
  function filter() {
    var text = box.value.trim().toLowerCase(), n = 0;
    Array.prototype.forEach.call(body.rows, function (r) {
      var show = r.getAttribute("data-name").toLowerCase().indexOf(text) >= 0 &&
        !(hide && hide.checked && r.getAttribute("data-chaotic") === "no");
      r.style.display = show ? "" : "none";
      if (show) n += 1;
    });
    count.textContent = n + " of " + body.rows.length + " systems shown";
  }
  box.addEventListener("input", filter);
  if (hide) hide.addEventListener("change", filter);
  filter();
})();
"""

_STYLE = (
    "table.dsrbench-systems{border-collapse:collapse;font-size:13px}"
    "table.dsrbench-systems th{cursor:pointer;position:sticky;top:0;background:#f3f3f3;"
    "padding:3px 6px;border-bottom:1px solid #bbb;white-space:nowrap;user-select:none}"
    "table.dsrbench-systems th[aria-sort=ascending]::after{content:' \\25B2'}"
    "table.dsrbench-systems th[aria-sort=descending]::after{content:' \\25BC'}"
    "table.dsrbench-systems td{padding:2px 6px;border-bottom:1px solid #eee;text-align:right}"
    "table.dsrbench-systems td.name{text-align:left;white-space:nowrap}"
    "table.dsrbench-systems tr.nonchaotic td{color:#888}"
    ".dsrbench-controls{margin:.5em 0}.dsrbench-wrap{max-height:80vh;overflow:auto}"
)


def systems_table_html(
    table: pd.DataFrame,
    links: Mapping[str, str] | None = None,
    notebooks: Mapping[str, str] | None = None,
) -> str:
    """The table of :func:`systems_table` as an HTML fragment (style, controls, table,
    script); ``links``: system -> href of its page (unlinked when absent); ``notebooks``:
    system -> href of its executed notebook (a small link beside the name)."""
    links, notebooks = dict(links or {}), dict(notebooks or {})
    has_ours = "lambda_max_ours" in table and table["lambda_max_ours"].notna().any()
    has_flag = "chaotic" in table and table["chaotic"].notna().any()
    labels = tuple(f" {label}" for _, label in SYSTEM_COLUMNS)
    metric_cols = [c for c in table.columns if c == "floor D_stsp" or c.endswith(labels)]
    heads: list[tuple[str, str, str]] = [("system", "System", "text"), ("dimension", "dim", "num")]
    heads.append(("lambda_max_dysts", "λ<sub>max</sub> (dysts)", "num"))
    if has_ours:
        heads.append(("lambda_max_ours", "λ<sub>max</sub> (ours)", "num"))
    if has_flag:
        heads.append(("chaotic", "chaotic", "text"))
    for col in metric_cols:
        if col == "floor D_stsp":
            heads.append((col, "D_stsp<br>truth floor", "num"))
        else:
            method, label = col.rsplit(" ", 1)
            heads.append((col, f"{html.escape(method_label(method))}<br>{label}", "num"))
    out = [f"<style>{_STYLE}</style>", '<div class="dsrbench-controls">']
    out.append(
        '<label>Filter by name: <input id="dsrbench-filter" type="search" '
        'placeholder="e.g. Lorenz" autocomplete="off"></label>'
    )
    if has_flag:
        out.append(
            ' <label><input id="dsrbench-chaotic-only" type="checkbox"> hide the systems '
            "that are not chaotic</label>"
        )
    out.append(' <span id="dsrbench-count" class="nb"></span></div>')
    out.append('<div class="dsrbench-wrap"><table id="dsrbench-systems" class="dsrbench-systems">')
    titles = {
        "lambda_max_dysts": "largest Lyapunov exponent, dysts' estimate (1 / time unit)",
        "lambda_max_ours": "largest Lyapunov exponent, our QR estimate (1 / time unit)",
        "floor D_stsp": "D_stsp between two independent true trajectories",
    }
    out.append("<thead><tr>")
    for col, label, kind in heads:
        title = titles.get(col) or (
            "median over seeds and dataset settings; click to sort" if " " in col else ""
        )
        out.append(
            f'<th data-type="{kind}" data-col="{html.escape(col)}" title="{title}">{label}</th>'
        )
    out.append("</tr></thead><tbody>")
    for r in table.to_dict("records"):
        name = str(r["system"])
        chaotic = r.get("chaotic")
        flag = "" if chaotic is None or chaotic != chaotic else ("yes" if chaotic else "no")
        cls = ' class="nonchaotic"' if flag == "no" else ""
        out.append(f'<tr data-name="{html.escape(name)}" data-chaotic="{flag or "unknown"}"{cls}>')
        for col, _, _kind in heads:
            v = r.get(col)
            if col == "system":
                href = links.get(name)
                cell = (
                    f'<a href="{html.escape(href)}">{html.escape(name)}</a>'
                    if href
                    else html.escape(name)
                )
                if name in notebooks:
                    cell += f' <a class="nb" href="{html.escape(notebooks[name])}">(notebook)</a>'
                out.append(f'<td class="name" data-v="{html.escape(name)}">{cell}</td>')
            elif col == "chaotic":
                reason = html.escape(str(r.get("chaos_reason") or ""), quote=True)
                out.append(f'<td data-v="{flag}" title="{reason}">{flag or "–"}</td>')
            elif col == "dimension":
                out.append(f'<td data-v="{_num(v)}">{int(v) if _num(v) else "–"}</td>')
            else:
                out.append(f'<td data-v="{_num(v)}">{_show(v)}</td>')
        out.append("</tr>")
    out.append("</tbody></table></div>")
    out.append(f"<script>{_SCRIPT}</script>")
    return "\n".join(out)
