"""Production settings: `DJANGO_SETTINGS_MODULE=config.production`.

The same environment variables as config.settings, with safe defaults for a
deployment behind a TLS-terminating proxy, and nothing insecure by default:
`manage.py check --deploy` is clean (tests/test_production_settings.py).
"""

import os
import warnings

from django.core.exceptions import ImproperlyConfigured


def _default(name: str, value: str) -> None:
    # Set but empty counts as unset, as config.env reads it: `API_KEYS_REQUIRED=`
    # must not fall through to config.settings' development default.
    if not os.environ.get(name):
        os.environ[name] = value


_default("DEBUG", "false")
_default("API_KEYS_REQUIRED", "true")
# Behind the load balancer, which appends each client's address to X-Forwarded-For.
_default("TRUSTED_PROXIES", "1")

from config.env import env_bool, env_int  # noqa: E402
from config.settings import *  # noqa: E402,F403

if not os.environ.get("SECRET_KEY"):
    raise ImproperlyConfigured("SECRET_KEY must be set in production (50+ random characters).")
if not os.environ.get("ALLOWED_HOSTS"):
    raise ImproperlyConfigured("ALLOWED_HOSTS must name the hosts this engine answers to, comma-separated.")

SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
# The load balancer terminates TLS and says so in this header.
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31_536_000, minimum=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
# The health check is probed over plain HTTP from inside the network.
SECURE_REDIRECT_EXEMPT = [r"^api/health$", r"^metrics$"]
CSRF_TRUSTED_ORIGINS = [f"https://{host}" for host in ALLOWED_HOSTS]  # noqa: F405
# `manage.py collectstatic` at deploy: whitenoise serves its copies, with
# their gzip and Brotli variants, rather than the apps' uncompressed files.
WHITENOISE_USE_FINDERS = False
# Here a missing folder means collectstatic did not run: say so.
warnings.filterwarnings("default", message="No directory at", category=UserWarning)
