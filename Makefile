# One virtual environment per checkout (.venv), created on first use and refreshed when setup.py changes.
PYTHON ?= $(shell command -v python3.11 || command -v python3.12 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install test test-packaging lint format demo bench bench-peers bench-ablation soak clean

install: $(STAMP)

$(STAMP): setup.py pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev,demo]'
	touch $(STAMP)

# Offline after `make install`. Tests mostly wait (sandboxes, subprocesses, retry backoff), so more workers
# than cores; `loadscope` keeps each module (or class) on one worker, so its sandboxes and syncs are set up
# once, and hands modules out in collection order (`testpaths`: the long end-to-end modules first).
# `make test TEST_WORKERS=0` runs in one process.
TEST_WORKERS ?= 4

test: $(STAMP)
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadscope --no-loadscope-reorder

# The tests marked `packaging`: the image builds replayed in fresh venvs, installing from the package index
# (they need network).
test-packaging: $(STAMP)
	$(BIN)/python -m pytest -m packaging

# The fault, crash-and-resume, timeout, Stripe full-refresh and bad-config suites, longer and larger than in
# `make test`.
soak: $(STAMP)
	$(BIN)/python -m pytest -m soak integration_tests/test_faults.py integration_tests/test_crash_resume.py \
		integration_tests/test_timeouts.py integration_tests/test_stripe_full_refresh.py \
		unit_tests/test_config_properties.py

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

demo: $(STAMP)
	$(BIN)/python -m examples.demo

# The local sandbox at each API's rate limits, CPU-bound and memory runs; results in bench-results/.
bench: $(STAMP)
	$(BIN)/python -m bench

# The same rate-limited run with airbyte-source-stripe and airbyte-source-orb side by side (from PyPI).
bench-peers: $(STAMP)
	$(BIN)/python -m bench --peers

# The rate-limited catalog with each scheduler rule switched off in turn (the README's ablation table).
bench-ablation: $(STAMP)
	$(BIN)/python -m bench --ablation

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .mypy_cache .ruff_cache demo-output
