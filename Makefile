# Two commands matter: `make demo` and `make test`. Both create .venv on first use.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
OUT    ?= out/demo

.PHONY: demo test test-fast golden bench lint format clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev,spark]'
	touch $(STAMP)

# The web app's demo state is made afresh with the run: one account per role, new passwords.
demo: $(STAMP)
	$(BIN)/careis demo --out $(OUT)
	rm -f $(OUT).careis-serve.sqlite $(OUT).careis-serve.sqlite-wal $(OUT).careis-serve.sqlite-shm
	$(BIN)/careis users demo $(OUT)
	$(BIN)/careis commission report examples/commissioning/workbench.yaml --run $(OUT) --out $(OUT)/commission

test: $(STAMP)
	$(BIN)/python -m pytest -q

# test-fast leaves out Spark and the `slow` tests (a full demo run, repeated CLI runs).
test-fast: $(STAMP)
	$(BIN)/python -m pytest -q -m "not spark and not slow"

# Rewrite the golden files from a demo run; commit their diff with the change that causes it
# (tests/golden/README.md).
golden: $(STAMP)
	$(BIN)/python -m pytest -q tests/golden --update-golden

bench: $(STAMP)
	$(BIN)/python benchmarks/run.py

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks
	$(BIN)/mypy
	$(BIN)/lint-imports

format: $(STAMP)
	$(BIN)/ruff format src tests benchmarks
	$(BIN)/ruff check --fix src tests benchmarks

clean:
	rm -rf out .pytest_cache .mypy_cache .ruff_cache build src/*.egg-info
