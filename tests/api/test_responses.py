"""Canned responses through /v1/responses."""

from __future__ import annotations

import base64

import pytest

from conversations.labels import do_create_label
from conversations.models import CannedResponse, CannedResponseAttachment, CannedScope

PNG = base64.b64encode(b"\x89PNG\r\n\x1a\nfake").decode()


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
    txt = {"filename": "a.txt", "base64_data": "aGk=", "id": "t"}
    shared, file = {"title": "x", "organization": org}, "responses.0.attachments.0."
    cases = [
        ({"title": "x"}, "responses.0.organization"),
        ({**shared, "attachments": [{**txt, "base64_data": "%%"}]}, f"{file}base64_data"),
        ({**shared, "attachments": [{"filename": "a.txt"}]}, f"{file}base64_data"),
        ({**shared, "body": '<img data-missive-attachment-id="t">', "attachments": [txt]}, f"{file}id"),
        ({"title": "x", "organization": org, "user": str(cast.owner.id)}, "responses.0.organization"),
        ({"organization": org}, "responses.0.title"),
        ({"title": "x", "organization": org, "to_fields": [{"name": "no address"}]}, "responses.0.to_fields.0.address"),
        ({"title": "x", "organization": org, "body": "{% if %}"}, "responses.0.body"),
        ({"title": "x", "organization": org, "external_id": "1"}, "responses.0.external_source"),
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


@pytest.mark.usefixtures("tmp_storage")
def test_external_ids_and_attachments_are_stored_returned_and_deduplicated(cast, api_as):
    api = api_as(cast.owner)
    item = {
        "title": "Welcome",
        "organization": str(cast.org.id),
        "body": '<p>Hi</p><img data-missive-attachment-id="logo-img">',
        "external_id": "tpl-1",
        "external_source": "crm",
        "attachments": [
            {"filename": "logo.png", "base64_data": PNG, "id": "logo-img"},
            {"filename": "terms.txt", "base64_data": base64.b64encode(b"terms").decode()},
        ],
    }
    created = _create(api, **item)
    assert created.status_code == 201, created.content
    [response] = created.json()["responses"]
    assert (response["external_id"], response["external_source"]) == ("tpl-1", "crm")
    files = {a["filename"]: a for a in response["attachments"]}
    assert set(files) == {"logo.png", "terms.txt"} and files["terms.txt"]["size"] == 5
    assert f'data-missive-attachment-id="{files["logo.png"]["id"]}"' in response["body"]
    assert "logo-img" not in response["body"]
    stored = CannedResponse.objects.get(id=response["id"])
    logo = CannedResponseAttachment.objects.get(response=stored, filename="logo.png")
    assert logo.is_inline and f'src="cid:{logo.content_id}"' in stored.body  # what inserting copies
    assert not CannedResponseAttachment.objects.get(filename="terms.txt").is_inline

    again = _create(api, **item)  # a retried create
    assert again.status_code == 201 and again.json()["responses"][0]["id"] == response["id"]
    assert CannedResponse.objects.count() == 1 and CannedResponseAttachment.objects.count() == 2
    other_source = _create(api, **{**item, "external_source": "erp", "attachments": []})
    assert other_source.json()["responses"][0]["id"] != response["id"]
    # The same pair in another organization is its own response.
    elsewhere = _create(api_as(cast.outsider), **{**item, "organization": str(cast.other_org.id), "attachments": []})
    assert elsewhere.status_code == 201 and elsewhere.json()["responses"][0]["id"] != response["id"]

    patch = {
        "id": response["id"],
        "external_id": "tpl-2",
        "attachments": [{"filename": "new.txt", "base64_data": "aGk="}],
    }
    patched = api.patch(f"/v1/responses/{response['id']}", {"responses": [patch]})
    assert patched.status_code == 200, patched.content
    [updated] = patched.json()["responses"]
    assert updated["external_id"] == "tpl-2" and updated["external_source"] == "crm"
    assert [a["filename"] for a in updated["attachments"]] == ["new.txt"]  # the set is replaced
    bad = {"id": response["id"], "attachments": [{"filename": "x.txt", "base64_data": "!!"}]}
    refused = api.patch(f"/v1/responses/{response['id']}", {"responses": [bad]})
    assert refused.status_code == 400 and refused.json()["field"] == "responses.0.attachments.0.base64_data"
    assert [a.filename for a in CannedResponseAttachment.objects.filter(response=stored)] == ["new.txt"]
    outsider = api_as(cast.outsider)
    assert outsider.patch(f"/v1/responses/{response['id']}", {"responses": [patch]}).status_code == 404
