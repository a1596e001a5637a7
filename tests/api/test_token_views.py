"""Settings › API: create a token (shown once), list, revoke; and the Resource IDs screen."""

from __future__ import annotations

from django.test import Client

from channels_app.api.tokens import create_token
from channels_app.models import ApiToken
from conversations.labels import do_create_label
from tests.conftest import login


def test_the_page_lists_tokens_without_showing_them(cast, client):
    row, token = create_token(cast.owner, "Zapier")
    create_token(cast.teammate, "Someone else's")
    page = login(client, cast.owner).get("/settings/api/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "Zapier" in html and row.prefix in html
    assert token not in html
    assert "Someone else" not in html
    assert 'href="/settings/api/"' in html  # in the settings navigation


def test_a_new_token_is_shown_once_and_works(cast, client):
    login(client, cast.owner)
    response = client.post(
        "/settings/api/tokens/", {"name": "My script"}, HTTP_HX_REQUEST="true", HTTP_HX_TARGET="api-tokens"
    )
    assert response.status_code == 200
    row = ApiToken.objects.get(user=cast.owner)
    html = response.content.decode()
    token = html.split('readonly value="')[1].split('"')[0]
    assert token.startswith("missive_pat-") and row.name == "My script"
    assert Client(HTTP_AUTHORIZATION=f"Bearer {token}").get("/v1/users").status_code == 200
    assert token not in client.get("/settings/api/").content.decode()


def test_a_token_needs_a_name(cast, client):
    response = login(client, cast.owner).post("/settings/api/tokens/", {"name": ""})
    assert response.status_code == 400
    assert "This field is required" in response.content.decode()
    assert not ApiToken.objects.exists()


def test_revoking_stops_the_token_and_only_the_owner_can(cast, client):
    row, token = create_token(cast.owner, "Old")
    login(client, cast.outsider)
    assert client.post(f"/settings/api/tokens/{row.id}/revoke/").status_code == 404
    assert Client(HTTP_AUTHORIZATION=f"Bearer {token}").get("/v1/users").status_code == 200
    login(client, cast.owner)
    assert client.post(f"/settings/api/tokens/{row.id}/revoke/").status_code == 302
    assert Client(HTTP_AUTHORIZATION=f"Bearer {token}").get("/v1/users").status_code == 401
    assert "Old" not in client.get("/settings/api/").content.decode()


def test_token_pages_need_a_login_and_csrf(cast):
    assert Client().get("/settings/api/").status_code == 302
    strict = login(Client(enforce_csrf_checks=True), cast.owner)
    assert strict.post("/settings/api/tokens/", {"name": "x"}).status_code == 403


def test_resource_ids_lists_the_users_organizations_and_their_ids(cast, client):
    label = do_create_label(cast.org, acting_user=cast.owner, name="Billing")
    html = login(client, cast.teammate).get("/settings/api/ids/").content.decode()
    for value in (cast.org.id, cast.support.id, cast.support_account.id, label.id, cast.owner.id, cast.teammate.id):
        assert str(value) in html
    for value in (cast.other_org.id, cast.outsider_team.id, cast.outsider.id, cast.personal_account.id):
        assert str(value) not in html
