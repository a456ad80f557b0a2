# Report rules: papermill renders the templates in reports/ into HTML pages under
# results/reports (executed notebooks beside them, figures also as PNG for
# `snakemake --report`), and the index links them. Uses CFG, RESULTS, SYSTEMS, EVAL_DATASETS
# and DSRBENCH from the Snakefile; each rule is a thin call of `dsrbench report`.
import json
import os

REPORTS = f"{RESULTS}/reports"
REPORT_CFG = CFG["reports"]
REPORT_TEMPLATES = os.path.join(workflow.basedir, "reports")
# one page per configured method; the truth oracle is the reference on every page instead
REPORT_METHODS = [m for m in CFG["evaluation"]["methods"] if m != "truth"]
REPORT_PAPERS = list(REPORT_CFG["papers"])
REPORT_SEEDS = CFG["evaluation"]["seeds"]


def report_pages():
    """Every page of this configuration (the index's inputs)."""
    if not EVAL_DATASETS:
        return []
    return [
        f"{REPORTS}/leaderboard.html",
        *[f"{REPORTS}/systems/{s}.html" for s in SYSTEMS],
        *[f"{REPORTS}/methods/{m}.html" for m in REPORT_METHODS],
        *[f"{REPORTS}/papers/{p}.html" for p in REPORT_PAPERS],
    ]


def _report_params(**page):
    """The notebook parameters: where the results are, what the config asked for."""
    return json.dumps(
        {
            "results_dir": RESULTS,
            "methods": CFG["evaluation"]["methods"],
            "n_boot": REPORT_CFG["bootstrap_samples"],
            **page,
        }
    )


def _prediction_records(systems=None, methods=None):
    return [
        f"{RESULTS}/predictions/{d}/{m}/{s}/seed{k}.json"
        for d in EVAL_DATASETS
        for m in (methods or CFG["evaluation"]["methods"])
        for s in (systems or SYSTEMS)
        for k in REPORT_SEEDS
    ]


_RENDER = (
    "{DSRBENCH} report render {input.template:q} --out {output.html:q}"
    " --figures {output.figures:q} --params-json {params.json:q}"
    " --kernel {params.kernel:q} --timeout {params.timeout} --cwd . > {log:q} 2>&1"
)

wildcard_constraints:
    paper="|".join(["gilpin2023", "dsr"]),


rule report_leaderboard:
    """Methods ranked across systems on every metric family, beside the truth floors."""
    input:
        metrics=f"{RESULTS}/metrics.parquet",
        template=os.path.join(REPORT_TEMPLATES, "leaderboard.ipynb"),
    output:
        html=f"{REPORTS}/leaderboard.html",
        notebook=f"{REPORTS}/leaderboard.ipynb",
        figures=report(
            directory(f"{REPORTS}/figures/leaderboard"),
            patterns=["{name}.png"],
            category="Leaderboard",
        ),
    log:
        f"{RESULTS}/logs/report/leaderboard.log",
    params:
        json=lambda w: _report_params(),
        kernel=REPORT_CFG["kernel"],
        timeout=REPORT_CFG["cell_timeout_seconds"],
    threads: 1
    resources:
        mem_mb=4000,
        runtime=60,
    shell:
        _RENDER


rule report_system:
    """One system: attractors, forecasts, power spectra and metrics of every method."""
    input:
        metrics=f"{RESULTS}/metrics.parquet",
        predictions=lambda w: _prediction_records(systems=[w.system]),
        template=os.path.join(REPORT_TEMPLATES, "system.ipynb"),
    output:
        html=f"{REPORTS}/systems/{{system}}.html",
        notebook=f"{REPORTS}/systems/{{system}}.ipynb",
        figures=report(
            directory(f"{REPORTS}/figures/systems/{{system}}"),
            patterns=["{name}.png"],
            category="Systems",
            subcategory="{system}",
        ),
    log:
        f"{RESULTS}/logs/report/systems/{{system}}.log",
    params:
        json=lambda w: _report_params(system=w.system),
        kernel=REPORT_CFG["kernel"],
        timeout=REPORT_CFG["cell_timeout_seconds"],
    threads: 1
    resources:
        mem_mb=4000,
        runtime=60,
    shell:
        _RENDER


rule report_method:
    """One method: training curves and time, scores against system properties, and the
    AL-RNN's symbolic code."""
    input:
        metrics=f"{RESULTS}/metrics.parquet",
        # the predictions come after training: the training records and logs are there too
        predictions=lambda w: _prediction_records(methods=[w.method]),
        template=os.path.join(REPORT_TEMPLATES, "method.ipynb"),
    output:
        html=f"{REPORTS}/methods/{{method}}.html",
        notebook=f"{REPORTS}/methods/{{method}}.ipynb",
        figures=report(
            directory(f"{REPORTS}/figures/methods/{{method}}"),
            patterns=["{name}.png"],
            category="Methods",
            subcategory="{method}",
        ),
    log:
        f"{RESULTS}/logs/report/methods/{{method}}.log",
    params:
        json=lambda w: _report_params(method=w.method),
        kernel=REPORT_CFG["kernel"],
        timeout=REPORT_CFG["cell_timeout_seconds"],
    threads: 1
    resources:
        mem_mb=4000,
        runtime=60,
    shell:
        _RENDER


rule report_paper:
    """A paper page (reports.papers): our figures beside the published ones."""
    input:
        metrics=f"{RESULTS}/metrics.parquet",
        predictions=_prediction_records(),
        template=lambda w: os.path.join(REPORT_TEMPLATES, f"{w.paper}.ipynb"),
    output:
        html=f"{REPORTS}/papers/{{paper}}.html",
        notebook=f"{REPORTS}/papers/{{paper}}.ipynb",
        figures=report(
            directory(f"{REPORTS}/figures/papers/{{paper}}"),
            patterns=["{name}.png"],
            category="Papers",
            subcategory="{paper}",
        ),
    log:
        f"{RESULTS}/logs/report/papers/{{paper}}.log",
    params:
        json=lambda w: _report_params(),
        kernel=REPORT_CFG["kernel"],
        timeout=REPORT_CFG["cell_timeout_seconds"],
    threads: 1
    resources:
        mem_mb=4000,
        runtime=60,
    shell:
        _RENDER


rule report_index:
    """results/reports/index.html linking every page and its executed notebook."""
    input:
        report_pages(),
    output:
        f"{REPORTS}/index.html",
    log:
        f"{RESULTS}/logs/report/index.log",
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    shell:
        "{DSRBENCH} report index {input:q} --out {output:q} --results-dir {RESULTS:q}"
        " > {log:q} 2>&1"
