# Cadenza: two commands on a fresh clone.
#   make run   - set up, then run the main job on the embedded default corpus
#                (needs Python 3.11+ and Node 20 only: no system packages)
#   make test  - set up, install the system packages the tests need when missing
#                (scripts/system-deps.sh), then run every test (Python, JavaScript, browser)
# and, while working on it:
#   make check - the quick tests: no browser, no training or export of a model (pytest -m
#                "not browser and not slow"), then the JavaScript tests
# Python lands in .venv/, JavaScript in node_modules/, outputs in runs/ and build/.

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
UV_VERSION := 0.13.9
RUN_DIR ?= runs/chorales
# mkdocs-material prints an end-of-life banner at every build; its documented switch
# silences it, for make run and the tests alike (mkdocs serve: set it yourself).
export NO_MKDOCS_2_WARNING := 1
# The shipped chorales model's split and inputs (site/models/chorales/config.json has its
# exact command) in 18 epochs instead of its 26, so that make run trains in minutes: the
# cosine schedule spans the epochs asked for. Then its form head (which bars come back,
# and where songs end: python -m trainer form) is fitted as the shipped model's was.
TRAIN_FLAGS ?= --transpose 2 --test-songs trainer/splits/chorales-v1.json \
	--sounding-input --lookback-input --bar-input --epochs 18

# pytest on every core (pytest-xdist); --dist loadgroup keeps the tests of one
# xdist_group (those sharing a module's trained model or exports) on one process.
PYTEST := $(PY) -m pytest -q -n auto --dist loadgroup
TEST_MODELS := build/test-models

.PHONY: run test check setup system-deps site examples lock

# Train (or resume) the default model, fit its form head, evaluate it, write a few
# songs, export it to site/models/yours (git-ignored) and build the site around it.
run: setup
	$(PY) -m trainer train --run-dir $(RUN_DIR) \
	  $(if $(wildcard $(RUN_DIR)/config.json),--resume,$(TRAIN_FLAGS))
	$(PY) -m trainer form --run-dir $(RUN_DIR)
	$(PY) -m trainer evaluate --run-dir $(RUN_DIR)
	rm -rf $(RUN_DIR)/songs
	$(PY) -m trainer sample --run-dir $(RUN_DIR) --out-dir $(RUN_DIR)/songs --num-files 3
	$(PY) -m converter --run-dir $(RUN_DIR) --out site/models/yours
	$(MAKE) site
	@echo "songs in $(RUN_DIR)/songs; site in build/site (preview: .venv/bin/mkdocs serve)"

# Two lines at once. Beside pytest on every core (its trainings niced), one chain builds
# the tiny test models, then runs what reads them: npm test, and pytest -m "browser or
# test_models" in one process (mostly waiting on the pages, which must get the CPU when
# they ask for it: some play keys at a tempo). The chain's reports follow pytest's.
test: setup system-deps
	mkdir -p build
	( $(PY) scripts/make_test_models.py --out $(TEST_MODELS) && npm test && \
	  $(PY) -m pytest -q -m "browser or test_models" ) > build/chain-tests.log 2>&1 & chain=$$!; \
	nice -n 10 $(PYTEST) -m "not browser and not test_models"; others=$$?; \
	wait $$chain; status=$$?; \
	echo "--- the test models, npm test, then pytest -m 'browser or test_models':"; \
	cat build/chain-tests.log; test $$others = 0 && test $$status = 0

# The tiny test models (the JavaScript tests load them) only when missing or older
# than the Python code or the set-up.
check: setup $(TEST_MODELS)/stepper.json
	$(PYTEST) -m "not browser and not slow"
	npm test

$(TEST_MODELS)/stepper.json: $(STAMP) scripts/make_test_models.py \
		$(shell find trainer converter -name '*.py' -o -name '*.json')
	$(PY) scripts/make_test_models.py --out $(TEST_MODELS)

setup: $(STAMP) node_modules/.package-lock.json

# The full Python set, pinned with hashes in requirements.lock (`make lock`
# regenerates it from pyproject.toml), then this checkout on the venv's path
# (what an editable install does, without setuptools' build warnings).
$(STAMP): pyproject.toml requirements.lock
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q --require-hashes -r requirements.lock
	$(PY) -c "import pathlib, sysconfig; pathlib.Path(sysconfig.get_paths()['purelib'], 'cadenza.pth').write_text('$(CURDIR)\n')"
	touch $@

# Re-resolve requirements.lock for every platform (Linux, macOS) with uv.
lock: $(STAMP)
	$(PY) -m pip install -q "uv==$(UV_VERSION)"
	$(VENV)/bin/uv pip compile pyproject.toml --extra dev --universal --generate-hashes \
	  --python-version 3.11 --no-header --output-file requirements.lock

node_modules/.package-lock.json: package.json package-lock.json
	npm ci --no-audit --no-fund

# A browser, fluidsynth and the FluidR3 GM soundfont: apt on Debian and Ubuntu,
# Homebrew on macOS; elsewhere it says what to install and fails.
system-deps: setup
	PY=$(PY) scripts/system-deps.sh

# The website, into build/site. hooks/build.py bundles web/src with esbuild (the
# piano samples are committed in site/assets/piano); hooks/content.py writes the
# model list, model cards, training curves, examples and flag reference.
site: setup
	$(PY) -m mkdocs build --strict

# Regenerate every example song of the shipped models (deterministic).
examples: setup system-deps
	$(PY) scripts/make_examples.py --models site/models --out site/examples
