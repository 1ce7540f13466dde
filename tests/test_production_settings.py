"""Settings read from the environment: production's pass Django's deployment checklist, and
make run's answer where it listens."""

import os
import secrets
import subprocess
import sys

from tests.engine import ROOT


def _check(env: dict) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "config.production", **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_check_deploy_is_clean_with_production_settings():
    result = _check({"SECRET_KEY": secrets.token_urlsafe(50), "ALLOWED_HOSTS": "orders.example.com"})

    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_production_refuses_to_start_without_a_secret_key():
    env = {"ALLOWED_HOSTS": "orders.example.com"}
    result = _check({**env, "SECRET_KEY": ""})

    assert result.returncode != 0
    assert "SECRET_KEY must be set" in result.stderr


def _setting(name: str, env: dict, module: str = "config.production") -> str:
    return subprocess.run(
        [sys.executable, "-c", f"from django.conf import settings; print(settings.{name})"],
        cwd=ROOT,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": module, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout.strip()


def test_an_empty_api_keys_required_still_requires_keys_in_production():
    env = {"SECRET_KEY": secrets.token_urlsafe(50), "ALLOWED_HOSTS": "orders.example.com"}

    assert _setting("API_KEYS_REQUIRED", {**env, "API_KEYS_REQUIRED": ""}) == "True"


def test_allowed_hosts_after_a_comma_and_a_space_are_allowed():
    env = {"SECRET_KEY": secrets.token_urlsafe(50), "ALLOWED_HOSTS": "a.example.com, b.example.com,"}

    assert _setting("ALLOWED_HOSTS", env) == "['a.example.com', 'b.example.com']"
    assert _setting("CSRF_TRUSTED_ORIGINS", env) == "['https://a.example.com', 'https://b.example.com']"


def _development(name: str, env: dict) -> str:
    clean = {key: value for key, value in os.environ.items() if key not in ("ALLOWED_HOSTS", "HOST")}
    return _setting(name, {**clean, **env}, module="config.settings")


def test_make_run_on_every_address_answers_whatever_name_reaches_it():
    assert _development("ALLOWED_HOSTS", {"HOST": "0.0.0.0"}) == "['*']"
    assert "'192.168.1.20'" in _development("ALLOWED_HOSTS", {"HOST": "192.168.1.20"})
    assert "'[fd00::20]'" in _development("ALLOWED_HOSTS", {"HOST": "fd00::20"})
    assert "'*'" not in _development("ALLOWED_HOSTS", {"HOST": "0.0.0.0", "ALLOWED_HOSTS": "a.example.com"})


def test_behind_a_trusted_proxy_its_tls_header_is_trusted_for_wss_urls():
    assert _development("SECURE_PROXY_SSL_HEADER", {"TRUSTED_PROXIES": "1"}) == (
        "('HTTP_X_FORWARDED_PROTO', 'https')"
    )
    assert _development("SECURE_PROXY_SSL_HEADER", {"TRUSTED_PROXIES": "0"}) == "None"
