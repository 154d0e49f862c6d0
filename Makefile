# Two commands on a fresh machine: `make study` and `make test`. Both create .venv when missing.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
STUDY ?= default
PYTEST_ARGS ?=
# The CPU build of torch lies on this machine's disk; an unpinned torch would pull a multi-GB CUDA build.
TORCH_SPEC ?= torch==2.13.0

.PHONY: study data test test-fast lab lint install wordnet chromium clean-outputs

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q "$(TORCH_SPEC)"
	$(PY) -m pip install -q -e ".[dev,tfhub,lab,freq]" "$(TORCH_SPEC)"
	@touch $(STAMP)

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

# The quick tier: everything but the tests marked slow (real models, notebooks, browsers).
test-fast: $(STAMP)
	$(VENV)/bin/ruff check .
	$(PY) -m pytest -m "not slow" $(PYTEST_ARGS)

lab: install
	$(VENV)/bin/jupyter lab notebooks

lint: $(STAMP)
	$(VENV)/bin/ruff check .
