"""The /v1 conventions: Bearer tokens stored hashed, the error body, pagination, rate limits."""

from __future__ import annotations

import hashlib
from datetime import timedelta

from django.test import Client

from channels_app.api.tokens import create_token, revoke_token
from channels_app.models import ApiToken


def test_a_token_is_stored_only_as_its_digest(cast):
    row, token = create_token(cast.owner, "Zapier")
    assert token.startswith("missive_pat-") and len(token) > 40
    row.refresh_from_db()
    assert row.digest == hashlib.sha256(token.encode()).hexdigest()
    assert token not in {row.digest, row.prefix, row.name}
    assert not ApiToken.objects.filter(digest=token).exists()


def test_requests_without_a_valid_token_get_a_json_401(cast):
    for headers in ({}, {"HTTP_AUTHORIZATION": "Bearer missive_pat-wrong"}, {"HTTP_AUTHORIZATION": "Basic abc"}):
        response = Client(**headers).get("/v1/users")
        assert response.status_code == 401
        assert response.json()["errors"] == response.json()["message"] == "Invalid or missing API token."


def test_a_revoked_token_stops_working(cast, api_as):
    api = api_as(cast.owner)
    assert api.get("/v1/users").status_code == 200
    row = ApiToken.objects.get(user=cast.owner)
    assert revoke_token(cast.owner, row.id)
    assert api.get("/v1/users").status_code == 401


def test_a_deactivated_persons_token_stops_working(cast, api_as):
    api = api_as(cast.teammate)
    assert api.get("/v1/users").status_code == 200
    cast.teammate.is_active = False
    cast.teammate.save(update_fields=["is_active"])
    assert api.get("/v1/users").status_code == 401


def test_last_use_is_noted_at_most_once_a_minute(cast, api_as):
    api = api_as(cast.owner)
    row = ApiToken.objects.get(user=cast.owner)
    assert row.last_used_at is None

    assert api.get("/v1/users").status_code == 200
    row.refresh_from_db()
    first_use = row.last_used_at
    assert first_use is not None
    assert api.get("/v1/users").status_code == 200
    row.refresh_from_db()
    assert row.last_used_at == first_use, "not written again within the minute"

    ApiToken.objects.filter(id=row.id).update(last_used_at=first_use - timedelta(minutes=2))
    assert api.get("/v1/users").status_code == 200
    row.refresh_from_db()
    assert row.last_used_at > first_use


def test_users_lists_the_callers_organizations_with_me_marked(cast, api_as):
    response = api_as(cast.teammate).get("/v1/users")
    assert response.status_code == 200
    users = {user["email"]: user for user in response.json()["users"]}
    assert set(users) == {"owner@acme.test", "teammate@acme.test", "observer@acme.test", "guest@acme.test"}
    assert users["teammate@acme.test"]["me"] is True
    assert users["owner@acme.test"]["me"] is False
    assert users["owner@acme.test"] == {
        "id": str(cast.owner.id),
        "email": "owner@acme.test",
        "name": "Olivia Owner",
        "avatar_url": None,
        "me": False,
    }


def test_another_organizations_users_are_a_404(cast, api_as):
    response = api_as(cast.owner).get("/v1/users", {"organization": str(cast.other_org.id)})
    assert response.status_code == 404
    assert response.json()["message"] == "Not found."
    assert api_as(cast.outsider).get("/v1/organizations").json() == {
        "organizations": [{"id": str(cast.other_org.id), "name": cast.other_org.name}]
    }


def test_a_malformed_parameter_is_a_400_naming_it(cast, api_as):
    response = api_as(cast.owner).get("/v1/users", {"limit": "many"})
    assert response.status_code == 400
    body = response.json()
    assert body["field"] == "limit"
    assert body["errors"].startswith("'limit' ")
    response = api_as(cast.owner).get("/v1/users", {"organization": "not-a-uuid"})
    assert response.status_code == 400 and response.json()["field"] == "organization"


def test_offset_pagination_and_its_limits(cast, api_as):
    api = api_as(cast.owner)
    first = api.get("/v1/users", {"limit": 3}).json()["users"]
    rest = api.get("/v1/users", {"limit": 3, "offset": 3}).json()["users"]
    assert len(first) == 3 and len(rest) == 1
    assert {u["id"] for u in first}.isdisjoint({u["id"] for u in rest})
    too_many = api.get("/v1/users", {"limit": 201})
    assert too_many.status_code == 400
    assert too_many.json() == {
        "errors": "max 'limit' value is 200",
        "message": "max 'limit' value is 200",
        "field": "limit",
    }


def test_every_answer_carries_the_rate_limit_headers(cast, api_as):
    response = api_as(cast.owner).get("/v1/users")
    assert response["X-RateLimit-Limit"] == "300"
    assert response["X-RateLimit-Remaining"] == "299"
    assert int(response["X-RateLimit-Reset"]) % 60 == 0


def test_past_the_per_minute_limit_the_answer_is_a_429(cast, api_as, settings):
    settings.API_RATE_LIMIT_PER_MINUTE = 3
    api = api_as(cast.owner)
    statuses = [api.get("/v1/users").status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    refused = api.get("/v1/users")
    assert refused.status_code == 429
    assert refused.json()["message"] == "Rate limit exceeded."
    assert 1 <= int(refused["Retry-After"]) <= 60
    assert refused["X-RateLimit-Limit"] == "3" and refused["X-RateLimit-Remaining"] == "0"
    # The limits are per token: another token of another user is not affected.
    assert api_as(cast.teammate).get("/v1/users").status_code == 200


def test_the_fifteen_minute_limit_applies_too(cast, api_as, settings):
    settings.API_RATE_LIMIT_PER_15_MINUTES = 2
    api = api_as(cast.owner)
    assert [api.get("/v1/users").status_code for _ in range(3)] == [200, 200, 429]


def test_concurrent_requests_over_the_limit_are_refused(cast, api_as, settings):
    from channels_app.api.tokens import digest
    from conversations.live import client

    settings.API_RATE_LIMIT_CONCURRENT = 2
    api = api_as(cast.owner)
    # Two requests of this token are running elsewhere right now.
    client().set(f"ratelimit:{digest(api.token)}:running", 2)
    refused = api.get("/v1/users")
    assert refused.status_code == 429
    assert refused.json()["message"] == "Too many concurrent requests."
    client().set(f"ratelimit:{digest(api.token)}:running", 1)
    assert api.get("/v1/users").status_code == 200
    assert client().get(f"ratelimit:{digest(api.token)}:running") == b"1"  # its slot was given back


def test_a_body_over_the_limit_is_a_json_413(cast, api_as, settings):
    """Django refuses to read a body over DATA_UPLOAD_MAX_MEMORY_SIZE (API_MAX_BODY_MB): the API
    answers in its error format, naming the body."""
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1024
    response = api_as(cast.owner).post("/v1/posts", {"posts": {"text": "x" * 2048}})
    assert response.status_code == 413
    assert response.json()["field"] == "body"
