# Everyday verbs. Needs only Python 3.11: the virtualenv is created and filled on first use.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat requirements.txt requirements-dev.txt | cksum | cut -d' ' -f1)

.PHONY: run test bench lint format migrations-check install clean

$(STAMP): requirements.txt requirements-dev.txt
	@$(PYTHON) -c 'import sys; assert sys.version_info[:2] == (3, 11), "Pulse needs Python 3.11"'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	rm -f $(VENV)/.installed-* && touch $@

install: $(STAMP)

## make run: the whole app on http://127.0.0.1:8000 (web + Celery worker + beat), SQLite and a
## filesystem broker by default; seeds the demo organisation once. Ctrl-C stops everything.
run: $(STAMP)
	DEBUG=$${DEBUG:-true} bash scripts/run.sh

## make test: the whole suite (on DATABASE_URL / REDIS_URL when set).
test: $(STAMP)
	$(BIN)/python manage.py makemigrations --check --dry-run --settings=tests.settings > /dev/null
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/pytest

## make bench: every benchmark in bench/, each printing its figures and ratio to a baseline.
bench: $(STAMP)
	@for b in bench/[!_]*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

clean:
	rm -rf $(VENV) var .pytest_cache .ruff_cache
