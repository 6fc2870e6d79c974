# The two commands: `make run` and `make test`. Everything else is a helper for them.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
FLASK := $(BIN)/flask --app referralnet
HOST ?= 127.0.0.1
PORT ?= 5000

.PHONY: run test install install-dev browser-deps translations messages seed-san-mateo clean

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

## make run: install, migrate, load demo data on first start, build the search index, serve :5000
run: $(VENV)/.installed translations
	$(FLASK) db upgrade
	$(FLASK) demo load
	$(FLASK) search reindex
	@echo "Serving ReferralNet on http://$(HOST):$(PORT)  (Ctrl-C to stop)"
	$(FLASK) run --host $(HOST) --port $(PORT)

## make test: the whole suite, browser tests included (installs Debian's chromium when missing and root)
test: $(VENV)/.installed-dev browser-deps translations
	$(BIN)/pytest $(PYTEST_ARGS)

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
