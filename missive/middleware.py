import re
from collections.abc import Callable
from contextvars import ContextVar

from django.http import HttpRequest, HttpResponse

# Our own pages load only our own scripts and styles. Email bodies are rendered separately in a
# sandboxed iframe with a stricter policy of their own.
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data:",
        "frame-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)


class ContentSecurityPolicyMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        return response


# The browser tab a request comes from (live.js sends a random id with every HTMX request). Live
# notices carry it, so the tab that made a change does not re-fetch the conversation its own
# request has just re-rendered.
live_tab: ContextVar[str] = ContextVar("live_tab", default="")
_TAB_ID = re.compile(r"[A-Za-z0-9-]{1,64}")


class LiveTabMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        tab = request.headers.get("X-Live-Tab", "")
        token = live_tab.set(tab if _TAB_ID.fullmatch(tab) else "")
        try:
            return self.get_response(request)
        finally:
            live_tab.reset(token)
