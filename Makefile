# Two commands: `make run` (demo app on SQLite) and `make test` (the whole suite).
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
DEMO_CLAIMS ?= 8000
DEMO_SCENARIO ?= storm_surge
# The demo champions learn from the months before the storm, so monitoring has a shift to show.
DEMO_TRAIN_UNTIL ?= 2026-04-30
PORT ?= 8501

.PHONY: run test install install-dev lint format bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: $(BIN)/python requirements.txt pyproject.toml
	$(BIN)/pip install --quiet -r requirements.txt
	$(BIN)/pip install --quiet --no-deps -e .
	touch $@

$(VENV)/.installed-dev: $(VENV)/.installed requirements-dev.txt
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $@

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

export HF_HUB_OFFLINE := 1

run: install
	$(BIN)/claimlens db upgrade
	$(BIN)/claimlens seed --claims $(DEMO_CLAIMS) --scenario $(DEMO_SCENARIO)
	$(BIN)/claimlens train claim --profile quick --unless-champion --until $(DEMO_TRAIN_UNTIL)
	$(BIN)/claimlens train sentiment --profile quick --unless-champion --until $(DEMO_TRAIN_UNTIL)
	$(BIN)/claimlens score
	$(BIN)/claimlens users demo
	@echo "Starting the training worker and the app on http://localhost:$(PORT) (Ctrl-C stops both)"
	@trap 'kill 0' INT TERM EXIT; $(BIN)/claimlens worker & $(BIN)/streamlit run dashboard/app.py --server.port $(PORT)

test: install-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/pytest

lint: install-dev
	$(BIN)/ruff check .

format: install-dev
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: install-dev
	$(BIN)/python -m benchmarks.bench_generate_load
	$(BIN)/python -m benchmarks.bench_training --device cpu
	$(BIN)/python -m benchmarks.bench_scoring --device cpu

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
