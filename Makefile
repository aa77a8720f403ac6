# Everything a newcomer needs: `make run` and `make test` set up .venv on first use (with the
# development tools); a server runs `make install` (the runtime alone, pinned by requirements.lock).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
LOCK := requirements.lock
PIP := $(BIN)/python -m pip --disable-pip-version-check
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml $(LOCK) | cksum | cut -d' ' -f1)
RUNTIME := $(VENV)/.runtime-$(shell cat pyproject.toml $(LOCK) | cksum | cut -d' ' -f1)

.PHONY: run test lint format bench accuracy clean install lock

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Tiến độ cần Python 3.11 trở lên / needs Python 3.11+ (set PYTHON=python3.11)")'
	$(PYTHON) -m venv $(VENV)

# Development: the pinned runtime, then the project in editable mode with its tools.
$(STAMP): pyproject.toml $(LOCK) | $(BIN)/python
	@echo "Cài đặt vào $(VENV) / installing into $(VENV)…"
	@$(PIP) install --quiet --upgrade pip
	@$(PIP) install --quiet --require-hashes --no-deps -r $(LOCK)
	@$(PIP) install --quiet -e ".[dev]"
	@rm -f $(VENV)/.installed-* $(VENV)/.runtime-*
	@touch $@

# A server: the runtime and PostgreSQL's driver, exactly as pinned (every file checked against its
# hash), then the project itself, built from this checkout without fetching anything else. The
# project is reinstalled at every run (an upgrade is `git pull && make install`).
install: $(RUNTIME)
	@$(PIP) install --quiet --no-deps --no-build-isolation --force-reinstall .
	@rm -f $(VENV)/.installed-*
	@echo "Đã cài Tiến độ vào $(VENV) / installed: $(BIN)/tiendo"

$(RUNTIME): pyproject.toml $(LOCK) | $(BIN)/python
	@echo "Cài các gói đã ghim vào $(VENV) / installing the pinned runtime into $(VENV)…"
	@$(PIP) install --quiet --require-hashes --no-deps -r $(LOCK)
	@rm -f $(VENV)/.runtime-*
	@touch $@

# Regenerate requirements.lock from pyproject.toml (the runtime, the postgresql extra and what
# building the project needs), keeping the pins that still fit; `make lock LOCK_FLAGS=--upgrade`
# moves every pin to the newest release. Only the package index decides: local wheel folders and
# extra indexes of this machine's pip configuration are left out.
LOCK_FLAGS ?=
lock: $(STAMP)
	env -u PIP_FIND_LINKS -u PIP_EXTRA_INDEX_URL PIP_CONFIG_FILE=/dev/null CUSTOM_COMPILE_COMMAND="make lock" \
		$(BIN)/pip-compile --quiet --generate-hashes --allow-unsafe --strip-extras \
		--extra postgresql --build-deps-for wheel --no-emit-index-url --no-emit-find-links \
		$(LOCK_FLAGS) --output-file $(LOCK) pyproject.toml

run: $(STAMP)
	@$(BIN)/tiendo start

# The type checker runs in both (CI runs `make test`); its settings are [tool.mypy] in pyproject.toml.
test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# Each benchmark writes its figures to bench/results/; report.py gathers them in docs/performance.md.
# A benchmark that fails (a goal of correctness missed, or an error) does not stop the others: the
# report is written, then make fails naming it.
bench: $(STAMP)
	@failed=""; for script in bench/bench_*.py; do module=bench.$$(basename $$script .py); \
		echo "== $$module"; $(BIN)/python -m $$module || failed="$$failed $$module"; done; \
	$(BIN)/python -m bench.report; \
	if [ -n "$$failed" ]; then echo "failed:$$failed"; exit 1; fi

accuracy: $(STAMP)
	$(BIN)/python -m bench.corpus_accuracy

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .hypothesis *.egg-info
