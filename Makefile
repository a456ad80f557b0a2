# dsrbench: `make run` and `make test` do all set-up on a fresh machine.
#   make run     create .venv, install, run the workflow on config.yaml
#   make test    same set-up, then the default test suite (not the `slow` tests)
#   make lint    ruff
#   make clean   remove results and caches (keeps .venv; `make distclean` removes it too)

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
CORES ?= all
# Extra arguments, e.g. make run SNAKEMAKE_ARGS="--configfile configs/full.yaml"
SNAKEMAKE_ARGS ?=
# e.g. make test PYTEST_ARGS="-m slow" or PYTEST_ARGS="tests/test_config.py"
PYTEST_ARGS ?=
PYTEST_WORKERS ?= 2

.PHONY: all install run test lint clean distclean

all: run

install: $(STAMP)

# Re-install when the dependencies change. torch==2.13.0 is satisfied by a CPU build
# (2.13.0+cpu) where pip finds one.
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --upgrade pip
	$(BIN)/python -m pip install -e '.[dev]'
	touch $@

run: $(STAMP)
	$(BIN)/snakemake --cores $(CORES) $(SNAKEMAKE_ARGS)

# pytest exit status 5 means "no tests collected": reported as an error, not hidden.
test: $(STAMP)
	@rc=0; $(BIN)/python -m pytest -n $(PYTEST_WORKERS) $(PYTEST_ARGS) || rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "make test: error: pytest collected no tests" >&2; fi; \
	exit $$rc

lint: $(STAMP)
	$(BIN)/ruff check .

clean:
	rm -rf results .snakemake .pytest_cache .ruff_cache benchmarks/out
	find . -path ./$(VENV) -prune -o -name __pycache__ -type d -prune -exec rm -rf {} +

distclean: clean
	rm -rf $(VENV) src/*.egg-info
