# Two commands on a fresh machine: `make study` and `make test`. Both create .venv when missing.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
STUDY ?= default
PYTEST_ARGS ?=
# The study environment is locked: requirements/study.lock (uv pip compile of pyproject's `dev` extra, which
# includes `study`) pins every package, torch as its CPU build (2.13.0+cpu: an unpinned torch would pull a
# multi-GB CUDA build). `make lock` regenerates it and environment.yml after a change to pyproject.toml.
LOCK := requirements/study.lock

.PHONY: study data test test-fast test-notebooks test-integration test-gpu lab lint install lock wordnet chromium clean-outputs

$(STAMP): pyproject.toml $(LOCK)
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r $(LOCK)
	$(PY) -m pip install -q --no-deps -e .
	@touch $(STAMP)

# Re-resolve the lock from pyproject.toml (PyPI, plus the local wheel folder for torch's CPU build), then
# regenerate environment.yml from it.
lock: $(STAMP)
	echo "torch==2.13.0+cpu" > $(VENV)/torch-override.txt
	$(VENV)/bin/uv pip compile pyproject.toml --extra dev --python-version 3.11 --no-header \
		$(if $(wildcard /opt/wheels),--find-links /opt/wheels) --override $(VENV)/torch-override.txt -o $(LOCK)
	$(PY) requirements/make_environment.py

install: $(STAMP) wordnet chromium

# WordNet 3.0 dict files from Debian's wordnet-base, where apt is available and nothing provides WordNet yet.
wordnet:
	@if [ ! -f /usr/share/wordnet/index.noun ] && command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ]; then \
		(apt-get install -y -q wordnet-base >/dev/null 2>&1 || (apt-get update -q >/dev/null && apt-get install -y -q wordnet-base >/dev/null)) \
		&& echo "installed wordnet-base"; \
	fi

# Headless Chromium from Debian: the tests open the rendered report in a real browser.
chromium:
	@if ! command -v chromium >/dev/null && command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ]; then \
		(apt-get install -y -q chromium >/dev/null 2>&1 || (apt-get update -q >/dev/null && apt-get install -y -q chromium >/dev/null)) \
		&& echo "installed chromium"; \
	fi

# Data sets missing from the data folder are fetched from their public URLs and verified (WORDEMBED_DATA wins).
data: $(STAMP)
	$(VENV)/bin/wordembed data fetch --all

study: install data
	$(VENV)/bin/wordembed run --study $(STUDY)

test: install
	$(VENV)/bin/ruff check .
	$(PY) -m pytest $(PYTEST_ARGS)

# The unit tier (every test not marked slow); `make test-notebooks`, `make test-integration` and `make test-gpu`
# run the other tiers alone (see tests/conftest.py).
test-fast: $(STAMP)
	$(VENV)/bin/ruff check .
	$(PY) -m pytest -m unit $(PYTEST_ARGS)

test-notebooks test-integration test-gpu: test-%: $(STAMP)
	$(PY) -m pytest -m $* $(PYTEST_ARGS)

lab: install
	$(VENV)/bin/jupyter lab notebooks

lint: $(STAMP)
	$(VENV)/bin/ruff check .
