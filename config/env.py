"""Tiny readers for environment variables that fail loudly on bad values."""

import logging
import os
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

# Where every process of the engine writes its Prometheus samples
# (PROMETHEUS_MULTIPROC_DIR), unless told elsewhere.
DEFAULT_METRICS_DIR = Path(__file__).resolve().parent.parent / ".run" / "metrics"

# What a yes-or-no variable may say.
TRUE_WORDS = ("1", "true", "yes", "on")
FALSE_WORDS = ("0", "false", "no", "off")


def env_str(name: str, default: str) -> str:
    return os.environ.get(name, "") or default


def env_list(name: str, default: str) -> list[str]:
    """A comma-separated list: "a.com, b.com" is ["a.com", "b.com"]."""
    return [item.strip() for item in env_str(name, default).split(",") if item.strip()]


def env_log_level(name: str, default: str) -> str:
    """A logging level's name, in any case: "debug" as well as "DEBUG", and
    every name the logging module knows (WARN, FATAL, NOTSET)."""
    raw = (os.environ.get(name, "") or default).upper()
    levels = logging.getLevelNamesMapping()
    if raw not in levels:
        raise ImproperlyConfigured(f"{name} must be one of {', '.join(levels)}, got {os.environ.get(name)!r}")
    return raw


def env_int(name: str, default: int, *, minimum: int | None = None) -> int:
    raw = os.environ.get(name, "")
    if raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be an integer, got {raw!r}") from None
    if minimum is not None and value < minimum:
        raise ImproperlyConfigured(f"{name} must be at least {minimum}, got {value}")
    return value


def env_float(name: str, default: float, *, low: float, high: float) -> float:
    raw = os.environ.get(name, "")
    if raw == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a number, got {raw!r}") from None
    if not low <= value <= high:
        raise ImproperlyConfigured(f"{name} must be between {low} and {high}, got {value}")
    return value


def env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name, "")
    if raw == "":
        return default
    if raw.lower() in TRUE_WORDS:
        return True
    if raw.lower() in FALSE_WORDS:
        return False
    raise ImproperlyConfigured(f"{name} must be true or false, got {raw!r}")


def env_ms_range(name: str, default: str) -> tuple[int, int]:
    """A latency in milliseconds: "200" or a uniform range "2000-3000"."""
    raw = os.environ.get(name, "") or default
    low, _, high = raw.partition("-")
    try:
        bounds = (int(low), int(high or low))
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be N or N-M milliseconds, got {raw!r}") from None
    if bounds[0] < 0 or bounds[1] < bounds[0]:
        raise ImproperlyConfigured(f"{name} must be a non-negative range, got {raw!r}")
    return bounds
