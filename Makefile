# The two commands: `make run` and `make test`. Everything else is a helper for them.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
FLASK := $(BIN)/flask --app referralnet
HOST ?= 127.0.0.1
PORT ?= 5000

.PHONY: run serve test screenshots install install-dev browser-deps translations messages seed-san-mateo clean leaflet

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

# Installs pin every package to constraints.txt: the versions the suite last ran on.
$(VENV)/.installed: pyproject.toml constraints.txt | $(BIN)/python
	$(BIN)/pip install -q -c constraints.txt -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml constraints.txt $(VENV)/.installed
	$(BIN)/pip install -q -c constraints.txt -e '.[dev]'
	touch $@

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

# Leaflet (the map on search results and service pages), from the npm registry's tarball, checked against
# the registry's integrity hash, unpacked into static/vendor/leaflet/ (gitignored). Never from a CDN.
LEAFLET_VERSION := 1.9.4
LEAFLET_INTEGRITY := sha512-nxS1ynzJOmOlHp+iL3FyWqK89GtNL8U8rvlMOsQdTTssxZwCXh8N2NB3GDQOL+YR3XnWyZAxwQixURb+FA74PA==
LEAFLET_DIR := static/vendor/leaflet

$(LEAFLET_DIR)/.version-$(LEAFLET_VERSION):
	@set -euo pipefail; tmp=$$(mktemp -d); trap 'rm -rf "$$tmp"' EXIT; \
	url=https://registry.npmjs.org/leaflet/-/leaflet-$(LEAFLET_VERSION).tgz; \
	echo "Vendoring Leaflet $(LEAFLET_VERSION) from $$url"; \
	curl -fsSL --retry 3 -o "$$tmp/leaflet.tgz" "$$url"; \
	got=$$($(PYTHON) -c 'import base64, hashlib, sys; print("sha512-" + base64.b64encode(hashlib.sha512(open(sys.argv[1], "rb").read()).digest()).decode())' "$$tmp/leaflet.tgz"); \
	if [ "$$got" != "$(LEAFLET_INTEGRITY)" ]; then \
	  echo "leaflet-$(LEAFLET_VERSION).tgz does not match the registry's integrity hash (got $$got): not installed" >&2; exit 1; \
	fi; \
	tar -xzf "$$tmp/leaflet.tgz" -C "$$tmp" package/dist package/LICENSE; \
	rm -rf $(LEAFLET_DIR); mkdir -p $(LEAFLET_DIR); \
	cp "$$tmp/package/dist/leaflet.js" "$$tmp/package/dist/leaflet.css" "$$tmp/package/LICENSE" $(LEAFLET_DIR)/; \
	cp -r "$$tmp/package/dist/images" $(LEAFLET_DIR)/; \
	touch $@

leaflet: $(LEAFLET_DIR)/.version-$(LEAFLET_VERSION)

## make run: install, migrate, load demo data on first start, build the search index, serve :5000
run: $(VENV)/.installed translations leaflet
	$(FLASK) db upgrade
	$(FLASK) demo load
	$(FLASK) search reindex
	@echo "Serving ReferralNet on http://$(HOST):$(PORT)  (Ctrl-C to stop)"
	$(FLASK) run --host $(HOST) --port $(PORT)

## make serve: production serving: migrate the configured DATABASE_URL, then gunicorn (gunicorn.conf.py:
## WEB_CONCURRENCY workers on GUNICORN_BIND, JSON request logs). Build the search index first on a new host
## (`flask search reindex`); /readyz answers 503 until it is there.
serve: $(VENV)/.installed translations leaflet
	$(FLASK) db upgrade
	$(BIN)/gunicorn -c gunicorn.conf.py 'referralnet:create_app()'

## make test: the whole suite, browser tests included (installs Debian's chromium when missing and root)
test: $(VENV)/.installed-dev browser-deps translations leaflet
	$(BIN)/pytest $(PYTEST_ARGS)

## make screenshots: PNGs of every page at 1280 px and the patient pages at 360 px, on the demo data,
## into build/screenshots/ (SCREENSHOTS_ARGS="--out DIR --only NAME" to change)
screenshots: $(VENV)/.installed-dev browser-deps translations leaflet
	$(BIN)/python -m tests.browser.screenshots $(SCREENSHOTS_ARGS)

## Compile the gettext catalogs (referralnet/translations/*/LC_MESSAGES/messages.po -> .mo).
translations: $(VENV)/.installed
	$(BIN)/pybabel compile --statistics -d referralnet/translations

## After changing marked strings: extract them and merge into each language's catalog.
messages: $(VENV)/.installed
	$(BIN)/pybabel extract -F babel.cfg -k _l -o referralnet/translations/messages.pot .
	$(BIN)/pybabel update -i referralnet/translations/messages.pot -d referralnet/translations

browser-deps:
	@if [ ! -x /usr/bin/chromium ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "Installing Debian's chromium for the browser tests..."; \
	    apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium; \
	  else \
	    echo "The browser tests need Debian's chromium: sudo apt-get install chromium"; exit 1; \
	  fi; \
	fi

## Regenerate seed_data/san-mateo-hsds from the Ohana CSV in ../shared (HSDS 3.0 JSON), without its placeholder records.
seed-san-mateo: $(VENV)/.installed
	rm -rf /tmp/referralnet-seed && mkdir -p /tmp/referralnet-seed
	DATABASE_URL=sqlite:////tmp/referralnet-seed/seed.db $(FLASK) db upgrade
	DATABASE_URL=sqlite:////tmp/referralnet-seed/seed.db $(FLASK) directory import ../shared/datasets/ohana-san-mateo
	rm -rf seed_data/san-mateo-hsds/*.json
	DATABASE_URL=sqlite:////tmp/referralnet-seed/seed.db $(FLASK) directory export seed_data/san-mateo-hsds --format json
	$(BIN)/python seed_data/drop_placeholders.py seed_data/san-mateo-hsds

clean:
	rm -rf $(VENV) instance .pytest_cache
