#!/usr/bin/env bash
# The second half of `make test`: the suite again on PostgreSQL (less the
# tests that would only repeat the SQLite half, tests/halves.py), when one
# answers (CI machines have it on 127.0.0.1:5432, user postgres, trust auth).
# pytest-django creates and drops test_<name> on that server; the database in
# the URL itself is never touched. Without a server the half is skipped,
# loudly, and `make test` still passes on SQLite alone.
set -euo pipefail
cd "$(dirname "$0")/../.."

url="${TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/order_engine}"

if ! reason=$(.venv/bin/python - "$url" 2>&1 <<'PY'
import sys

import psycopg

try:
    # The maintenance database: the one pytest-django connects to, to create the test database.
    psycopg.connect(sys.argv[1], dbname="postgres", connect_timeout=3).close()
except Exception as exc:
    print(f"{exc.__class__.__name__}: {str(exc).strip().splitlines()[0] if str(exc).strip() else ''}")
    sys.exit(1)
PY
); then
    echo
    echo "=================================================================="
    echo "PostgreSQL half of the test suite SKIPPED: cannot connect to"
    echo "  $url"
    echo "  ($reason)"
    echo "Start PostgreSQL there, or set TEST_POSTGRES_URL, to run it."
    echo "=================================================================="
    exit 0
fi

echo "Running the test suite again on PostgreSQL ($url)"
DATABASE_URL="$url" exec .venv/bin/pytest --ds=config.test_settings "$@"
