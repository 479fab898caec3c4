# qdc developer and demo targets. `make demo` and `make test` each set everything up on a fresh clone.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
QDC := $(VENV)/bin/qdc
# The CPU build of torch: installed first so sentence-transformers does not pull a multi-GB CUDA build.
# Elsewhere: make TORCH_SPEC="torch --index-url https://download.pytorch.org/whl/cpu"
TORCH_SPEC ?= torch==2.13.0
STAMP := $(VENV)/.qdc-installed

.PHONY: install demo test test-fast lint format check bench bench-quick clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check $(TORCH_SPEC)
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[dev,bench,ray]'
	touch $(STAMP)

install: $(STAMP)

## The main job: curate sample_data/ with the default pipeline and the bundled model.
demo: $(STAMP)
	mkdir -p out
	$(QDC) run configs/default.yaml sample_data/instructions.jsonl -o out/curated.jsonl --workdir out/work
	@echo "curated subset: out/curated.jsonl; every removed row and why: out/curated.jsonl.removed.jsonl; run manifest: out/curated.jsonl.manifest.json"

## The whole test suite, the real-model test included.
test: $(STAMP)
	$(PY) -m pytest

test-fast: $(STAMP)
	$(PY) -m pytest -m "not model and not slow"

lint: $(STAMP)
	$(VENV)/bin/ruff check qdc tests benchmarks scripts
	$(VENV)/bin/ruff format --check qdc tests benchmarks scripts
	$(VENV)/bin/mypy qdc

format: $(STAMP)
	$(VENV)/bin/ruff format qdc tests benchmarks scripts

## What CI runs: lint (ruff check, ruff format --check), types (mypy) and the whole test suite; any failure fails.
check: lint test

bench: $(STAMP)
	$(PY) benchmarks/run_all.py

bench-quick: $(STAMP)
	$(PY) benchmarks/run_all.py --quick

clean:
	rm -rf out .mypy_cache .ruff_cache
