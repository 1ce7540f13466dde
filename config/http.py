"""Django's HTTP handler, on threads that outlive a request, in one hop.

Django's ASGI handler costs more than most requests here do, for two reasons:

- It runs each request's synchronous part on a thread made for that request
  (asgiref's ThreadSensitiveContext), so a database connection never outlives
  its request and CONN_MAX_AGE does nothing: a new thread and a new
  connection per request cost 1.5 ms of CPU.
- It runs the middleware in async mode, where each synchronous middleware
  method hops to a thread and back: a dozen hops per request.

This handler runs the whole middleware chain and the view synchronously, in
one hop (as a WSGI server would), on the least busy of WEB_THREADS long-lived
threads, one request at a time on each. Connections are kept, and closed or
health-checked by Django's own request_started/request_finished signals, on
the thread that owns them.
"""

from concurrent.futures import ThreadPoolExecutor

from asgiref.sync import ThreadSensitiveContext, sync_to_async
from django.core.handlers.asgi import ASGIHandler
from django.core.handlers.base import BaseHandler


class ThreadPoolASGIHandler(ASGIHandler):
    def __init__(self, threads: int):
        BaseHandler.__init__(self)
        self.load_middleware(is_async=False)
        self._executors = [
            ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"django-http-{index}")
            for index in range(threads)
        ]
        self._busy = [0] * threads

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

    async def get_response_async(self, request):
        return await sync_to_async(self.get_response, thread_sensitive=True)(request)
