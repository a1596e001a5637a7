"""An API client for the cast: requests carry a real token of the user, made by create_token."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client

from channels_app.api.tokens import create_token
from inboxes.models import User


class ApiClient:
    """JSON in and out, with the user's Bearer token; `.user` is who it acts as."""

    def __init__(self, user: User) -> None:
        self.user = user
        _, self.token = create_token(user, "tests")
        self.client = Client(HTTP_AUTHORIZATION=f"Bearer {self.token}")

    def get(self, path: str, params: dict[str, Any] | None = None) -> Any:
        return self.client.get(path, params or {})

    def post(self, path: str, body: Any) -> Any:
        return self.client.post(path, json.dumps(body), content_type="application/json")

    def patch(self, path: str, body: Any) -> Any:
        return self.client.patch(path, json.dumps(body), content_type="application/json")

    def delete(self, path: str) -> Any:
        return self.client.delete(path)


@pytest.fixture
def api_as():
    """api_as(user) → an ApiClient acting as that user."""
    return ApiClient


@pytest.fixture(autouse=True)
def _fresh_rate_limits():
    """Counters live in Redis, past a test's rolled-back transaction: each test starts at zero."""
    from conversations.live import client

    for key in client().scan_iter("ratelimit:*"):
        client().delete(key)
