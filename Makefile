# Bilim Assistant — `make run` (ingest the sample corpus and answer sample questions), `make test`.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
DATA_DIR ?= data/store
STAMP := $(VENV)/.installed

.PHONY: setup run ingest ask test lint typecheck clean

setup: $(STAMP)

# Re-runs only when pyproject.toml changes; torch goes first, pinned to the CPU wheel on local disk,
# so that sentence-transformers (dev/test extra) does not pull a multi-GB CUDA build.
$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet torch==2.13.0
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

ingest: setup
	$(PY) -m ingest data/corpus --data-dir $(DATA_DIR)

run: ingest
	$(PY) -m assistant ask --data-dir $(DATA_DIR) \
		"Орусиянын ЖОЖдорунда кыргызстандыктар үчүн канча бюджеттик орун бар?" \
		"Сколько бюджетных мест выделяется гражданам Кыргызстана в вузах России?" \
		"How many state-funded places do Russian universities give Kyrgyz citizens each year?" \
		"Кыргызстандыктар үчүн Казакстандын ЖОЖдорунда канча бюджеттик орун бар?"

lint: setup
	$(PY) -m ruff check .

typecheck: setup
	$(PY) -m mypy assistant ingest vectorstore eval

test: lint typecheck
	$(PY) -m pytest -q

clean:
	rm -rf $(DATA_DIR) .pytest_cache .mypy_cache .ruff_cache
