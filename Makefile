# segmentkit developer commands. Every target bootstraps .venv on its own.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: test demo bench lint typecheck fmt clean venv

venv: $(STAMP)

$(STAMP): pyproject.toml examples/segmentkit_example/pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade "pip>=25.1"
	$(BIN)/python -m pip install -q -e ".[cli,testing]" --group dev
	$(BIN)/python -m pip install -q --no-deps -e examples/segmentkit_example
	@touch $(STAMP)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy --strict segmentkit segmentkit_notificator segmentkit_allstech

test: lint typecheck
	$(BIN)/pytest

demo: $(STAMP)
	$(BIN)/segmentkit demo

# The issue-14 speed table (every row, ~5 min); `python -m benchmarks` runs every benchmark.
bench: $(STAMP)
	$(BIN)/python -m benchmarks issue14

fmt: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf $(VENV) build dist .mypy_cache .ruff_cache
