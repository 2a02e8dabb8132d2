# Fangyi — `make run` serves the demo district, `make test` runs the whole suite.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
APPS := common territory audit people accounts notices venues dashboard testing health demo
export FANGYI_ENV ?= demo

.PHONY: help install run serve demo test test-sqlite test-postgres lint typecheck migrations-check deploy-check messages messages-check bench ci clean

help:  ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-18s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)  ## Create .venv and install the pinned dependencies
	$(PY) manage.py compile_translations

run: install  ## Migrate, load the demo district (first time), serve on http://127.0.0.1:8000
	$(PY) manage.py migrate --noinput
	$(PY) manage.py collectstatic --noinput --verbosity 0
	$(PY) manage.py demo_district --if-empty --residents $${RESIDENTS:-5000} --seed 2022
	$(PY) manage.py venues_demo
	$(PY) manage.py testing_demo
	@echo "Serving on http://$${FANGYI_BIND:-127.0.0.1:8000} (Ctrl-C to stop)"
	$(PY) -m config.serve

demo: install  ## Rebuild the demo data into an empty database (RESIDENTS=5000)
	$(PY) manage.py migrate --noinput
	$(PY) manage.py demo_district --residents $${RESIDENTS:-5000} --seed 2022
	$(PY) manage.py venues_demo
	$(PY) manage.py testing_demo

test: install  ## The whole test suite (DATABASE_URL selects PostgreSQL)
	FANGYI_ENV=test $(PY) -m pytest $(PYTEST_ARGS)

test-sqlite: install
	env -u DATABASE_URL FANGYI_ENV=test $(PY) -m pytest $(PYTEST_ARGS)

test-postgres: install
	DATABASE_URL=$${PG_URL:-postgres://postgres@127.0.0.1:5432/fangyi} FANGYI_ENV=test $(PY) -m pytest $(PYTEST_ARGS)

lint: install  ## ruff and import-linter
	$(VENV)/bin/ruff check .
	$(VENV)/bin/lint-imports

typecheck: install  ## mypy
	$(VENV)/bin/mypy .

migrations-check: install  ## Fail if models and migrations differ
	FANGYI_ENV=test $(PY) manage.py makemigrations --check --dry-run

deploy-check: install  ## Django's deployment checks with production settings
	FANGYI_ENV=production SECRET_KEY=$$($(PY) -c 'import secrets;print(secrets.token_urlsafe(60))') \
	  ALLOWED_HOSTS=fangyi.example.gov.cn $(PY) manage.py check --deploy --fail-level WARNING

messages: install  ## Extract translatable strings into each app's zh_Hans catalogue
	for app in $(APPS); do (cd $$app && mkdir -p locale && DJANGO_SETTINGS_MODULE=config.settings PYTHONPATH=.. \
	  ../$(VENV)/bin/django-admin makemessages -l zh_Hans --no-obsolete --no-location -i 'tests/*' >/dev/null); done

messages-check: install  ## Fail if a catalogue has an untranslated or fuzzy entry
	$(PY) manage.py check_translations

bench: install  ## Benchmarks (see bench/README.md)
	$(PY) bench/run.py

ci:  ## What CI runs
	bash .ci/run

clean:
	rm -rf $(VENV) var
