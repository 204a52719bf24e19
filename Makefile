# Bilim Assistant — `make run` (seed the store from the sample corpus, serve the API + web chat), `make test`.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
DATA_DIR ?= data/store
STAMP := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 8000
# The web chat's browser test drives Debian's Chromium (no browser download).
CHROMIUM := /usr/bin/chromium

.PHONY: setup run ingest ask test test-fast eval lint typecheck clean

setup: $(STAMP) $(CHROMIUM)

# Re-runs only when pyproject.toml changes; torch goes first, pinned to the CPU wheel on local disk,
# so that sentence-transformers (dev/test extra) does not pull a multi-GB CUDA build.
$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet torch==2.13.0
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

# Installed only when missing, so a prepared machine skips this; the machines run as root.
$(CHROMIUM):
	@if [ "$$(id -u)" != 0 ]; then echo "Debian's chromium is missing: sudo apt-get install chromium" >&2; exit 1; fi
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium

ingest: setup
	$(PY) -m ingest data/corpus --data-dir $(DATA_DIR)

# First run: ingest data/corpus into the empty store (never again, so deleted documents stay deleted).
run: setup
	$(PY) -m assistant serve --data-dir $(DATA_DIR) --seed data/corpus --host $(HOST) --port $(PORT)

ask: setup
	$(PY) -m assistant ask --data-dir $(DATA_DIR) \
		"Орусиянын ЖОЖдорунда кыргызстандыктар үчүн канча бюджеттик орун бар?" \
		"Сколько бюджетных мест выделяется гражданам Кыргызстана в вузах России?" \
		"How many state-funded places do Russian universities give Kyrgyz citizens each year?" \
		"Кыргызстандыктар үчүн Казакстандын ЖОЖдорунда канча бюджеттик орун бар?"

lint: setup
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(VENV)/bin/lint-imports

typecheck: setup
	$(PY) -m mypy assistant ingest vectorstore eval bots
	$(PY) -m mypy tests

test: lint typecheck
	$(PY) -m pytest -q

# The fast layer (< 1 min): every test not marked slow (no model, no Chroma, no process), failing under 85 %
# line coverage of assistant/core. Modules that are slow as a whole are not even imported; three pytest
# plugins of the dev tools (hypothesis, schemathesis, langsmith) only cost start-up time here.
test-fast: $(STAMP)
	$(PY) -m pytest -q -m "not slow" -p no:hypothesispytest -p no:schemathesis -p no:langsmith_plugin \
		--cov=assistant.core --cov-report=term-missing --cov-fail-under=85

# Every README evaluation table: the dev set and both gold parts, with the floors beside each figure (~10 min).
eval: setup
	$(PY) -m eval report --out eval-report

clean:
	rm -rf $(DATA_DIR) .pytest_cache .mypy_cache .ruff_cache .coverage
