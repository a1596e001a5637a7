"""Every /v1 route with a path parameter, given the ids of the FIRST organization's objects and
called with the OUTSIDER's token, answers 404 (or 405) for every method: nothing crosses
organizations. A route with a parameter this file does not know fails the test: add it to
FIRST_ORG_OBJECTS (comma-id parameters get one id)."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

import pytest

from channels_app.api.core import api
from contacts.actions import do_create_contact, do_create_contact_book
from conversations.canned import ResponseFields, do_create_response
from conversations.drafts import do_start_draft
from conversations.integrations import do_create_post
from conversations.labels import do_create_label
from conversations.models import CannedScope, DraftKind
from conversations.task_actions import do_create_subtask
from inboxes.models import Membership
from rules.models import Rule, Trigger
from tests.factories import receive


def _message(cast: Any) -> Any:
    if not hasattr(cast, "_message"):
        cast._message = receive(cast.support_account, subject="Acme only")
    return cast._message


def _response(cast: Any) -> Any:
    membership = Membership.objects.select_related("organization", "user").get(organization=cast.org, user=cast.owner)
    return do_create_response(membership, ResponseFields(scope=CannedScope.ORGANIZATION, team=None, title="Acme"))


# Path parameter → the id of one of the first organization's objects (made from the cast).
FIRST_ORG_OBJECTS: dict[str, Callable[[Any], Any]] = {
    "conversation_id": lambda cast: _message(cast).conversation_id,
    "message_ids": lambda cast: _message(cast).id,
    "team_ids": lambda cast: cast.support.id,
    "label_ids": lambda cast: do_create_label(cast.org, acting_user=cast.owner, name="Acme label").id,
    "response_ids": lambda cast: _response(cast).id,
    "ids": lambda cast: _contact(cast).id,
    "draft_id": lambda cast: (
        do_start_draft(
            _message(cast).conversation, acting_user=cast.owner, kind=DraftKind.REPLY, message_id=_message(cast).id
        ).id
    ),
    "post_id": lambda cast: do_create_post(_message(cast).conversation, author=cast.owner, text="Deployed").id,
    "task_id": lambda cast: do_create_subtask(_message(cast).conversation, acting_user=cast.owner, title="Call").id,
    "hook_id": lambda cast: (
        Rule.objects.create(
            organization=cast.org,
            description="API webhook",
            trigger=Trigger.INCOMING,
            channel="email",
            actions=[{"type": "webhook", "url": "https://hooks.example.com/in"}],
            created_by=cast.owner,
        ).id
    ),
}


def _contact(cast: Any) -> Any:
    book = do_create_contact_book(cast.org, owner=cast.owner, name="Acme book", share_with_organization=True)
    return do_create_contact(book, acting_user=cast.owner, data={"first_name": "Ada", "last_name": "Acme"})


def _routes() -> list[tuple[str, str, dict[str, Any]]]:
    schema = api.get_openapi_schema()
    routes = []
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            if "{" in path:
                routes.append((path, method, operation))
    return routes


def _body(operation: dict[str, Any], object_id: str) -> dict[str, Any] | None:
    """A body that passes validation, so that the lookup is what answers: the spec's envelope
    around one item carrying the object's id."""
    content = operation.get("requestBody", {}).get("content", {}).get("application/json")
    if content is None:
        return None
    schemas = api.get_openapi_schema()["components"]["schemas"]
    reference = content["schema"].get("$ref", "").rpartition("/")[2]
    properties = schemas.get(reference, {}).get("properties", {})
    body: dict[str, Any] = {}
    for key, spec in properties.items():
        if spec.get("type") == "array":
            body[key] = [{"id": object_id}]
        elif spec.get("type") == "string":  # a bare id, such as a merge's target
            body[key] = object_id
        else:
            body[key] = {"id": object_id}
    return body


def test_every_route_has_known_parameters():
    unknown = sorted(
        {name for path, _, _ in _routes() for name in re.findall(r"{(\w+)}", path)} - set(FIRST_ORG_OBJECTS)
    )
    assert unknown == [], "add these path parameters to FIRST_ORG_OBJECTS"


@pytest.mark.parametrize(("path", "method"), [(path, method) for path, method, _ in _routes()])
def test_another_organizations_objects_are_404_on_every_route(cast, api_as, path, method):
    operation = dict(((p, m), o) for p, m, o in _routes())[(path, method)]
    ids = {name: str(FIRST_ORG_OBJECTS[name](cast)) for name in re.findall(r"{(\w+)}", path)}
    url = path.format(**ids)
    outsider = api_as(cast.outsider)
    body = _body(operation, next(iter(ids.values())))
    client = outsider.client
    if body is None:
        response = getattr(client, method)(url)
    else:
        response = getattr(client, method)(url, json.dumps(body), content_type="application/json")
    assert response.status_code in (404, 405), (
        f"{method.upper()} {url}: {response.status_code} {response.content[:300]!r}"
    )
    if method == "get":
        assert api_as(cast.owner).get(url).status_code == 200, "the first organization's owner reads it"


def test_each_path_is_served_by_one_router():
    """Django takes the first URL pattern that matches: a path that two routers both define would
    answer 405 to the second router's methods. Register such operations on one router."""
    # Parameter names do not tell routes apart: /responses/{a} and /responses/{b} are one URL.
    paths = [re.sub(r"{[^}]*}", "{}", path) for bound in api._get_bound_routers() for path in bound.path_operations]
    duplicated = sorted({path for path in paths if paths.count(path) > 1})
    assert duplicated == [], "these paths are defined by several routers"
