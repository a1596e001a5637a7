"""The /v1 API object: Bearer authentication, the error format, and the routers of each resource.

Errors are JSON in the spec's superset form (rest-api.md §1.7): `{"errors": msg, "message": msg}`,
plus `"field"` naming the part of the request at fault when there is one, e.g.
`"drafts.to_fields.0.address"` or `"limit"`.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied, RequestDataTooBig
from django.http import Http404, HttpRequest, HttpResponse
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError, ValidationError
from ninja.security import HttpBearer

from channels_app.api.tokens import user_for_token
from inboxes.models import User


class ApiError(Exception):
    """A refused request: its status, the message clients show, and the field at fault."""

    def __init__(self, message: str, *, status: int = 400, field: str = "") -> None:
        super().__init__(message)
        self.message, self.status, self.field = message, status, field


class BearerToken(HttpBearer):
    def authenticate(self, request: HttpRequest, token: str) -> User | None:
        user = user_for_token(token)
        if user is not None:
            request.user = user
        return user


api = NinjaAPI(
    title="Missive API",
    version="1",
    description="The public JSON API (spec/rest-api.md): every body is wrapped in the resource's plural name.",
    urls_namespace="v1",
    auth=BearerToken(),
    docs_url=None,
)


def error_response(request: HttpRequest, message: str, *, status: int, field: str = "") -> HttpResponse:
    body: dict[str, Any] = {"errors": message, "message": message}
    if field:
        body["field"] = field
    return api.create_response(request, body, status=status)


def api_user(request: HttpRequest) -> User:
    """The user the request's token acts as (set by BearerToken)."""
    user = request.auth  # type: ignore[attr-defined]
    assert isinstance(user, User)
    return user


@api.exception_handler(ApiError)
def _api_error(request: HttpRequest, exc: ApiError) -> HttpResponse:
    return error_response(request, exc.message, status=exc.status, field=exc.field)


@api.exception_handler(ValidationError)
def _validation_error(request: HttpRequest, exc: ValidationError) -> HttpResponse:
    first = exc.errors[0] if exc.errors else {}
    field = _field_name(first.get("loc", ()))
    reason = str(first.get("msg") or "is not valid")
    message = f"'{field}' {reason[0].lower()}{reason[1:]}" if field else reason
    return error_response(request, message, status=400, field=field)


def _field_name(location: Any) -> str:
    """("body", "payload", "drafts", "to_fields", 0, "address") → "drafts.to_fields.0.address";
    ("query", "limit") → "limit". The first two parts say where ninja found the value."""
    parts = [str(part) for part in location]
    if parts and parts[0] in ("query", "path", "header"):
        parts = parts[1:]
    elif parts and parts[0] == "body":
        parts = parts[2:]
    return ".".join(parts)


@api.exception_handler(AuthenticationError)
def _unauthenticated(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
    return error_response(request, "Invalid or missing API token.", status=401)


@api.exception_handler(Http404)
def _not_found(request: HttpRequest, exc: Http404) -> HttpResponse:
    return error_response(request, "Not found.", status=404)


@api.exception_handler(PermissionDenied)
def _forbidden(request: HttpRequest, exc: PermissionDenied) -> HttpResponse:
    return error_response(request, str(exc) or "You may not do this.", status=403)


@api.exception_handler(RequestDataTooBig)
def _too_big(request: HttpRequest, exc: RequestDataTooBig) -> HttpResponse:
    message = f"The request body is larger than {settings.API_MAX_BODY_MB} MB."
    return error_response(request, message, status=413, field="body")


@api.exception_handler(HttpError)
def _http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
    return error_response(request, exc.message, status=exc.status_code)


def _mount_routers() -> None:
    # Each resource module defines `router`; listed here, mounted once. Two routers may not share
    # a path (the first would answer and the other's methods get 405): such operations live on
    # one router (test_isolation.test_each_path_is_served_by_one_router).
    from channels_app.api import (
        contacts,
        conversations,
        conversations_write,
        custom_messages,
        drafts,
        hooks,
        labels,
        messages,
        posts,
        responses,
        tasks,
        teams,
        users,
    )

    # custom_messages adds POST /messages to messages.router.
    assert custom_messages.router is messages.router
    modules = (users, conversations, messages, teams, labels, responses, contacts, drafts, posts)
    for module in (*modules, conversations_write, tasks, hooks):
        api.add_router("", module.router)


_mount_routers()
