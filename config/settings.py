"""Settings for the order engine, read from the environment.

Every variable has a default that runs on one machine with no configuration:
SQLite in the project folder and Redis on localhost. See the README's table.
"""

import os
import warnings
from pathlib import Path

import dj_database_url

from config import logformat
from config.env import (
    DEFAULT_METRICS_DIR,
    env_bool,
    env_float,
    env_int,
    env_list,
    env_log_level,
    env_ms_range,
    env_str,
)

BASE_DIR = Path(__file__).resolve().parent.parent

# Off unless asked: with it on, Django keeps every query's SQL, formatted with
# its parameters, on every connection (up to 9,000 each), which under
# `make run` at 100 orders/s cost 0.7-1 ms of CPU per order and doubled POST
# p99. DEBUG=true brings back its error pages and connection.queries.
DEBUG = env_bool("DEBUG", False)
SECRET_KEY = env_str("SECRET_KEY", "dev-only-insecure-key-set-SECRET_KEY-in-production")
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "127.0.0.1,localhost,[::1],testserver")
# `make run` listens on HOST: requests that reach it there name it, or, on
# every address (0.0.0.0), whatever name the machine is reached by. Django
# refused them all with a 400. (Production names its hosts itself.)
_listen_on = os.environ.get("HOST", "").strip()
if "ALLOWED_HOSTS" not in os.environ and _listen_on:
    if _listen_on in ("0.0.0.0", "::", "[::]"):
        ALLOWED_HOSTS = ["*"]
    elif _listen_on not in ALLOWED_HOSTS:
        ALLOWED_HOSTS.append(f"[{_listen_on}]" if ":" in _listen_on and "[" not in _listen_on else _listen_on)

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "channels",
    "django_rq",
    "routing",
    "orders",
]

MIDDLEWARE = [
    # First, so that it sees every error under /api/: SecurityMiddleware's
    # HTTPS redirect checks the Host too, and answers a refused one in HTML.
    "orders.api.errors.ApiErrorMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

# In the session, not a cookie: the admin shows a newly issued API key once,
# in a message, and a cookie's is signed, not hidden, so the key went through
# every proxy and log that keeps headers.
MESSAGE_STORAGE = "django.contrib.messages.storage.session.SessionStorage"

ROOT_URLCONF = "config.urls"
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "dashboard"
LOGOUT_REDIRECT_URL = "dashboard"
ASGI_APPLICATION = "config.asgi.application"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- Database --------------------------------------------------------------

DATABASES = {
    "default": dj_database_url.parse(
        env_str("DATABASE_URL", f"sqlite:///{BASE_DIR / 'db.sqlite3'}"),
        conn_max_age=600,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Writers queue for SQLite's write lock rather than poll for it (config/sqlite).
    DATABASES["default"]["ENGINE"] = "config.sqlite"
    DATABASES["default"]["OPTIONS"] = {
        # WAL lets the web server read while a worker writes; IMMEDIATE takes the
        # write lock up front so concurrent writers queue instead of failing
        # with "database is locked" when a read transaction upgrades.
        # Checkpoints are the clock's (config/sqlite/checkpoint.py); a commit
        # runs one only past 10,000 pages (40 MB) of log, should none run, and
        # the log's file is cut back to 16 MB when the log starts again.
        "init_command": (
            "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; "
            "PRAGMA wal_autocheckpoint=10000; PRAGMA journal_size_limit=16777216;"
        ),
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
    }
    # Tests run a real daphne and real workers in other processes, so the test
    # database must be a file they can open too, not SQLite's in-memory default.
    DATABASES["default"]["TEST"] = {"NAME": env_str("TEST_SQLITE_NAME", str(BASE_DIR / "test-db.sqlite3"))}
else:
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
    if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
        # The health check at most once a second per connection (config/postgresql).
        DATABASES["default"]["ENGINE"] = "config.postgresql"
        options = DATABASES["default"].setdefault("OPTIONS", {})
        # What the engine runs for every order is a few statements, again and
        # again: each is prepared on a connection once it has run there 5
        # times (psycopg's prepare_threshold, with the parameters bound by the
        # server), and from then on planned once instead of every time: 22 %
        # of the server's CPU per order (BENCHMARKS.md). Behind PgBouncer in
        # transaction mode this needs its max_prepared_statements, or 0 here
        # to prepare nothing (docs/scaling.md).
        prepare_after = env_int("DATABASE_PREPARE_THRESHOLD", 5, minimum=0) or None
        options.update(server_side_binding=True, prepare_threshold=prepare_after)
        # A server that does not answer (its host gone, its packets dropped)
        # would hold a connect for psycopg's 130 s: the start of every web
        # process, which connects its threads before it serves (config/asgi.py),
        # and /api/health with it. Each address the host resolves to gets this
        # long. `?connect_timeout=` in DATABASE_URL stands.
        options.setdefault("connect_timeout", env_int("DATABASE_CONNECT_TIMEOUT", 5, minimum=2))
        # Every status an order leaves stays behind as a dead entry in the
        # indexes on status until the table is vacuumed. A plain index scan
        # marks it the first time it meets it and skips it after; a bitmap
        # scan never does, and looks up its table page every time. Without
        # fresh statistics (autovacuum off, or behind) the planner chose
        # bitmap scans for the backlog count: after 300,000 orders with no
        # vacuum, each count read all 300,000 dead entries. The engine's
        # queries look up a few rows by an index a plain scan serves as well.
        options["options"] = f"{options.get('options', '')} -c enable_bitmapscan=off".strip()

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Redis: queue and channel layer ----------------------------------------

REDIS_URL = env_str("REDIS_URL", "redis://127.0.0.1:6379/0")

RQ_QUEUES = {
    "orders": {"URL": REDIS_URL, "DEFAULT_TIMEOUT": 60},
}
RQ = {"COMMIT_MODE": "on_db_commit", "WORKER_CLASS": "orders.worker.OrderWorker"}
# django-rq would also serve its pages in the admin (/admin/django_rq/...)
# for any staff user: they are at /admin/rq/, for operators only (config/urls.py).
RQ_SHOW_ADMIN_LINK = False

# Django's cache, on Redis so that every process would share it. Nothing in
# the engine caches today (the rate limit keeps its own counters:
# orders/api/throttling.py); the tests clear it to empty their Redis database.
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,
        "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
    }
}

# Redis pub/sub carries each group send as one PUBLISH, and each web process
# keeps one subscriber connection for all its sockets. The list-based layer
# (channels_redis.core) pays two round trips and a Lua script per group send
# and a BZPOPMIN per message received: measured with one socket and five
# messages per order, it cost the web server twice the CPU. Delivery is at
# most once either way: a socket's snapshot (or REST) is the truth after a
# reconnect. Every group is on one Redis channel, and group members stay in
# their process (config/channel_layer.py): joining a group costs no command.
CHANNEL_LAYERS = {
    "default": {
        "BACKEND": "config.channel_layer.GroupChannelLayer",
        "CONFIG": {
            # redis-py 8 defaults to a 5 s socket timeout, which kills idle
            # subscribers blocked on a read (channels_redis issue 422).
            "hosts": [{"address": REDIS_URL, "socket_timeout": None}],
            # The all-orders feed (orders.broadcast.ALL_ORDERS_GROUP) hears
            # every write: only processes with a dashboard open read it.
            "wide_groups": ["orders.all"],
        },
    }
}

# --- The engine --------------------------------------------------------------

ORDER_CONCURRENCY = env_int("ORDER_CONCURRENCY", 10, minimum=1)
# How long admission, woken by a placement, waits for the orders placed just
# after it: a round costs about the same for one order as for ten (orders.jobs).
ADMISSION_GATHER_MS = env_float("ADMISSION_GATHER_MS", 3.0, low=0, high=100)
# The largest order, in units of tokenIn.
MAX_ORDER_AMOUNT = env_int("MAX_ORDER_AMOUNT", 1_000_000_000, minimum=1)
MAX_PENDING_ORDERS = env_int("MAX_PENDING_ORDERS", 10_000, minimum=1)
RATE_LIMIT_PER_MINUTE = env_int("RATE_LIMIT_PER_MINUTE", 6000, minimum=0)
# Quotes per client address per minute: each holds a web thread for the
# DEXes' quote latency, so one client asking without pause would hold them all.
QUOTE_RATE_LIMIT_PER_MINUTE = env_int("QUOTE_RATE_LIMIT_PER_MINUTE", 1200, minimum=0)
# Proxies in front of the web processes that append to X-Forwarded-For; the
# rate limit trusts that many of its entries, from the right (orders/api/throttling.py).
TRUSTED_PROXIES = env_int("TRUSTED_PROXIES", 0, minimum=0)
if TRUSTED_PROXIES:
    # A proxy that terminates TLS says so in this header; with it trusted,
    # an order's wsUrl is wss:// as the page that placed it is https://.
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
# An order in routing or building whose row has not moved for this long has
# lost its worker; the sweeper resumes it (see orders/recovery.py).
ORDER_STALL_SECONDS = env_int("ORDER_STALL_SECONDS", 15, minimum=1)
# How long a limit or sniper order waits for its trigger unless it says.
DEFAULT_ORDER_EXPIRY_SECONDS = env_int("DEFAULT_ORDER_EXPIRY_SECONDS", 3600, minimum=1)
ORDER_MAX_ATTEMPTS = env_int("ORDER_MAX_ATTEMPTS", 3, minimum=1)
# Back-off before the second attempt; it doubles for each one after.
ORDER_RETRY_BACKOFF_SECONDS = env_float("ORDER_RETRY_BACKOFF_SECONDS", 0.5, low=0, high=60)
# At most how often the engine clock releases due timers (quotes, settlements,
# retries); it sweeps and asks for admission every 2 s, whatever the tick.
CLOCK_TICK_SECONDS = env_float("CLOCK_TICK_SECONDS", 0.05, low=0.01, high=5)

MOCK_QUOTE_LATENCY_MS = env_ms_range("MOCK_QUOTE_LATENCY_MS", "200")
MOCK_SWAP_LATENCY_MS = env_ms_range("MOCK_SWAP_LATENCY_MS", "2000-3000")
MOCK_FAILURE_RATE = env_float("MOCK_FAILURE_RATE", 0.0, low=0.0, high=1.0)
MOCK_SEED = env_str("MOCK_SEED", "")
# Other traders move the mock pools this often (seconds); 0 stops them.
MARKET_DRIFT_SECONDS = env_float("MARKET_DRIFT_SECONDS", 5.0, low=0, high=3600)

# Threads per web process for Django's synchronous code (views, middleware,
# queries); each keeps its database connection (config/http.py).
WEB_THREADS = env_int("WEB_THREADS", 4, minimum=1)

# --- Metrics -------------------------------------------------------------------

# Web servers, workers and the clock are separate processes: prometheus-client
# keeps each one's samples in files here and /metrics adds them up. The
# variable must be set before prometheus_client is first imported, which is
# after settings. `make run` empties the folder before it starts.
PROMETHEUS_MULTIPROC_DIR = Path(env_str("PROMETHEUS_MULTIPROC_DIR", str(DEFAULT_METRICS_DIR)))
PROMETHEUS_MULTIPROC_DIR.mkdir(parents=True, exist_ok=True)
os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(PROMETHEUS_MULTIPROC_DIR)

# --- HTTP API ----------------------------------------------------------------

# Placing orders takes an API key (or a dashboard login); on in production.
API_KEYS_REQUIRED = env_bool("API_KEYS_REQUIRED", False)
# An Idempotency-Key is remembered this long.
IDEMPOTENCY_KEY_TTL_HOURS = env_int("IDEMPOTENCY_KEY_TTL_HOURS", 24, minimum=1)

DATA_UPLOAD_MAX_MEMORY_SIZE = 64 * 1024

REST_FRAMEWORK = {
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "orders.api.auth.ApiKeyAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["orders.api.auth.MayPlaceOrders"],
    "EXCEPTION_HANDLER": "orders.api.errors.exception_handler",
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.CursorPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    # `?format=json` still picks the schema's JSON; `?format=xml` is ignored, not a bare 404.
    "DEFAULT_CONTENT_NEGOTIATION_CLASS": "orders.api.negotiation.KnownFormatsOnly",
}

# The OpenAPI schema at /api/schema; Swagger UI at /api/docs, served from
# drf-spectacular-sidecar's static files, so it works offline (no CDN).
SPECTACULAR_SETTINGS = {
    "TITLE": "Order execution engine",
    "DESCRIPTION": "Market, limit and sniper orders for Solana token swaps, routed to the better of "
    "Raydium and Meteora. "
    'Errors are JSON: {"error": str, "fields": {field: [str]}}. '
    "Order updates stream over WebSocket at /ws/orders/{orderId}.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "orders.api.schema.camel_case_path_parameters",
    ],
}

# --- Static files, i18n, logging ---------------------------------------------

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
# On one machine the apps' own files are served as they are, DEBUG or not, so
# nothing needs collecting first; config.production serves collectstatic's
# compressed copies instead.
WHITENOISE_USE_FINDERS = True
# So collectstatic's folder need not exist, and whitenoise's warning that it
# does not would only be noise at every start.
warnings.filterwarnings("ignore", message="No directory at", category=UserWarning)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# JSON lines (LOG_FORMAT=json) or plain text (plain); auto: plain on a terminal.
# Every line logged while a job works on an order carries its id.
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"order_id": {"()": "orders.logcontext.OrderIdFilter"}},
    "formatters": {
        "plain": {"()": "config.logformat.PlainFormatter"},
        "json": {"()": "config.logformat.JsonFormatter"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": logformat.choose(env_str("LOG_FORMAT", "auto")),
            "filters": ["order_id"],
        }
    },
    "root": {"handlers": ["console"], "level": env_log_level("LOG_LEVEL", "INFO")},
    "loggers": {"rq.worker": {"level": "WARNING"}},
}
