# Two commands for a newcomer: `make demo` and `make test`. Both install what is missing first.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP_PY := $(VENV)/.installed
STAMP_NODE := node_modules/.installed
# The browser test drives Debian's Chromium package (Playwright is used without its own browser
# download); CHROMIUM overrides the path.
CHROMIUM ?= /usr/bin/chromium
# A CJK font, so screenshots show the tag 'Zürich-東京' rather than empty boxes (7 MB).
CJK_FONT := /usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf
SUDO := $(shell [ "$$(id -u)" = 0 ] || command -v sudo)
# checkov pins packaging<24 while pytest 9 needs packaging>=24: it gets a venv of its own.
CHECKOV_VERSION := 3.3.30
CHECKOV_VENV := $(VENV)/checkov
STAMP_CHECKOV := $(CHECKOV_VENV)/.installed-$(CHECKOV_VERSION)

.PHONY: demo test lint typecheck pytest deps clean spa spa-screenshots

deps: $(STAMP_PY) $(STAMP_NODE) $(CHROMIUM)

$(CHROMIUM) $(CJK_FONT):
	@echo "==> installing Chromium (and a CJK font) from Debian's packages for the browser test"
	@$(SUDO) apt-get install -y --no-install-recommends chromium fonts-droid-fallback || \
		{ $(SUDO) apt-get update && \
		  $(SUDO) apt-get install -y --no-install-recommends chromium fonts-droid-fallback; }

# The SPA (spa/): bundled by esbuild into spa/dist; the tests and the demo rebuild it when stale.
spa: $(STAMP_NODE)
	node spa/build.mjs

# Re-take the screenshots in docs/spa/ from a run of the browser test.
spa-screenshots: deps $(CJK_FONT)
	SPA_SCREENSHOT_DIR=docs/spa $(PY) -m pytest -p no:cacheprovider tests/browser

$(STAMP_PY): requirements.txt requirements-dev.txt
	@echo "==> creating $(VENV) and installing the pinned Python requirements (about a minute the first time)"
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@$(PY) -m pip install --disable-pip-version-check --progress-bar on -r requirements-dev.txt
	@touch $@

$(STAMP_NODE): package.json package-lock.json
	@echo "==> installing Azurite, esbuild, MSAL.js and the storage SDK from npm (pinned in package-lock.json)"
	@npm ci --no-audit --no-fund
	@touch $@

lint: $(STAMP_PY)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: $(STAMP_PY)
	$(VENV)/bin/mypy

pytest: deps $(STAMP_CHECKOV)
	CHECKOV=$(CHECKOV_VENV)/bin/checkov $(PY) -m pytest

test: lint typecheck pytest

demo: deps
	$(PY) -m localazure.demo $(ARGS)

clean:
	rm -rf $(VENV) node_modules .pytest_cache .mypy_cache .ruff_cache .localazure spa/dist

# ---------------------------------------------------------------------------------------------
# Offline checks of the deployment in infra/ (issue 8): tree-sitter-bicep syntax gate, checkov
# with the custom checks in infra/checkov/, settings agreement, telemetry fields.
# checkov pins packaging<24 while pytest 9 needs packaging>=24, so it lives in its own venv
# inside .venv/ (already ignored by git, ruff and .funcignore; `make clean` removes it).

.PHONY: infra-check

$(STAMP_CHECKOV):
	@echo "==> installing checkov $(CHECKOV_VERSION) into $(CHECKOV_VENV) (about a minute the first time)"
	@test -x $(CHECKOV_VENV)/bin/python || $(PYTHON) -m venv $(CHECKOV_VENV)
	@$(CHECKOV_VENV)/bin/python -m pip install --disable-pip-version-check --quiet checkov==$(CHECKOV_VERSION)
	@touch $@

infra-check: deps $(STAMP_CHECKOV)
	CHECKOV=$(CHECKOV_VENV)/bin/checkov $(PY) -m pytest tests/infra

# ---- benchmark (issue 7): `make bench`, outside `make test`; about 20-25 minutes ----
# Queue design vs the blocking design on Azurite + the ARM emulator + the local host; writes
# docs/performance.md and docs/performance.png. ARGS=--quick for a 1-minute slice.
BENCH_STAMP := $(VENV)/.bench-installed

$(BENCH_STAMP): bench/requirements.txt $(STAMP_PY)
	@$(PY) -m pip install --disable-pip-version-check -r bench/requirements.txt
	@touch $@

.PHONY: bench
bench: deps $(BENCH_STAMP)
	$(PY) -m bench $(ARGS)

# --- crash and fault injection (issue 6: hardening) ------------------------------------------
# The long crash run (marked slow), then the fast slice, fault, bad-input and least-privilege
# suites, each recording its figures; then docs/reliability.md is rewritten from them.
RELIABILITY_DIR := .localazure/reliability
RELIABILITY_SUITES := tests/crash tests/integration/test_faults.py \
	tests/integration/test_bad_corpus.py tests/integration/test_least_privilege.py

.PHONY: crash
crash: deps
	rm -rf $(RELIABILITY_DIR)
	RELIABILITY_RECORD=$(RELIABILITY_DIR) $(PY) -m pytest -p no:cacheprovider -m slow -s tests/crash
	RELIABILITY_RECORD=$(RELIABILITY_DIR) $(PY) -m pytest -p no:cacheprovider $(RELIABILITY_SUITES)
	$(PY) -m tests.crash.report $(RELIABILITY_DIR) docs/reliability.md

# --- mutation check of the safety core (issue 11) --------------------------------------------
# Each mutation (ETag condition, stale-step check, conflict check, poison ownership, fingerprint)
# is applied to a temporary copy of the tree and must make a fast test fail; about a minute.
.PHONY: mutate
mutate: deps
	$(PY) -m tests.mutation.run
