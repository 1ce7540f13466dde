# The two commands: `make run` and `make test`. Everything else they need,
# they set up themselves: the virtualenv, the requirements, a Redis.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
export HOST ?= 127.0.0.1
export PORT ?= 8000
export REDIS_URL ?= redis://127.0.0.1:6379/0
export PYTHONUNBUFFERED := 1

.PHONY: run test bench lint redis venv FORCE

venv: $(VENV)/.installed

$(VENV)/.installed: requirements.txt
	@config/scripts/ensure-venv.sh $(VENV) $(PYTHON)
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements.txt
	touch $@

redis:
	@config/scripts/ensure-redis.sh

run: .run/engine.live

# A file target on purpose: make deletes it when it is interrupted, and the
# runner stops the engine when it is gone. The runner also does the setup (a
# Redis, migrations, seed data, the operator account): config/engine_runner.py.
.run/engine.live: venv FORCE
	@mkdir -p .run
	@ENGINE_PORT=$(PORT) PATH="$(CURDIR)/$(BIN):$$PATH" exec $(BIN)/python -m config.engine_runner

FORCE:

# The benchmark: `make bench ARGS="-n 2000 -c 50"`; see BENCHMARKS.md.
bench: venv redis
	$(BIN)/python -m bench $(ARGS)

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# Tests use Redis database 15 of the same server (and 13 for the benchmark's
# smoke run) and their own database: the
# whole suite on SQLite, then again on PostgreSQL when one answers on
# 127.0.0.1:5432 (TEST_POSTGRES_URL to point elsewhere; skipped, saying why,
# when none does).
test: venv lint
	@REDIS_URL=$${TEST_REDIS_URL:-redis://127.0.0.1:6379/15} config/scripts/ensure-redis.sh
	@config/scripts/ensure-chromium.sh
	$(BIN)/pytest --ds=config.test_settings
	@config/scripts/test-postgres.sh
