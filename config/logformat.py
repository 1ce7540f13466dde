"""Log formats: one JSON object per line for machines, plain text for people.

LOG_FORMAT=json or LOG_FORMAT=plain chooses; by default (auto) it is plain
when stderr is a terminal and JSON otherwise, so `make run` in a terminal
reads well and the same processes under a supervisor, piped to a file or a
log shipper, write JSON. Only the standard library: a formatter is a few
lines, not worth a dependency.
"""

import json
import logging
import sys
from datetime import UTC, datetime

from django.core.exceptions import ImproperlyConfigured

# Attributes every LogRecord has; anything else on a record came from `extra=`.
_STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime", "order_id", "taskName"}


def choose(log_format: str) -> str:
    """The formatter name for LOG_FORMAT: "json", "plain" or "auto"."""
    if log_format == "auto":
        return "plain" if sys.stderr.isatty() else "json"
    if log_format not in ("json", "plain"):
        raise ImproperlyConfigured(f"LOG_FORMAT must be auto, json or plain, got {log_format!r}")
    return log_format


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC)
            .isoformat(timespec="milliseconds")
            .replace("+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "process": record.process,
        }
        order_id = getattr(record, "order_id", None)
        if order_id:
            entry["orderId"] = order_id
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return json.dumps(entry, default=str)


class PlainFormatter(logging.Formatter):
    """`time level logger message [order <id>]`."""

    def __init__(self):
        super().__init__("%(asctime)s %(levelname)s %(name)s %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        order_id = getattr(record, "order_id", None)
        if order_id:
            first, newline, rest = text.partition("\n")
            text = f"{first} [order {order_id}]{newline}{rest}"
        return text
