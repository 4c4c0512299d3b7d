# Two commands for a newcomer: `make demo` and `make test`. Both install what is missing first.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP_PY := $(VENV)/.installed
STAMP_NODE := node_modules/.installed

.PHONY: demo test lint typecheck pytest deps clean

deps: $(STAMP_PY) $(STAMP_NODE)

$(STAMP_PY): requirements.txt requirements-dev.txt
	@echo "==> creating $(VENV) and installing the pinned Python requirements (about a minute the first time)"
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@$(PY) -m pip install --disable-pip-version-check --progress-bar on -r requirements-dev.txt
	@touch $@

$(STAMP_NODE): package.json package-lock.json
	@echo "==> installing Azurite from npm (pinned in package-lock.json)"
	@npm ci --no-audit --no-fund
	@touch $@

lint: $(STAMP_PY)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: $(STAMP_PY)
	$(VENV)/bin/mypy

pytest: deps
	$(PY) -m pytest

test: lint typecheck pytest

demo: deps
	$(PY) -m localazure.demo $(ARGS)

clean:
	rm -rf $(VENV) node_modules .pytest_cache .mypy_cache .ruff_cache .localazure
