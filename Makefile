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
# The schema test runs the OpenAPI patterns under ECMA rules with Debian's Node.js.
NODE := /usr/bin/node

# requirements/lock.txt pins every package of the project with its dev extra (torch as the CPU wheel on local
# disk, no nvidia-*/triton); requirements/lock-runtime.txt is its subset without the extras, for the Docker image.
LOCK := requirements/lock.txt
RUNTIME_LOCK := requirements/lock-runtime.txt

.PHONY: setup lock run ingest ask test test-fast eval lint typecheck clean postgres-server nginx

setup: $(STAMP) $(CHROMIUM) $(NODE) postgres-server nginx

# Re-runs only when the lock or pyproject.toml changes: the pinned packages first, then the project itself
# (editable) without letting pip resolve anything more.
$(STAMP): $(LOCK) pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r $(LOCK)
	$(PY) -m pip install --quiet --no-deps -e .
	touch $(STAMP)

# Re-resolves both lock files from pyproject.toml, keeping the pins that still fit (LOCK_FLAGS=--upgrade to take
# the newest), then installs and checks them. uv does not read pip's config, so it is told where the CPU torch
# wheel lies (TORCH_WHEELS) and held to it by requirements/torch-cpu.txt: PyPI's torch 2.13.0 is the CUDA build.
UV_VERSION := 0.13.8
TORCH_WHEELS ?= /opt/wheels
LOCK_FLAGS ?=
UV_COMPILE = $(PY) -m uv pip compile --quiet --python-version 3.11 --python-platform x86_64-manylinux_2_28 \
	--find-links $(TORCH_WHEELS) --custom-compile-command 'make lock' $(LOCK_FLAGS) pyproject.toml
lock:
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet uv==$(UV_VERSION)
	$(UV_COMPILE) --extra dev -c requirements/torch-cpu.txt -o $(LOCK)
	$(UV_COMPILE) -c $(LOCK) -o $(RUNTIME_LOCK)
	$(MAKE) --no-print-directory setup
	$(PY) -m pytest -q tests/test_lockfile.py

# Installed only when missing, so a prepared machine skips this; the machines run as root.
$(CHROMIUM):
	@if [ "$$(id -u)" != 0 ]; then echo "Debian's chromium is missing: sudo apt-get install chromium" >&2; exit 1; fi
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium

$(NODE):
	@if [ "$$(id -u)" != 0 ]; then echo "Debian's nodejs is missing: sudo apt-get install nodejs" >&2; exit 1; fi
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends nodejs

# The tests of shared records start a throw-away PostgreSQL cluster from Debian's server binaries (no service is
# started or needed); installed only when missing.
postgres-server:
	@if ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then exit 0; fi; \
	if [ "$$(id -u)" != 0 ]; then echo "PostgreSQL's server is missing: sudo apt-get install postgresql" >&2; exit 1; fi; \
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends postgresql

# The admission tests run compose's proxy config (deploy/nginx.conf) with Debian's nginx; installed only when missing
# (the tests start their own nginx process; no service needs to run).
nginx:
	@if command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ]; then exit 0; fi; \
	if [ "$$(id -u)" != 0 ]; then echo "nginx is missing: sudo apt-get install nginx-light" >&2; exit 1; fi; \
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends nginx-light

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
		"Бишкектен Ошко чейин канча километр?"

lint: setup
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(VENV)/bin/lint-imports

typecheck: setup
	$(PY) -m mypy assistant ingest vectorstore eval bots
	$(PY) -m mypy tests

# Two workers: the slow tests mostly wait on servers, processes and the browser, so one core sat idle (a fresh
# clone took 27 min in one process). A module's tests stay on one worker, in order (loadscope); the quality gate's
# store is built once for both (tests/conftest.py).
TEST_WORKERS ?= 2
test: lint typecheck
	$(PY) -m pytest -q -n $(TEST_WORKERS) --dist loadscope --durations=25

# The fast layer (< 1 min): every test not marked slow (no model, no Chroma, no process), failing under 85 %
# line coverage of assistant/core. Modules that are slow as a whole are not even imported; three pytest
# plugins of the dev tools (hypothesis, schemathesis, langsmith) only cost start-up time here.
test-fast: $(STAMP)
	$(PY) -m pytest -q -m "not slow" -p no:hypothesispytest -p no:schemathesis -p no:langsmith_plugin \
		--cov=assistant.core --cov-report=term-missing --cov-fail-under=85

# Every README evaluation table: the dev set and both gold parts, with the floors beside each figure (~10 min).
# Without ../shared/distractors: EVAL_ARGS=--gate-slice scores over the committed gate corpus instead.
EVAL_ARGS ?=
eval: setup
	$(PY) -m eval report --out eval-report $(EVAL_ARGS)

clean:
	rm -rf $(DATA_DIR) .pytest_cache .mypy_cache .ruff_cache .coverage
