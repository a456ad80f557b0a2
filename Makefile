# dsrbench: `make run` and `make test` do all set-up on a fresh machine (python3 and make).
#   make run        create .venv, install, run the workflow on config.yaml
#   make test       same set-up, then the default test tier (tests/unit: -m "not e2e")
#   make test-e2e   same set-up plus Debian's chromium (apt-get), then the end-to-end tier
#                   (tests/e2e: -m e2e: workflow runs, browser, kill-and-resume, long Lyapunov runs,
#                   SLURM: needs the cluster of `.ci/slurm-cluster install && start`)
#   make lint       ruff
#   make docs       regenerate the run pages of docs/results/ from their exports, and the
#                   claim pages of the benchmark scripts from their CSVs and run.json (--page-only)
#   make docs-check the same, then fail if docs/ differs from what is committed (CI)
#   make clean      remove results and caches (keeps .venv; `make distclean` removes it too)

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
CORES ?= all
# Extra arguments, e.g. make run SNAKEMAKE_ARGS="--configfile configs/full.yaml"
SNAKEMAKE_ARGS ?=
# e.g. make test PYTEST_ARGS="tests/unit/test_config.py"
PYTEST_ARGS ?=
PYTEST_WORKERS ?= 2
PYTEST_DURATIONS ?= 15

.PHONY: all install browser-deps run test test-e2e lint docs docs-check clean distclean

all: run

install: $(STAMP)

# Re-install when the dependencies change. The dev extra runs the tests; the slurm extra
# (the Snakemake SLURM executor plugin, dask-jobqueue) profiles/slurm and the SLURM
# end-to-end tests; the chronos extra (chronos-forecasting) the chronos adapter and its
# tests. torch==2.13.0 is satisfied by a CPU build
# (2.13.0+cpu) where pip finds one. .ci/check-python stops with the command to run when
# $(PYTHON) is missing, too old or without its venv/ensurepip module.
$(STAMP): pyproject.toml
	@test -x $(BIN)/python || .ci/check-python $(PYTHON)
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --upgrade pip
	$(BIN)/python -m pip install -e '.[dev,slurm,chronos]'
	$(BIN)/python -m dsrbench.pipeline.warmup  # compile the numba kernels once (their disk cache)
	touch $@

# Debian's chromium and chromium-driver for tests/e2e/test_browser.py (apt-get, as root or with
# sudo; nothing to do when /usr/bin/chromium and /usr/bin/chromedriver exist).
browser-deps:
	@.ci/install-chromium

run: $(STAMP)
	$(BIN)/snakemake --cores $(CORES) $(SNAKEMAKE_ARGS)

# pytest exit status 5 means "no tests collected": reported as an error, not hidden.
define pytest
	@rc=0; $(BIN)/python -m pytest -n $(PYTEST_WORKERS) -m "$(1)" \
		--durations=$(PYTEST_DURATIONS) $(PYTEST_ARGS) || rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "make $@: error: pytest collected no tests" >&2; fi; \
	exit $$rc
endef

test: $(STAMP)
	$(call pytest,not e2e)

test-e2e: browser-deps $(STAMP)
	$(call pytest,e2e)

lint: $(STAMP)
	$(BIN)/ruff check .

docs: $(STAMP)
	$(BIN)/python benchmarks/tools/results_pages.py
	$(BIN)/python benchmarks/accuracy/koopman_information.py --page-only
	$(BIN)/python benchmarks/accuracy/kovae_irregular.py --page-only
	$(BIN)/python benchmarks/speed/node_solver_regularisation.py --page-only
	$(BIN)/python benchmarks/accuracy/havok_lorenz_forcing.py --page-only
	$(BIN)/python benchmarks/accuracy/jacobian_regularisation.py --part page

docs-check: docs
	git diff --exit-code -- docs/

clean:
	rm -rf results .snakemake .pytest_cache .ruff_cache benchmarks/out
	find . -path ./$(VENV) -prune -o -name __pycache__ -type d -prune -exec rm -rf {} +

distclean: clean
	rm -rf $(VENV) src/*.egg-info
