# The README's commands. Everything installs itself: nothing is needed by hand but python3.
SHELL := /bin/bash
PYTHON ?= python3
UV_VERSION := 0.13.8
UV := .tools/bin/uv
VENV := .venv
STAMP := $(VENV)/.synced
CHROMIUM ?= /usr/bin/chromium
# A hard ceiling so a hung test can never hold CI (the suite takes about 25 minutes on 2 cores;
# CI allows 90).
TEST_TIMEOUT_SECONDS ?= 3900

.PHONY: run test bench lint typecheck pytest migrate browser clean simulate

$(UV):
	$(PYTHON) -m venv .tools
	.tools/bin/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

$(STAMP): $(UV) pyproject.toml sandbox/pyproject.toml uv.lock
	UV_PYTHON_DOWNLOADS=never $(UV) sync --locked --python $(PYTHON)
	touch $(STAMP)

# DEV_ARGS: e.g. --port 8000 --sandbox-base-port 8101 --state-dir var/sandbox
run: $(STAMP)
	$(VENV)/bin/python -m onboarding dev --stop-with-parent $(DEV_ARGS)

# Simulated visitors and orders on the last published funnel page of a running `make run`
# (SIMULATE_ARGS: e.g. --visitors 800 --days 90 --conversion 0.05 --templates http://127.0.0.1:9103).
simulate: $(STAMP)
	$(VENV)/bin/python -m sandbox.simulate $(SIMULATE_ARGS)

migrate: $(STAMP)
	$(VENV)/bin/python -m onboarding migrate

# Debian's Chromium for the browser tests; Playwright never downloads one.
browser:
	@if [ ! -x $(CHROMIUM) ]; then \
	  if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
	  echo "installing chromium and chromium-driver from Debian's packages"; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium chromium-driver >/dev/null \
	    || echo "could not install chromium: browser tests will be skipped (or fail with REQUIRE_BROWSER=1)"; \
	fi

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: $(STAMP)
	$(VENV)/bin/mypy .

pytest: $(STAMP) browser
	timeout --signal=INT --kill-after=30 $(TEST_TIMEOUT_SECONDS) $(VENV)/bin/python -m pytest $(PYTEST_ARGS)

test: lint typecheck pytest

bench: $(STAMP)
	$(VENV)/bin/python -m pytest tests/bench -q -s --timeout=900

clean:
	rm -rf $(VENV) .tools var test-artifacts .pytest_cache .mypy_cache .ruff_cache sandbox/*.egg-info
