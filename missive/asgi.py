import asyncio
import contextvars
import os
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import django
from django.core import signals
from django.core.exceptions import RequestAborted
from django.core.handlers.asgi import ASGIHandler, get_script_prefix
from django.core.handlers.base import BaseHandler
from django.http import HttpResponse, HttpResponseBase
from django.urls import set_script_prefix

from missive.heap import freeze_startup_objects

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "missive.settings")

# The JSON API: every view and every middleware on its path is synchronous.
API_PREFIX = "/v1/"
# Threads per web process answering API requests at once; more wait in line. Grouped message
# delivery (channels_app/custom/together.py) holds a thread per waiting request.
API_THREADS = 32


class Handler(ASGIHandler):
    """Django's ASGI handler, answering /v1/ requests in one trip to a worker thread.

    Django's async mode starts a thread for each request and goes there from the event loop four
    times: for the request_started signal, the synchronous middleware, the view (the URL resolved
    back on the loop in between), and closing the response. An API request, synchronous
    from end to end, does all of that in one call on a pooled thread: signals, middleware and view,
    built in Django's synchronous mode as under WSGI. The event loop only reads the body and writes
    the answer. Other paths (the live streams are async views) keep Django's own way.
    """

    def __init__(self) -> None:
        super().__init__()
        self.synchronous = BaseHandler()
        self.synchronous.load_middleware(is_async=False)
        self.api_threads = ThreadPoolExecutor(max_workers=API_THREADS, thread_name_prefix="api")

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["path"].startswith(API_PREFIX):
            await self.handle_api(scope, receive, send)
        else:
            await super().__call__(scope, receive, send)

    async def handle_api(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        try:
            body_file = await self.read_body(receive)
        except RequestAborted:
            return
        context = contextvars.copy_context()  # nothing a request sets outlives it on the thread
        loop = asyncio.get_running_loop()
        response = await loop.run_in_executor(self.api_threads, context.run, self.answer, scope, body_file)
        await self.send_response(response, send)

    def answer(self, scope: dict[str, Any], body_file: Any) -> HttpResponseBase:
        """The whole request on this thread, closed (request_finished, which hands the database
        connection back) before the event loop sends it."""
        try:
            set_script_prefix(get_script_prefix(scope))
            signals.request_started.send(sender=self.__class__, scope=scope)
            request, refused = self.create_request(scope, body_file)
            response: Any = self.synchronous.get_response(request) if request is not None else refused
            response._handler_class = self.__class__  # the sender of request_finished
            try:
                if response.streaming:  # no API answer streams; one that did is read whole here
                    whole = HttpResponse(b"".join(response), status=response.status_code, headers=response.headers)
                    whole.cookies = response.cookies
                    return whole
                return response
            finally:
                response.close()
        finally:
            body_file.close()


django.setup(set_prefix=False)
application = Handler()
freeze_startup_objects()
