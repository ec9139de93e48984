# Two commands: `make run` sets everything up and starts the platform; `make test` sets up
# what it needs and runs the whole suite. Both are idempotent and quick the second time.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
PY := $(BIN)/python
PORT ?= 8000
HOST ?= 127.0.0.1

# llama-cpp-python is built once, portably (see README: the native build crashes on CPUs that
# advertise AMX), into a cache outside the clone keyed by version and flags.
LLAMA_VERSION := 0.3.36
LLAMA_CMAKE_ARGS ?= -DGGML_NATIVE=OFF -DLLAVA_BUILD=OFF
LLAMA_KEY := $(shell printf '%s' '$(LLAMA_CMAKE_ARGS)' | sha1sum | cut -c1-12)
CACHE_DIR ?= $(HOME)/.cache/agent-platform
LLAMA_WHEEL_DIR := $(CACHE_DIR)/wheels/llama-cpp-python-$(LLAMA_VERSION)-$(LLAMA_KEY)
DEPS_STAMP := $(VENV)/.deps-$(shell cat pyproject.toml | sha1sum | cut -c1-12)-$(LLAMA_KEY)

export DJANGO_SETTINGS_MODULE ?= platform_site.settings.local

.PHONY: help setup system-deps venv llama-wheel services services-stop services-status models \
        migrate superuser seed run test test-deps ts-client compose-check lint typecheck clean

help:
	@echo "make run    set everything up and start the platform (web, workers, beat)"
	@echo "make test   set up what the tests need and run the whole suite"
	@echo "make services-status | services-stop    the embedded PostgreSQL and Redis"
	@echo "make lint | typecheck                    ruff, mypy"
	@echo "make ts-client                           regenerate clients/typescript/schema.d.ts"
	@echo "make compose-check                       validate docker/compose.yaml, lint the Dockerfiles"
	@echo "make clean                               stop the services, remove var/, .venv/ and node_modules/"

system-deps:
	@missing=""; for tool in cmake g++ git; do command -v $$tool >/dev/null || missing="$$missing $$tool"; done; \
	$(PYTHON) -c 'import venv, ensurepip' 2>/dev/null || missing="$$missing python3-venv"; \
	if [ -n "$$missing" ]; then \
	  echo "installing system packages for:$$missing"; \
	  if [ "$$(id -u)" = 0 ]; then SUDO=""; else SUDO=sudo; fi; \
	  $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq cmake g++ git python3-venv python3-dev >/dev/null; \
	fi

# What the test suite needs beyond Python: Debian's Chromium and ChromeDriver (the admin is
# tested in a real headless browser) and Node.js with npm (the TypeScript client is regenerated
# and diffed).
test-deps:
	@missing=""; \
	[ -x /usr/bin/chromium ] || missing="$$missing chromium"; \
	[ -x /usr/bin/chromedriver ] || missing="$$missing chromium-driver"; \
	command -v npm >/dev/null || missing="$$missing nodejs npm"; \
	if [ -n "$$missing" ]; then \
	  echo "installing system packages:$$missing"; \
	  if [ "$$(id -u)" = 0 ]; then SUDO=""; else SUDO=sudo; fi; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing >/dev/null; \
	fi

TS_CLIENT := clients/typescript
$(TS_CLIENT)/node_modules/.package-lock.json: $(TS_CLIENT)/package-lock.json
	cd $(TS_CLIENT) && npm ci --no-audit --no-fund --loglevel=error

# Regenerate the TypeScript types after an API change (the test suite diffs them).
ts-client: export DJANGO_SETTINGS_MODULE = platform_site.settings.test
ts-client: venv $(TS_CLIENT)/node_modules/.package-lock.json
	$(PY) manage.py spectacular --file $(TS_CLIENT)/openapi.yaml
	cd $(TS_CLIENT) && npx openapi-typescript openapi.yaml --output schema.d.ts

# The deployment files alone (the test suite runs the same checks).
compose-check: export PLATFORM_ENV_FILE = .env.example
compose-check: venv
	$(PY) -c 'import compose, pathlib, subprocess, sys; \
	  sys.exit(subprocess.call([str(pathlib.Path(compose.__file__).parent / "docker-compose"), \
	  "-f", "docker/compose.yaml", "config", "-q"]))'
	$(BIN)/hadolint docker/Dockerfile.web docker/Dockerfile.gpu

$(PY):
	$(MAKE) system-deps
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip wheel

venv: $(DEPS_STAMP)

llama-wheel: $(PY)
	@if ! ls $(LLAMA_WHEEL_DIR)/llama_cpp_python-$(LLAMA_VERSION)-*.whl >/dev/null 2>&1; then \
	  echo "building llama-cpp-python $(LLAMA_VERSION) portably ($(LLAMA_CMAKE_ARGS)); this takes about 8 minutes once"; \
	  rm -rf $(LLAMA_WHEEL_DIR).tmp && mkdir -p $(LLAMA_WHEEL_DIR).tmp && \
	  CMAKE_ARGS="$(LLAMA_CMAKE_ARGS)" $(PY) -m pip wheel -q --no-cache-dir --no-deps \
	    -w $(LLAMA_WHEEL_DIR).tmp llama-cpp-python==$(LLAMA_VERSION) && \
	  rm -rf $(LLAMA_WHEEL_DIR) && mv $(LLAMA_WHEEL_DIR).tmp $(LLAMA_WHEEL_DIR); \
	fi

$(DEPS_STAMP): pyproject.toml | $(PY)
	$(MAKE) llama-wheel
	$(PY) -m pip install -q --no-deps --force-reinstall $(LLAMA_WHEEL_DIR)/llama_cpp_python-$(LLAMA_VERSION)-*.whl
	$(PY) -m pip install -q --find-links $(LLAMA_WHEEL_DIR) ".[dev]"
	rm -f $(VENV)/.deps-* && touch $@

setup: venv services models migrate

services: venv
	@$(PY) -m platform_site.services start

services-stop:
	@$(PY) -m platform_site.services stop

services-status:
	@$(PY) -m platform_site.services status

models: venv
	@$(PY) manage.py prepare_models

migrate: services
	@$(PY) manage.py migrate --noinput -v 0

superuser: migrate
	@$(PY) manage.py ensure_superuser

seed: migrate models
	@$(PY) manage.py seed_demo

run: setup superuser seed
	@echo "starting daphne on http://$(HOST):$(PORT), the inference worker, the default worker and beat (Ctrl-C stops them all)"
	@rm -rf var/prometheus && mkdir -p var/prometheus
	@PROMETHEUS_MULTIPROC_DIR=$(CURDIR)/var/prometheus PORT=$(PORT) HOST=$(HOST) $(BIN)/honcho -f platform_site/Procfile -d . start

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: venv
	$(BIN)/mypy .

test: export DJANGO_SETTINGS_MODULE = platform_site.settings.test
test: test-deps venv services models $(TS_CLIENT)/node_modules/.package-lock.json
	$(PY) manage.py makemigrations --check --dry-run
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/pytest

clean:
	-$(PY) -m platform_site.services stop
	rm -rf var $(VENV) $(TS_CLIENT)/node_modules
