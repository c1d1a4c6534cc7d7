# Set-up and everyday commands. `make search` and `make test` work on a fresh machine.
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# torch and torchvision first, pinned to the pair on this machine's disk, so pip looks no further.
TORCH_PINS ?= torch==2.14.1 torchvision==0.29.1
ARGS ?=

.PHONY: install search test test-slow test-all bench lint clean

$(BIN)/nas: pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q $(TORCH_PINS)
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $(BIN)/nas

install: $(BIN)/nas  ## create .venv and install nas with its dev tools

search: install  ## run the default search (digits, cnn, tpe, median pruner); extra overrides: make search ARGS="study.n_trials=50"
	$(BIN)/nas search $(ARGS)

test: install  ## the fast test suite (a few minutes on 2 cores)
	$(BIN)/python -m pytest -q

test-slow: install  ## only the slow tests
	$(BIN)/python -m pytest -q -m slow

test-all: install  ## fast and slow tests
	$(BIN)/python -m pytest -q -m "slow or not slow"

bench: install  ## measured comparisons; results land in benchmarks/results/
	$(BIN)/python benchmarks/overhead.py --json benchmarks/results/overhead.json

lint: install
	$(BIN)/ruff check nas_cli tests benchmarks

clean:
	rm -rf runs outputs multirun build dist *.egg-info
