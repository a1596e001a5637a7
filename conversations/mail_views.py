"""A message's parts, served safely: its body re-rendered with images, inline cid: parts, the
original .eml, and the image proxy through which remote images load when a reader allows them."""

from __future__ import annotations

import http.client
import ipaddress
import socket
import time
import urllib.error
import urllib.request
from functools import partial
from typing import Any, TypeVar
from urllib.parse import urlsplit
from uuid import UUID

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core import signing
from django.db.models import Q
from django.http import FileResponse, Http404, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import render
from django.utils.text import slugify
from django.views.decorators.http import require_safe

from conversations.models import Attachment, Message
from conversations.sanitize import unsign_image_url
from missive.htmx import AuthenticatedRequest

# Served inline: raster formats only. SVG can carry script, so it is always a download.
INLINE_IMAGE_TYPES = {
    "image/png": "image/png",
    "image/jpeg": "image/jpeg",
    "image/jpg": "image/jpeg",
    "image/pjpeg": "image/jpeg",
    "image/gif": "image/gif",
    "image/webp": "image/webp",
    "image/avif": "image/avif",
    "image/bmp": "image/bmp",
    "image/x-icon": "image/x-icon",
    "image/vnd.microsoft.icon": "image/x-icon",
}
# A response that is only ever an image: if opened on its own it can do nothing in our origin.
PART_CSP = "default-src 'none'; sandbox"
PROXY_TIMEOUT = 5  # seconds per connect or read
PROXY_DEADLINE = 10  # seconds for the whole fetch, so a slow trickle cannot hold a worker
PROXY_MAX_BYTES = 5 * 1024 * 1024
PROXY_MAX_REDIRECTS = 3

_Response = TypeVar("_Response", bound=HttpResponseBase)


def get_message_for_user(request: AuthenticatedRequest, message_id: UUID) -> Message:
    """A message of a conversation the user can access; 404 for anything else."""
    message = Message.objects.filter(id=message_id, conversation__states__user=request.user).first()
    if message is None:
        raise Http404("No such message.")
    return message


def _protect(response: _Response) -> _Response:
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = PART_CSP
    response.headers["Cross-Origin-Resource-Policy"] = "same-origin"
    response.headers["Cache-Control"] = "private, max-age=86400"
    return response


@require_safe
@login_required
def message_body(request: AuthenticatedRequest, message_id: UUID) -> HttpResponse:
    """One message's body; `?images=1` loads its remote images through our proxy."""
    message = get_message_for_user(request, message_id)
    context = {"item": message, "allow_images": request.GET.get("images") == "1"}
    return render(request, "conversations/_message_body.html", context)


@require_safe
@login_required
def message_inline_part(request: AuthenticatedRequest, message_id: UUID, content_id: str) -> FileResponse:
    """A part a message refers to by cid:, inline when it is a raster image, else as a download."""
    message = get_message_for_user(request, message_id)
    # Content-IDs are stored without their angle brackets, but compare as mail clients do.
    same_id = Q(content_id__iexact=content_id) | Q(content_id__iexact=f"<{content_id}>")
    part = Attachment.objects.filter(same_id, message=message).exclude(file="").first()
    if part is None:
        raise Http404("No such part.")
    content_type = INLINE_IMAGE_TYPES.get(part.content_type.lower())
    response = FileResponse(part.file.open("rb"), as_attachment=content_type is None, filename=part.filename)
    response.headers["Content-Type"] = content_type or "application/octet-stream"
    return _protect(response)


@require_safe
@login_required
def message_raw(request: AuthenticatedRequest, message_id: UUID) -> FileResponse:
    """The original bytes of a message, as an .eml download."""
    message = get_message_for_user(request, message_id)
    if not message.raw_file:
        raise Http404("The original of this message was not kept.")
    filename = f"{slugify(message.subject)[:60] or 'message'}.eml"
    response = FileResponse(message.raw_file.open("rb"), as_attachment=True, filename=filename)
    response.headers["Content-Type"] = "message/rfc822"
    return _protect(response)


@require_safe
@login_required
def image_proxy(request: AuthenticatedRequest) -> HttpResponse:
    """A remote image of a message the reader chose to show, fetched by us: the sender sees
    neither the reader's address nor their cookies. Only addresses we signed are fetched."""
    try:
        url = unsign_image_url(request.GET.get("u", ""))
    except signing.BadSignature:
        raise Http404("Not an image address we issued.") from None
    try:
        content_type, content = fetch_image(url, allow_private=getattr(settings, "IMAGE_PROXY_ALLOW_PRIVATE", False))
    except RefusedDestination:
        return _protect(HttpResponse("This address is not allowed.", status=403, content_type="text/plain"))
    except ImageFetchError as error:
        return _protect(HttpResponse(f"Could not load the image: {error}", status=502, content_type="text/plain"))
    return _protect(HttpResponse(content, content_type=content_type))


class ImageFetchError(Exception):
    pass


class RefusedDestination(ImageFetchError, OSError):
    """The address resolves to a private, loopback or otherwise non-public host."""


def fetch_image(url: str, *, allow_private: bool) -> tuple[str, bytes]:
    """(content type, bytes) of a public http(s) image, or ImageFetchError."""
    if urlsplit(url).scheme.lower() not in ("http", "https"):
        raise ImageFetchError("not a web address")
    opener = urllib.request.OpenerDirector()
    # Only these: no proxies from the environment, no file:, ftp: or data: handlers.
    for handler in (
        _PublicHTTPHandler(allow_private),
        _PublicHTTPSHandler(allow_private),
        _RedirectHandler(),
        urllib.request.HTTPDefaultErrorHandler(),
        urllib.request.HTTPErrorProcessor(),
        urllib.request.UnknownHandler(),
    ):
        opener.add_handler(handler)
    headers = {"User-Agent": "Missive image proxy", "Accept": "image/*"}
    request = urllib.request.Request(url, headers=headers)  # noqa: S310 - http(s) only, checked above
    deadline = time.monotonic() + PROXY_DEADLINE
    try:
        with opener.open(request, timeout=PROXY_TIMEOUT) as response:
            content_type = INLINE_IMAGE_TYPES.get(response.headers.get_content_type())
            if content_type is None:
                raise ImageFetchError("not an image")
            chunks: list[bytes] = []
            size = 0
            while chunk := response.read(64 * 1024):
                size += len(chunk)
                if size > PROXY_MAX_BYTES:
                    raise ImageFetchError("too large")
                if time.monotonic() > deadline:
                    raise ImageFetchError("too slow")
                chunks.append(chunk)
    except urllib.error.URLError as error:
        if isinstance(error.reason, RefusedDestination):
            raise error.reason from None
        raise ImageFetchError(str(getattr(error, "reason", error))) from None
    except (OSError, http.client.HTTPException, ValueError) as error:
        if isinstance(error, ImageFetchError):
            raise
        raise ImageFetchError(str(error)) from None
    return content_type, b"".join(chunks)


def _connect(
    address: tuple[str, int],
    timeout: Any = socket._GLOBAL_DEFAULT_TIMEOUT,  # type: ignore[attr-defined]
    source_address: Any = None,
    *,
    allow_private: bool,
) -> socket.socket:
    """socket.create_connection, to the addresses the name resolves to that we may reach. The
    check is made on the address we connect to, so DNS answering differently later changes nothing."""
    host, port = address
    refused: RefusedDestination | None = None
    last_error: OSError | None = None
    for family, kind, proto, _, sockaddr in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM):
        ip = ipaddress.ip_address(sockaddr[0])
        if not (allow_private or ip.is_global) or ip.is_multicast or ip.is_unspecified:
            refused = RefusedDestination(f"{host} is not a public address")
            continue
        sock = socket.socket(family, kind, proto)
        try:
            if timeout is not socket._GLOBAL_DEFAULT_TIMEOUT:  # type: ignore[attr-defined]
                sock.settimeout(timeout)
            sock.connect(sockaddr)
            return sock
        except OSError as error:
            sock.close()
            last_error = error
    raise last_error or refused or OSError(f"cannot resolve {host}")


class _PublicHTTPConnection(http.client.HTTPConnection):
    def __init__(self, *args: Any, allow_private: bool, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._create_connection = partial(_connect, allow_private=allow_private)


class _PublicHTTPSConnection(http.client.HTTPSConnection):
    def __init__(self, *args: Any, allow_private: bool, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._create_connection = partial(_connect, allow_private=allow_private)


class _PublicHTTPHandler(urllib.request.HTTPHandler):
    def __init__(self, allow_private: bool) -> None:
        super().__init__()
        self.allow_private = allow_private

    def http_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
        return self.do_open(partial(_PublicHTTPConnection, allow_private=self.allow_private), req)


class _PublicHTTPSHandler(urllib.request.HTTPSHandler):
    def __init__(self, allow_private: bool) -> None:
        super().__init__()
        self.allow_private = allow_private

    def https_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
        return self.do_open(
            partial(_PublicHTTPSConnection, allow_private=self.allow_private),
            req,
            context=self._context,  # type: ignore[attr-defined]
        )


class _RedirectHandler(urllib.request.HTTPRedirectHandler):
    max_redirections = PROXY_MAX_REDIRECTS

    def redirect_request(self, req, fp, code, msg, headers, newurl):  # type: ignore[no-untyped-def]
        if urlsplit(newurl).scheme.lower() not in ("http", "https"):
            return None  # then the 3xx is an error
        return super().redirect_request(req, fp, code, msg, headers, newurl)
