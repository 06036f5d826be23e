# The whole set-up on a fresh machine is `make run` or `make test`: each creates
# .venv when missing and (re)installs the project when pyproject.toml changed.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
BIN := $(VENV)/bin

.PHONY: run test system-deps lint typecheck unit chaos proto bench clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

$(VENV)/.installed-run: pyproject.toml | $(PY)
	$(PY) -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml | $(PY)
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $@ $(VENV)/.installed-run

run: $(VENV)/.installed-run
	$(BIN)/agent-runner demo

test: system-deps lint typecheck unit

# Debian services the tests start themselves (Redis, PostgreSQL, nginx as a TLS proxy in
# front of Temporal), zsh (the shell Daytona's daemon runs commands with, which the test
# Daytona server uses too) and the browser the web view's tests drive (Chromium);
# installed when missing.
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
APT_INSTALL = $(SUDO) apt-get install -y -q $(1) >/dev/null 2>&1 || \
	{ $(SUDO) apt-get update -q >/dev/null && $(SUDO) apt-get install -y -q $(1) >/dev/null; }
system-deps:
	@command -v redis-server >/dev/null || { echo "installing redis-server"; $(call APT_INSTALL,redis-server); }
	@command -v initdb >/dev/null || ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || \
		{ echo "installing postgresql"; $(call APT_INSTALL,postgresql); }
	@command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || { echo "installing nginx"; $(call APT_INSTALL,nginx); }
	@command -v zsh >/dev/null || { echo "installing zsh"; $(call APT_INSTALL,zsh); }
	@command -v chromium >/dev/null && command -v chromedriver >/dev/null || \
		{ echo "installing chromium"; $(call APT_INSTALL,chromium chromium-driver); }

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(VENV)/.installed-dev
	$(BIN)/mypy graphton agent_runner

unit: $(VENV)/.installed-dev
	$(BIN)/pytest

chaos: $(VENV)/.installed-dev  # the reliability tests alone (make test runs them too)
	$(BIN)/pytest -m reliability tests/reliability

proto: $(VENV)/.installed-dev
	$(PY) -m agent_runner.proto.codegen

$(VENV)/.installed-bench: pyproject.toml $(VENV)/.installed-dev
	$(PY) -m pip install --quiet -e '.[dev,bench]'
	touch $@

# BENCH_QUICK=1 make bench: few rounds, wide intervals (a check that every case runs).
bench: $(VENV)/.installed-bench
	$(PY) -m bench

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
