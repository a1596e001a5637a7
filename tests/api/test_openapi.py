"""The served OpenAPI schema describes the API accurately enough for schemathesis to drive every
operation with generated requests, and none of them makes the server fail (no 5xx)."""

from __future__ import annotations

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from django.test import Client
from hypothesis import HealthCheck, Phase, settings

from channels_app.api.tokens import create_token

schema = schemathesis.openapi.from_wsgi("/v1/openapi.json", get_wsgi_application())


def test_the_schema_is_served_without_a_token_and_lists_every_route():
    response = Client().get("/v1/openapi.json")
    assert response.status_code == 200
    document = response.json()
    assert document["openapi"].startswith("3.")
    paths = document["paths"]
    for path in ("/v1/conversations", "/v1/messages/{message_ids}", "/v1/teams", "/v1/shared_labels", "/v1/responses"):
        assert path in paths
    assert paths["/v1/users"]["get"]["security"] == [{"BearerToken": []}]
    # Request bodies are the spec's wrapped form, each a real schema.
    body = paths["/v1/teams"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    reference = body["$ref"].rpartition("/")[2]
    assert list(document["components"]["schemas"][reference]["properties"]) == ["teams"]


@pytest.fixture
def token(cast, settings):  # noqa: F811 - pytest-django's settings fixture
    settings.API_RATE_LIMIT_PER_MINUTE = settings.API_RATE_LIMIT_PER_15_MINUTES = 1_000_000
    # Requests go through the real WSGI handler, inside the test's transaction: like Django's test
    # client, keep the handler from closing the connection at the end of each request.
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield create_token(cast.owner, "schemathesis")[1]
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.mark.django_db
@schema.parametrize()
@settings(
    max_examples=20,
    deadline=None,
    derandomize=True,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.filter_too_much],
)
def test_no_operation_fails_on_generated_requests(case, token):
    response = case.call(headers={"Authorization": f"Bearer {token}"})
    where = f"{case.method} {case.formatted_path}"
    assert response.status_code < 500, f"{where}: {response.status_code} {response.text[:500]}"
