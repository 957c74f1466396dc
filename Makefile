# Two commands: `make run` (demo app on SQLite) and `make test` (the whole suite).
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
DEMO_CLAIMS ?= 8000
DEMO_SCENARIO ?= storm_surge
# The demo champions learn from the months before the storm, so monitoring has a shift to show.
DEMO_TRAIN_UNTIL ?= $(shell $(BIN)/python -c "from core.data.seeding import demo_train_until as d; print(d())")
PORT ?= 8501
# Where the app listens: this machine only, unless set (ADDRESS=0.0.0.0 serves the network).
ADDRESS ?= 127.0.0.1
# The app starts once the champions exist and the first chunk of open claims is scored
# (and its top flagged claims explained); the worker does the rest in the background.
FIRST_CHUNK ?= 512
FIRST_EXPLANATIONS ?= 16

.PHONY: run test install install-dev lock lint format bench clean

# Installs come from the hash-locked files (requirements*.lock), made by `make lock` from the
# human-edited requirements*.txt. uv installs; it is itself pinned and hash-checked.
UV := $(BIN)/uv
# The CPU wheel of torch that the locks pin (by hash) lies in this folder on dev and CI machines.
FIND_LINKS ?= /opt/wheels
# Where Python may not write bytecode (PYTHONDONTWRITEBYTECODE set), each start would recompile every
# module it imports: compile site-packages once at install instead. Elsewhere Python caches it lazily.
UV_COMPILE := $(if $(PYTHONDONTWRITEBYTECODE),--compile-bytecode)
# `make install TORCH=cuda` (a GPU machine with PyPI) installs requirements-cuda.lock: the same pins
# with PyPI's CUDA build of torch and its nvidia packages, and no look at FIND_LINKS (whose CPU
# wheel would shadow it). The dev lock is CPU only.
TORCH ?= cpu
ifeq ($(TORCH),cuda)
LOCK := requirements-cuda.lock
INSTALLED := $(VENV)/.installed-cuda
UV_INSTALL = --python $(BIN)/python --quiet $(UV_COMPILE)
ifneq ($(filter install-dev test lint format bench,$(MAKECMDGOALS)),)
$(error The dev lock is CPU only: run `make $(MAKECMDGOALS)` without TORCH=cuda)
endif
else
LOCK := requirements.lock
INSTALLED := $(VENV)/.installed
UV_INSTALL = --python $(BIN)/python --quiet $(UV_COMPILE) $(if $(wildcard $(FIND_LINKS)),--find-links $(FIND_LINKS))
endif
# `make lock LOCK_ARGS=--upgrade` moves every pin to the newest release; plain `make lock` keeps them.
LOCK_ARGS ?=
UV_LOCK = --quiet --generate-hashes --python-version 3.11 --python-platform x86_64-manylinux_2_36 \
	--custom-compile-command "make lock" $(LOCK_ARGS)
# A lock's last line records the sha256 of the inputs it was made from; installing checks it.
lock_digest = cat $(1) | sha256sum | cut -c1-64
check_lock = test "$$(tail -n 1 $(1))" = "\# inputs sha256 $$($(call lock_digest,$(2)))" \
	|| { echo "$(1) was not made from the current $(2): run 'make lock'" >&2; exit 1; }

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(UV): requirements-uv.lock | $(BIN)/python
	$(BIN)/python -m pip install --quiet --no-deps --require-hashes -r requirements-uv.lock
	touch $@

$(INSTALLED): $(UV) $(LOCK) requirements.txt pyproject.toml
	@$(call check_lock,$(LOCK),requirements.txt)
	$(UV) pip install $(UV_INSTALL) --require-hashes -r $(LOCK)
	$(UV) pip install $(UV_INSTALL) --no-deps --no-build-isolation -e .
	touch $@

# Dev: the venv is synced to exactly the dev lock (plus uv and the project itself).
$(VENV)/.installed-dev: $(VENV)/.installed requirements-dev.lock requirements-dev.txt
	@$(call check_lock,requirements-dev.lock,requirements.txt requirements-dev.txt)
	$(UV) pip sync $(UV_INSTALL) --require-hashes requirements-dev.lock requirements-uv.lock
	$(UV) pip install $(UV_INSTALL) --no-deps --no-build-isolation -e .
	touch $@

install: $(INSTALLED)
install-dev: $(VENV)/.installed-dev

# Regenerates the locks from requirements-uv.txt, requirements.txt and requirements-dev.txt; the dev
# and CUDA locks keep every pin of requirements.lock (but torch's). Needs PyPI and torch's CPU wheel
# in FIND_LINKS; reads metadata only, so the CUDA build is not downloaded.
lock: $(UV)
	$(UV) pip compile $(UV_LOCK) requirements-uv.txt -o requirements-uv.lock
	$(UV) pip compile $(UV_LOCK) --find-links $(FIND_LINKS) requirements.txt -o requirements.lock
	@grep -q '^torch==[^ ]*+cpu ' requirements.lock \
		|| { echo "requirements.lock pins a torch other than the CPU build: is its wheel in $(FIND_LINKS)?" >&2; exit 1; }
	$(UV) pip compile $(UV_LOCK) --find-links $(FIND_LINKS) -c requirements.lock requirements-dev.txt \
		-o requirements-dev.lock
	sed -n 's/^\([A-Za-z0-9][^ ]*==[^ ]*\) .*/\1/p' requirements.lock | grep -v '^torch==' > $(VENV)/lock-pins.txt
	$(UV) pip compile $(UV_LOCK) -c $(VENV)/lock-pins.txt requirements.txt -o requirements-cuda.lock
	rm $(VENV)/lock-pins.txt
	echo "# inputs sha256 $$($(call lock_digest,requirements-uv.txt))" >> requirements-uv.lock
	echo "# inputs sha256 $$($(call lock_digest,requirements.txt))" >> requirements.lock
	echo "# inputs sha256 $$($(call lock_digest,requirements.txt requirements-dev.txt))" >> requirements-dev.lock
	echo "# inputs sha256 $$($(call lock_digest,requirements.txt))" >> requirements-cuda.lock

export HF_HUB_OFFLINE := 1

run: install
	$(BIN)/claimlens db upgrade
	$(BIN)/claimlens seed --claims $(DEMO_CLAIMS) --scenario $(DEMO_SCENARIO)
	$(BIN)/claimlens train claim --profile quick --unless-champion --until $(DEMO_TRAIN_UNTIL)
	$(BIN)/claimlens train sentiment --profile quick --unless-champion --until $(DEMO_TRAIN_UNTIL)
	$(BIN)/claimlens score --limit $(FIRST_CHUNK) --explain-limit $(FIRST_EXPLANATIONS)
	$(BIN)/claimlens users demo
	@echo "Starting the worker and the app on http://localhost:$(PORT) (Ctrl-C stops both)."
	@echo "The worker scores and explains the rest in the background; the app shows its progress."
	@trap 'kill 0' INT TERM EXIT; $(BIN)/claimlens worker & $(BIN)/streamlit run dashboard/server.py --server.port $(PORT) --server.address $(ADDRESS)

test: install-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports --no-cache
	$(BIN)/pytest

lint: install-dev
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/lint-imports --no-cache

format: install-dev
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: install-dev
	$(BIN)/python -m benchmarks.bench_generate_load
	$(BIN)/python -m benchmarks.bench_training --device cpu
	$(BIN)/python -m benchmarks.bench_scoring --device cpu

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
