# Report rules: papermill renders the templates in reports/ into HTML pages under
# results/reports (executed notebooks beside them, figures also as PNG for
# `snakemake --report`), and the index links them. One rule renders every page, named by
# its page id (dsrbench.layout.page_id: leaderboard, systems/<system>, methods/<method>,
# papers/<paper>); REPORT_KINDS gives each kind's template, inputs and parameters. Uses CFG,
# RESULTS, W, SYSTEMS, EVAL_DATASETS, DSRBENCH and prediction_records from the Snakefile and
# evaluate.smk; each rule is a thin call of `dsrbench report`.
import json
import os
from dataclasses import dataclass
from typing import Callable

from dsrbench import references as _references

REPORT_CFG = CFG["reports"]
REPORT_TEMPLATES = os.path.join(workflow.basedir, "reports")
# one page per configured method; the truth oracle is the reference on every page instead
REPORT_METHODS = _references.methods_only(CFG["evaluation"]["methods"])


@dataclass(frozen=True)
class PageKind:
    """How one kind of report page is made, as functions of the page's name."""

    template: Callable  # name -> notebook file name under reports/
    category: str  # its category in `snakemake --report`
    predictions: Callable  # name -> prediction records the page reads (beyond the metrics)
    params: Callable  # name -> notebook parameters of this page


REPORT_KINDS = {
    "leaderboard": PageKind(
        template=lambda name: "leaderboard.ipynb",
        category="Leaderboard",
        predictions=lambda name: [],
        params=lambda name: {"exclude_nonchaotic": REPORT_CFG["exclude_nonchaotic"]},
    ),
    "system": PageKind(
        template=lambda name: "system.ipynb",
        category="Systems",
        predictions=lambda name: prediction_records(EVAL_DATASETS, systems=[name]),
        params=lambda name: {"system": name},
    ),
    "method": PageKind(
        template=lambda name: "method.ipynb",
        category="Methods",
        # the predictions come after training: the training records and logs are there too
        predictions=lambda name: prediction_records(EVAL_DATASETS, methods=[name]),
        params=lambda name: {"method": name},
    ),
    "paper": PageKind(
        template=lambda name: f"{name}.ipynb",
        category="Papers",
        predictions=lambda name: prediction_records(EVAL_DATASETS),
        params=lambda name: {},
    ),
}


def report_pages():
    """The page ids of this configuration."""
    if not EVAL_DATASETS:
        return []
    return [
        layout.page_id("leaderboard"),
        *[layout.page_id("system", s) for s in SYSTEMS],
        *[layout.page_id("method", m) for m in REPORT_METHODS],
        *[layout.page_id("paper", p) for p in REPORT_CFG["papers"]],
    ]


def _page(w):
    """(kind, its PageKind, name) of the page a job renders."""
    kind, name = layout.page_kind(w.page)
    return kind, REPORT_KINDS[kind], name


def _report_params(w):
    """The notebook parameters: where the results are, what the config asked for."""
    _, page, name = _page(w)
    return json.dumps(
        {
            "results_dir": RESULTS,
            "methods": CFG["evaluation"]["methods"],
            "n_boot": REPORT_CFG["bootstrap_samples"],
            **page.params(name),
        }
    )


wildcard_constraints:
    page="|".join(
        [
            layout.page_id("leaderboard"),
            *(f"{layout.PAGE_KINDS[k]}/[A-Za-z0-9_]+" for k in ("system", "method", "paper")),
        ]
    ),


rule report_page:
    """One report page: the leaderboard (methods ranked across systems on every metric
    family, beside the truth floors), a system (attractors, forecasts, power spectra and
    metrics of every method), a method (training curves and time, scores against system
    properties, the AL-RNN's symbolic code) or a paper (our figures beside the published
    ones)."""
    input:
        metrics=layout.merged_metrics(RESULTS),
        predictions=lambda w: _page(w)[1].predictions(_page(w)[2]),
        template=lambda w: os.path.join(REPORT_TEMPLATES, _page(w)[1].template(_page(w)[2])),
    output:
        html=layout.report_page(RESULTS, W.page),
        notebook=layout.report_notebook(RESULTS, W.page),
        figures=report(
            directory(layout.report_figures(RESULTS, W.page)),
            patterns=["{name}.png"],
            category=lambda w: _page(w)[1].category,
            subcategory=lambda w: _page(w)[2],
        ),
    log:
        layout.report_log(RESULTS, W.page),
    params:
        json=_report_params,
        kernel=REPORT_CFG["kernel"],
        timeout=REPORT_CFG["cell_timeout_seconds"],
    threads: 1
    resources:
        mem_mb=4000,
        runtime=60,
    shell:
        "{DSRBENCH} report render {input.template:q} --out {output.html:q}"
        " --figures {output.figures:q} --params-json {params.json:q}"
        " --kernel {params.kernel:q} --timeout {params.timeout} --cwd . > {log:q} 2>&1"


rule report_index:
    """results/reports/index.html linking every page and its executed notebook."""
    input:
        [layout.report_page(RESULTS, p) for p in report_pages()],
    output:
        layout.report_index(RESULTS),
    log:
        layout.report_index_log(RESULTS),
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    shell:
        "{DSRBENCH} report index {input:q} --out {output:q} --results-dir {RESULTS:q}"
        " > {log:q} 2>&1"
