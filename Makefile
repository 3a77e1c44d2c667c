# Two commands do all set-up on a fresh Debian/Ubuntu machine: `make demo` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: demo test browser office postgres doc-images install clean

demo: install browser  ## run the whole product once against the local mock portal
	$(VENV)/bin/claimwright demo

test: install browser office postgres  ## the whole test suite (what CI runs)
	$(PY) -m pytest

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -e ".[test]"
	touch $(STAMP)

# Chromium for the bots: $CLAIMWRIGHT_CHROMIUM if set, else Debian's /usr/bin/chromium
# (installed here when missing), else Playwright's own browser where it is already installed.
browser:
	@if [ -n "$$CLAIMWRIGHT_CHROMIUM" ] && [ -x "$$CLAIMWRIGHT_CHROMIUM" ]; then \
	  echo "browser: $$CLAIMWRIGHT_CHROMIUM"; \
	elif [ -x /usr/bin/chromium ]; then \
	  echo "browser: /usr/bin/chromium"; \
	elif ls $$HOME/.cache/ms-playwright/chromium*/ >/dev/null 2>&1; then \
	  echo "browser: Playwright's own Chromium"; \
	else \
	  echo "browser: installing Debian's chromium"; \
	  $(SUDO) apt-get update -qq && $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	fi

# LibreOffice (headless Calc): tests print the workbooks with it, formulas and conditional
# formats evaluated as a person's spreadsheet would (installed here when missing).
office:
	@if command -v soffice >/dev/null 2>&1; then \
	  echo "office: $$(command -v soffice)"; \
	else \
	  echo "office: installing Debian's libreoffice-calc-nogui"; \
	  $(SUDO) apt-get update -qq && $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends libreoffice-calc-nogui >/dev/null; \
	fi

# PostgreSQL server binaries (initdb, pg_ctl): the PostgreSQL + two-workers test starts a private
# cluster with them on 127.0.0.1 (tests/pg.py); Debian's postgresql is installed when missing.
postgres:
	@found="$$(command -v initdb || ls -d /usr/lib/postgresql/*/bin/initdb 2>/dev/null | sort -V | tail -n 1)"; \
	if [ -n "$$found" ]; then \
	  echo "postgres: $$found"; \
	else \
	  echo "postgres: installing Debian's postgresql"; \
	  $(SUDO) apt-get update -qq && $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null; \
	  echo "postgres: $$(ls -d /usr/lib/postgresql/*/bin/initdb | sort -V | tail -n 1)"; \
	fi

doc-images: install office  ## refresh the pictures in docs/images from the rendering tests
	mkdir -p docs/images
	CLAIMWRIGHT_DOC_IMAGES=$(CURDIR)/docs/images $(PY) -m pytest -q -k "spreadsheet or renders or chromium" tests/test_worklists.py tests/test_packet_pipeline.py tests/test_console_browser.py tests/test_run_ui.py

clean:
	rm -rf var out .pytest_cache
