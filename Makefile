# Two commands on a fresh machine:
#   make demo   – set up and run the whole system on this machine (embedded broker)
#   make test   – set up and run the test suite (real mosquitto, SQLite, onnxruntime, Chromium)
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
# The officer app's browser libraries (Leaflet), pinned in package-lock.json.
NODE_STAMP := node_modules/.package-lock.json
ARGS   ?=

.PHONY: demo test lint system-packages bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

$(NODE_STAMP): package.json package-lock.json
	@command -v npm >/dev/null || { echo "npm is missing: make system-packages" >&2; exit 1; }
	npm ci --no-audit --no-fund

demo: $(STAMP) $(NODE_STAMP)
	$(BIN)/villagewatch demo $(ARGS)

# The tests need what pip cannot install: Eclipse Mosquitto, Chromium (and npm, for Leaflet).
system-packages:
	@bash .ci/system-packages

test: $(STAMP) system-packages $(NODE_STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/pytest $(ARGS)

lint: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

bench: $(STAMP) system-packages $(NODE_STAMP)
	$(BIN)/python bench/replay_throughput.py
	$(BIN)/python bench/e2e_latency.py
	$(BIN)/python bench/hub_ingest.py
	$(BIN)/python bench/hub_scale.py

clean:
	rm -rf $(VENV) var .pytest_cache node_modules
