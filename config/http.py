"""Django's HTTP handler, on threads that outlive a request, in one hop.

Django's ASGI handler costs more than most requests here do, for two reasons:

- It runs each request's synchronous part on a thread made for that request
  (asgiref's ThreadSensitiveContext), so a database connection never outlives
  its request and CONN_MAX_AGE does nothing: a new thread and a new
  connection per request cost 1.5 ms of CPU.
- It runs the middleware in async mode, where each synchronous middleware
  method hops to a thread and back: a dozen hops per request.

- Around the view it makes two more hops of its own, for the request_started
  and request_finished signals, and runs a task that watches for the client
  going away, which a view on a thread cannot act on.

This handler runs the request_started signal, the whole middleware chain, the
view and, for a response already in memory, the request_finished signal
synchronously, in one hop (as a WSGI server would), on the least busy of
WEB_THREADS long-lived threads, one request at a time on each. Connections are
kept, and closed or health-checked by those signals, on the thread that owns
them. A streaming response (a static file) is sent and then closed as Django
does it.
"""

import contextlib
import os
from concurrent.futures import ThreadPoolExecutor

from asgiref.sync import ThreadSensitiveContext, sync_to_async
from django.core import signals
from django.core.exceptions import RequestAborted
from django.core.handlers.asgi import ASGIHandler, get_script_prefix
from django.core.handlers.base import BaseHandler
from django.db import DatabaseError, connection
from django.http import FileResponse, HttpResponseBadRequest, JsonResponse
from django.urls import set_script_prefix


class ThreadPoolASGIHandler(ASGIHandler):
    def __init__(self, threads: int):
        BaseHandler.__init__(self)
        self.load_middleware(is_async=False)
        self._executors = [
            ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"django-http-{index}")
            for index in range(threads)
        ]
        self._busy = [0] * threads

    def open_connections(self) -> int:
        """Open each thread's database connection now, not at its first
        request. A database not up yet is left to the requests, which
        report it. Returns how many were opened."""

        def connect() -> bool:
            with contextlib.suppress(DatabaseError):
                connection.ensure_connection()
                return True
            return False

        # All at once: a database that does not answer holds the start up once.
        opening = [executor.submit(connect) for executor in self._executors]
        return sum(future.result() for future in opening)

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            raise ValueError(f"Django can only handle ASGI/HTTP connections, not {scope['type']}.")
        index = min(range(len(self._busy)), key=self._busy.__getitem__)
        self._busy[index] += 1
        try:
            async with ThreadSensitiveContext(executor=self._executors[index]):
                await self.handle(scope, receive, send)
        finally:
            self._busy[index] -= 1

    async def handle(self, scope, receive, send):
        try:
            body_file = await self.read_body(receive)
        except RequestAborted:
            return
        try:
            response = await sync_to_async(self.respond, thread_sensitive=True)(scope, body_file)
            await self.send_response(response, send)
            if response.streaming:
                await sync_to_async(response.close, thread_sensitive=True)()
        finally:
            body_file.close()

    def create_request(self, scope, body_file):
        """Django's, with its refusals under /api/ as JSON. Django reads the
        Content-Type's parameters as it builds the request, and lets an
        RFC 2231 one it cannot decode escape (a charset it does not know, or
        one that is no character): a 400 too, not a 500 page."""
        api = scope.get("path", "").startswith("/api/")
        try:
            request, response = super().create_request(scope, body_file)
        except ValueError as error:
            unreadable = (
                "its charset is not text" if isinstance(error, UnicodeError) else str(error).rstrip(".")
            )
            message = f"The Content-Type header cannot be read: {unreadable}."
            if api:
                from orders.api.errors import error_body

                return None, JsonResponse(error_body(message), status=400)
            return None, HttpResponseBadRequest(message)
        if response is not None and api:
            from orders.api.errors import MAX_BODY_BYTES, error_body

            # Django refuses only these two, with bodies of its own.
            if response.status_code == 413:
                message = f"The request body is larger than {MAX_BODY_BYTES} bytes."
            else:
                message = "The request cannot be read: its query string is not UTF-8."
            response = JsonResponse(error_body(message), status=response.status_code)
        return request, response

    def respond(self, scope, body_file):
        """Everything Django does for a request but read and send it, on the
        request's thread."""
        set_script_prefix(get_script_prefix(scope))
        signals.request_started.send(sender=self.__class__, scope=scope)
        request, response = self.create_request(scope, body_file)
        if request is not None:
            if "CONTENT_LENGTH" not in request.META:
                _measure_body(request, body_file)
            response = self.get_response(request)
        response._handler_class = self.__class__
        if isinstance(response, FileResponse):
            response.block_size = self.chunk_size
        if not response.streaming:
            # Its body is in memory already: sending it needs nothing that
            # closing releases, and request_finished runs here, not in a hop.
            response.close()
        return response


def _measure_body(request, body_file) -> None:
    """A body sent in chunks comes with no Content-Length, and DRF reads a
    request without one as empty (and Django's size check passes it): give
    it the length of the body read."""
    size = body_file.seek(0, os.SEEK_END)
    body_file.seek(0)
    if size:
        request.META["CONTENT_LENGTH"] = str(size)
