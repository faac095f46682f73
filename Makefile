# The two commands a newcomer needs are `make run` and `make test`; the rest serve them.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint format bench drills install clean-data demo-insert

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	@$(BIN)/python -m devtools.devserver

test: $(STAMP)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports
	DATABASE_URL=postgres://lint@127.0.0.1:1/lint SECRET_KEY=lint-only-$$(printf '%050d' 0)-abcdefghij \
		SECRET_ENCRYPTION_KEYS=$$($(BIN)/python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())') \
		$(BIN)/mypy .

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: $(STAMP)
	$(BIN)/python -m bench

# The failure drills alone (`make bench` runs them too, after the benchmarks).
drills: $(STAMP)
	$(BIN)/python -m bench.drills

# With `make run` going: a row in the demo database, for Pulse to capture (see the Pulse tab).
demo-insert: $(STAMP)
	@$(BIN)/python manage.py demoinsert

clean-data:
	@$(BIN)/python -m devtools.embedded_pg stop .data/postgres 2>/dev/null || true
	@$(BIN)/python -m devtools.embedded_pg stop .data/demo-postgres 2>/dev/null || true
	rm -rf .data
