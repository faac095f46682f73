# The two commands a newcomer needs are `make run` and `make test`; the rest serve them.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint format bench drills install node clean-data demo-insert prisma-example

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

# Node.js (>= 20) packages, exactly as the lockfiles pin them; re-installed only when a lockfile
# changes. --ignore-scripts: nothing may download at install time (prisma's engine download
# would fail offline); the client is generated below without it.
EXECUTOR_STAMP := accelerate/executor/node_modules/.installed
PRISMA_TESTS_STAMP := tests/prisma/node_modules/.installed
PRISMA_CLIENT_STAMP := tests/prisma/generated/.generated
NPM_CI := npm ci --ignore-scripts --no-audit --no-fund --loglevel=error

$(EXECUTOR_STAMP): accelerate/executor/package-lock.json
	$(NPM_CI) --prefix accelerate/executor
	@touch $@

$(PRISMA_TESTS_STAMP): tests/prisma/package-lock.json
	$(NPM_CI) --prefix tests/prisma
	@touch $@

$(PRISMA_CLIENT_STAMP): tests/prisma/schema.prisma $(PRISMA_TESTS_STAMP)
	cd tests/prisma && CHECKPOINT_DISABLE=1 PRISMA_HIDE_UPDATE_MESSAGE=1 PRISMA_SCHEMA_ENGINE_BINARY=/bin/true \
		./node_modules/.bin/prisma generate --schema schema.prisma >/dev/null
	@touch $@

node: $(EXECUTOR_STAMP) $(PRISMA_TESTS_STAMP) $(PRISMA_CLIENT_STAMP)

EXAMPLE_STAMP := examples/prisma/generated/.generated
$(EXAMPLE_STAMP): examples/prisma/package-lock.json examples/prisma/schema.prisma
	$(NPM_CI) --prefix examples/prisma
	cd examples/prisma && CHECKPOINT_DISABLE=1 PRISMA_HIDE_UPDATE_MESSAGE=1 PRISMA_SCHEMA_ENGINE_BINARY=/bin/true \
		./node_modules/.bin/prisma generate --schema schema.prisma >/dev/null
	@touch $@

# With `make run` going: Prisma Client queries the demo database through Accelerate (examples/prisma).
prisma-example: $(STAMP) $(EXAMPLE_STAMP)
	@url="$$($(BIN)/python manage.py demoprismaurl)" && cd examples/prisma && DATABASE_URL="$$url" node query.mjs

install: $(STAMP) node

run: $(STAMP) $(EXECUTOR_STAMP)
	@$(BIN)/python -m devtools.devserver

test: $(STAMP) node
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

bench: $(STAMP) node
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
