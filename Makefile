# Cadenza: two commands on a fresh clone.
#   make run   - set up, then run the main job on the embedded default corpus
#   make test  - set up, then run every test (Python, JavaScript, browser)
# Python lands in .venv/, JavaScript in node_modules/, outputs in runs/ and build/.

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
RUN_DIR ?= runs/chorales

.PHONY: run test setup system-deps site

run: setup
	$(PY) -m trainer prepare

test: setup system-deps
	$(PY) scripts/make_test_models.py --out build/test-models
	$(PY) -m pytest -q
	npm test

setup: $(STAMP) node_modules/.package-lock.json

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e ".[dev]"
	touch $@

node_modules/.package-lock.json: package.json package-lock.json
	npm ci --no-audit --no-fund

system-deps:
	scripts/system-deps.sh

# The website, into build/site. hooks/build.py bundles web/src with esbuild and
# renders the piano samples (fluidsynth) when missing; hooks/content.py writes
# the model list, model cards, training curves, examples and flag reference.
site: setup system-deps
	$(PY) -m mkdocs build --strict
