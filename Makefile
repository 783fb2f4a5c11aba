# Cadenza: two commands on a fresh clone.
#   make run   - set up, then run the main job on the embedded default corpus
#   make test  - set up, then run every test
# Everything lands in .venv/ (Python) and node_modules/ (JavaScript).

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run test setup prepare

run: prepare

test: setup
	$(PY) -m pytest -q

setup: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e ".[dev]"
	touch $@

prepare: setup
	$(PY) -m trainer prepare
