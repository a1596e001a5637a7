"""Canned responses through /v1/responses."""

from __future__ import annotations

from conversations.labels import do_create_label
from conversations.models import CannedResponse, CannedScope


def _create(api, **item):
    return api.post("/v1/responses", {"responses": [item]})


def test_create_personal_team_and_organization_responses(cast, api_as):
    api = api_as(cast.owner)
    label = do_create_label(cast.org, acting_user=cast.owner, name="Billing")
    mine = _create(api, title="Thanks", user=str(cast.owner.id), body="<p>Thank you</p>")
    assert mine.status_code == 201
    [item] = mine.json()["responses"]
    assert item["user"] == str(cast.owner.id) and item["organization"] is None
    team = _create(
        api,
        title="Team reply",
        organization=str(cast.org.id),
        share_with_team=str(cast.support.id),
        shared_labels=[str(label.id)],
        to_fields=[{"address": "a@b.test", "name": "A"}],
    ).json()["responses"][0]
    assert team["share_with_team"] == str(cast.support.id) and team["shared_labels"] == [str(label.id)]
    assert team["to_fields"] == [{"name": "A", "address": "a@b.test"}]
    org = _create(api, title="Org", organization=str(cast.org.id), subject="Re: {{ conversation.subject }}")
    assert org.status_code == 201
    scopes = set(CannedResponse.objects.values_list("scope", flat=True))
    assert scopes == {CannedScope.PERSONAL, CannedScope.TEAM, CannedScope.ORGANIZATION}


def test_bad_responses_name_the_field(cast, api_as):
    api = api_as(cast.owner)
    org = str(cast.org.id)
    cases = [
        ({"title": "x"}, "responses.0.organization"),
        ({"title": "x", "organization": org, "user": str(cast.owner.id)}, "responses.0.organization"),
        ({"organization": org}, "responses.0.title"),
        ({"title": "x", "organization": org, "to_fields": [{"name": "no address"}]}, "responses.0.to_fields.0.address"),
        ({"title": "x", "organization": org, "body": "{% if %}"}, "responses.0.body"),
        ({"title": "x", "organization": org, "external_id": "1"}, "responses.0.external_id"),
        ({"title": "x", "user": str(cast.teammate.id)}, "responses.0.user"),
    ]  # fmt: skip
    for item, field in cases:
        response = api.post("/v1/responses", {"responses": [item]})
        assert response.status_code == 400, item
        assert response.json()["field"] == field, item
    assert not CannedResponse.objects.exists()
    assert _create(api, title="x", organization=str(cast.other_org.id)).status_code == 404


def test_list_get_update_and_delete(cast, api_as):
    api = api_as(cast.owner)
    [created] = _create(api, title="Hello", organization=str(cast.org.id), body="Hi").json()["responses"]
    listed = api_as(cast.teammate).get("/v1/responses").json()["responses"]
    assert [r["id"] for r in listed] == [created["id"]]
    one = api.get(f"/v1/responses/{created['id']}").json()
    assert one["responses"]["title"] == "Hello"
    patched = api.patch(f"/v1/responses/{created['id']}", {"responses": [{"id": created["id"], "title": "Hi again"}]})
    assert patched.status_code == 200
    assert patched.json()["responses"][0]["title"] == "Hi again"
    assert patched.json()["responses"][0]["body"] == "Hi"
    outsider = api_as(cast.outsider)
    assert outsider.get(f"/v1/responses/{created['id']}").status_code == 404
    assert outsider.delete(f"/v1/responses/{created['id']}").status_code == 404
    assert outsider.get("/v1/responses").json() == {"responses": []}
    deleted = api.delete(f"/v1/responses/{created['id']}")
    assert deleted.status_code == 204
    assert not CannedResponse.objects.exists()


def test_someone_elses_personal_response_is_a_404_and_a_guest_cannot_edit_shared_ones(cast, api_as):
    api = api_as(cast.owner)
    [personal] = _create(api, title="Mine", user=str(cast.owner.id)).json()["responses"]
    assert api_as(cast.teammate).get(f"/v1/responses/{personal['id']}").status_code == 404
    [shared] = _create(api, title="Ours", organization=str(cast.org.id)).json()["responses"]
    guest = api_as(cast.guest)
    body = {"responses": [{"id": shared["id"], "title": "Theirs"}]}
    assert guest.patch(f"/v1/responses/{shared['id']}", body).status_code == 403
    assert guest.delete(f"/v1/responses/{shared['id']}").status_code == 403
