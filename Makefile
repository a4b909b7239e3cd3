# Two commands on a fresh machine:
#   make demo   – set up and run the whole system on this machine (embedded broker)
#   make test   – set up and run the test suite (real mosquitto, SQLite, onnxruntime, Chromium)
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
ARGS   ?=

.PHONY: demo test lint system-packages bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/villagewatch demo $(ARGS)

# The tests need two things pip cannot install: Eclipse Mosquitto and Chromium.
system-packages:
	@bash .ci/system-packages

test: $(STAMP) system-packages
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/pytest $(ARGS)

lint: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

bench: $(STAMP) system-packages
	$(BIN)/python bench/replay_throughput.py
	$(BIN)/python bench/e2e_latency.py
	$(BIN)/python bench/hub_ingest.py
	$(BIN)/python bench/hub_scale.py

clean:
	rm -rf $(VENV) var .pytest_cache
