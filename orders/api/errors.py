"""Errors as JSON: {"error": "<sentence>", "fields": {"<field>": ["<why>"]}}.

Every failure an API client can cause gets this shape and a 4xx status,
including the ones Django raises before DRF sees the request (unknown URL,
oversized body), so no client ever parses an HTML error page.
"""

import logging

from django.core.exceptions import DisallowedHost, RequestDataTooBig
from django.db import InterfaceError, OperationalError, connection
from django.http import JsonResponse
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from orders.api.parsers import UnreadableCharset
from orders.api.throttling import PlacementThrottle

MAX_BODY_BYTES = 64 * 1024
# What a client needs of an error response besides its body.
KEPT_HEADERS = ("Allow", "WWW-Authenticate", "Retry-After", "Vary")

log = logging.getLogger(__name__)


def error_body(message: str, fields: dict | None = None) -> dict:
    body = {"error": message}
    if fields:
        body["fields"] = fields
    return body


def _flatten(detail) -> dict:
    """DRF's nested ValidationError detail as {"field": ["why", ...]}."""
    if isinstance(detail, dict):
        return {
            key: [str(item) for item in (value if isinstance(value, list) else [value])]
            for key, value in detail.items()
        }
    return {"non_field_errors": [str(item) for item in (detail if isinstance(detail, list) else [detail])]}


def exception_handler(exc, context):
    if isinstance(exc, RequestDataTooBig):
        return Response(error_body(f"The request body is larger than {MAX_BODY_BYTES} bytes."), status=413)
    if _database_unavailable(exc):
        request = context["request"]
        log.warning("%s %s: the database is not answering (%s)", request.method, request.path, exc)
        return service_unavailable(database_not_answering(exc))
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        fields = _flatten(exc.detail)
        named = ", ".join(sorted(key for key in fields if key != "non_field_errors"))
        first = next(iter(fields.values()))[0]
        message = f"Invalid {named}: {first}" if named else first
        response.data = error_body(message, fields if named else None)
    elif isinstance(exc, UnreadableCharset):
        response.data = error_body(str(exc.detail))
    elif isinstance(exc, exceptions.UnsupportedMediaType):
        response.data = error_body("The request body must be JSON (Content-Type: application/json).")
    elif isinstance(exc, exceptions.ParseError):
        response.data = error_body(f"The request body is not valid JSON: {exc.detail}")
    elif isinstance(exc, exceptions.MethodNotAllowed):
        response.data = error_body(f"Method {context['request'].method} is not allowed here.")
    elif isinstance(exc, exceptions.NotAuthenticated):
        response.data = error_body(
            "Placing orders needs an API key: send 'Authorization: Bearer <key>', or log in to the dashboard."
        )
    elif isinstance(exc, exceptions.Throttled):
        # Each budget says what it counts: orders, or quotes.
        throttles = getattr(context.get("view"), "throttle_classes", None) or [PlacementThrottle]
        response.data = error_body(throttles[0].refusal(exc.wait))
    else:
        response.data = error_body(str(getattr(exc, "detail", exc)))
    return response


# What SQLite says when it cannot be reached or its write lock stays taken;
# its other OperationalErrors (no such table, a syntax error) are faults.
SQLITE_UNAVAILABLE = ("database is locked", "unable to open database", "disk i/o error")


def database_not_answering(exc) -> str:
    return f"The database is not answering ({type(exc).__name__}); try again shortly."


def _database_unavailable(exc) -> bool:
    """A database that is down, unreachable or too busy, which trying again
    later can get past: a 503, not a 500."""
    if isinstance(exc, InterfaceError):
        return True
    if not isinstance(exc, OperationalError):
        return False
    if connection.vendor == "sqlite":
        return str(exc).lower().startswith(SQLITE_UNAVAILABLE)
    # PostgreSQL's errors in the SQL itself are ProgrammingErrors; its
    # OperationalErrors are of the connection and the server.
    return True


class ApiErrorMiddleware:
    """JSON instead of Django's HTML for errors under /api/ that happen
    outside a DRF view: unknown paths, bodies over the size limit, a Host
    that ALLOWED_HOSTS refuses."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if not request.path.startswith("/api/"):
            return self.get_response(request)
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        if length > MAX_BODY_BYTES:
            return JsonResponse(
                error_body(f"The request body is larger than {MAX_BODY_BYTES} bytes."), status=413
            )
        response = self.get_response(request)
        if response.status_code < 400 or _is_json(response):
            return response
        # An error rendered as something else: Django's HTML page, or a DRF
        # error of a view whose renderer is not JSON (the schema, its docs).
        body = getattr(response, "data", None)
        if not (isinstance(body, dict) and "error" in body):
            body = error_body(_sentence(request, response.status_code, response.reason_phrase))
        answer = JsonResponse(body, status=response.status_code)
        for header in KEPT_HEADERS:
            if header in response:
                answer[header] = response[header]
        # Not closed: closing sends request_finished, which the server sends
        # again when it closes the answer; an error page holds no resources.
        return answer


def _is_json(response) -> bool:
    media_type = response.get("Content-Type", "").split(";", 1)[0].strip()
    return media_type == "application/json" or media_type.endswith("+json")


def _sentence(request, status_code: int, reason_phrase: str) -> str:
    if status_code == 404:
        return f"Nothing at {request.path}."
    if status_code >= 500:
        return "The server failed to handle this request."
    if _host_refused(request):
        # Django answered the Host check (ALLOWED_HOSTS) with its HTML page.
        return "The Host header names a host this server does not answer to."
    return f"{reason_phrase}."


def _host_refused(request) -> bool:
    try:
        request.get_host()
    except DisallowedHost:
        return True
    return False


def service_unavailable(message: str, *, retry_after: int = 5) -> Response:
    response = Response(error_body(message), status=status.HTTP_503_SERVICE_UNAVAILABLE)
    response["Retry-After"] = str(retry_after)
    return response
