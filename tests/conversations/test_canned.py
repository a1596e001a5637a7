"""Canned responses (conversations/canned.py and canned_views.py): scopes and permissions, the
limits, search, Liquid variables and form variables, and inserting into a draft."""

from __future__ import annotations

import json

import pytest
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from conversations import canned
from conversations.actions import ActionRefused
from conversations.models import (
    CannedResponse,
    CannedResponseAttachment,
    CannedScope,
    Draft,
    DraftAttachment,
    DraftKind,
)
from inboxes.models import Alias, Membership, Organization
from tests.conftest import login
from tests.factories import LabelFactory, receive


def _membership(cast, user) -> Membership:
    return Membership.objects.select_related("organization", "user").get(organization=cast.org, user=user)


def _response(cast, *, scope=CannedScope.ORGANIZATION, owner=None, team=None, **fields) -> CannedResponse:
    fields.setdefault("title", "Refund policy")
    return CannedResponse.objects.create(organization=cast.org, scope=scope, owner=owner, team=team, **fields)


@pytest.fixture
def inbound(cast):
    return receive(cast.support_account, subject="Broken widget", sender="philippe@outside.test")


def _draft(cast, inbound, **fields) -> Draft:
    values = {
        "organization": cast.org,
        "conversation": inbound.conversation,
        "kind": DraftKind.REPLY,
        "replying_to": inbound,
        "creator": cast.teammate,
        "account": cast.support_account,
        "alias": Alias.objects.get(account=cast.support_account, is_default=True),
        "to": [{"name": "Philippe Lehoux", "address": "philippe@outside.test"}],
        "subject": "",
    }
    values.update(fields)
    return Draft.objects.create(**values)


def _insert(client, draft, response, **values):
    url = reverse("insert_response", args=[draft.id, response.id])
    return client.post(url, {f"var:{k}": v for k, v in values.items()})


# --- Scopes and permissions -------------------------------------------------------------------


def test_each_scope_is_seen_by_its_people_only(cast):
    personal = _response(cast, scope=CannedScope.PERSONAL, owner=cast.teammate, title="Mine")
    team = _response(cast, scope=CannedScope.TEAM, team=cast.support, title="Support's")
    organization = _response(cast, title="Everyone's")

    def seen(user):
        return set(canned.responses_for(_membership(cast, user)))

    assert seen(cast.teammate) == {personal, team, organization}
    assert seen(cast.owner) == {team, organization}
    assert seen(cast.guest) == {organization}


def test_shared_responses_are_edited_by_members_and_only_admins_when_the_organization_says_so(cast):
    shared = _response(cast, scope=CannedScope.TEAM, team=cast.support)
    mine = _response(cast, scope=CannedScope.PERSONAL, owner=cast.teammate)
    teammate, owner, guest = (_membership(cast, u) for u in (cast.teammate, cast.owner, cast.guest))
    assert canned.can_edit_response(shared, teammate) and canned.can_edit_response(shared, owner)
    assert not canned.can_edit_response(shared, guest)
    assert canned.can_edit_response(mine, teammate) and not canned.can_edit_response(mine, owner)

    Organization.objects.filter(id=cast.org.id).update(responses_admins_only=True)
    teammate, owner = _membership(cast, cast.teammate), _membership(cast, cast.owner)
    assert not canned.can_edit_response(shared, teammate)
    assert canned.can_edit_response(shared, owner)
    assert canned.can_edit_response(mine, teammate)  # personal ones stay editable
    with pytest.raises(ActionRefused, match="Only owners and admins"):
        canned.do_create_response(
            teammate, canned.ResponseFields(scope=CannedScope.ORGANIZATION, team=None, title="Nope")
        )


def test_another_users_personal_response_and_another_organizations_are_404(client, cast, inbound):
    personal = _response(cast, scope=CannedScope.PERSONAL, owner=cast.owner, title="Olivia's")
    organization = _response(cast, title="Acme's")
    draft = _draft(cast, inbound)
    login(client, cast.teammate)
    assert client.get(reverse("response_preview", args=[personal.id])).status_code == 404
    assert _insert(client, draft, personal).status_code == 404
    assert client.get(reverse("settings_response", args=[cast.org.id, personal.id])).status_code == 404
    assert client.get(reverse("response_preview", args=[organization.id])).status_code == 200

    client.logout()
    login(client, cast.outsider)
    assert client.get(reverse("response_preview", args=[organization.id])).status_code == 404
    assert _insert(client, draft, organization).status_code == 404
    assert client.get(reverse("responses_panel") + f"?draft={draft.id}").status_code == 404


def test_inserting_needs_access_to_the_drafts_conversation(client, cast):
    private = receive(cast.personal_account, subject="Olivia only")
    draft = _draft(cast, private, account=cast.personal_account, alias=None)
    response = _response(cast)
    login(client, cast.teammate)
    assert _insert(client, draft, response).status_code == 404


# --- Limits -----------------------------------------------------------------------------------


def test_a_person_has_at_most_1000_personal_responses(cast):
    CannedResponse.objects.bulk_create(
        CannedResponse(organization=cast.org, scope=CannedScope.PERSONAL, owner=cast.teammate, title=f"R{i}")
        for i in range(canned.PERSONAL_LIMIT)
    )
    fields = canned.ResponseFields(scope=CannedScope.PERSONAL, team=None, title="One more")
    with pytest.raises(ActionRefused, match="limit of 1,000 personal responses"):
        canned.do_create_response(_membership(cast, cast.teammate), fields)
    # Someone else still has room.
    assert canned.do_create_response(_membership(cast, cast.owner), fields).owner == cast.owner


def test_an_organization_has_at_most_1000_organization_responses(client, cast):
    CannedResponse.objects.bulk_create(
        CannedResponse(organization=cast.org, scope=CannedScope.ORGANIZATION, title=f"R{i}")
        for i in range(canned.ORGANIZATION_LIMIT)
    )
    login(client, cast.teammate)
    response = client.post(
        reverse("settings_response_create", args=[cast.org.id]),
        {"visibility": "organization", "title": "One more", "body": "<p>Hi</p>"},
    )
    assert response.status_code == 200
    assert "limit of 1,000 organization responses" in response.content.decode()
    assert CannedResponse.objects.filter(scope=CannedScope.ORGANIZATION).count() == canned.ORGANIZATION_LIMIT


# --- Settings › Responses ---------------------------------------------------------------------


def test_creating_a_response_cleans_its_html_and_keeps_its_labels_and_recipients(client, cast):
    billing = LabelFactory(organization=cast.org, name="Billing")
    login(client, cast.teammate)
    response = client.post(
        reverse("settings_response_create", args=[cast.org.id]),
        {
            "visibility": f"team:{cast.support.id}",
            "title": "Refunds",
            "subject": "About your refund",
            "body": '<p onclick="x()">Hi <b>there</b><script>alert(1)</script></p>',
            "to": "Billing Desk <billing@acme.test>",
            "cc": "",
            "bcc": "audit@acme.test",
            "labels": [billing.id],
        },
    )
    assert response.status_code == 302
    saved = CannedResponse.objects.get(title="Refunds")
    assert (saved.scope, saved.team, saved.owner) == (CannedScope.TEAM, cast.support, None)
    assert saved.body == "<p>Hi <b>there</b></p>"
    assert saved.to == [{"name": "Billing Desk", "address": "billing@acme.test"}]
    assert saved.bcc == [{"name": "", "address": "audit@acme.test"}]
    assert list(saved.labels.all()) == [billing]
    page = client.get(reverse("settings_responses", args=[cast.org.id])).content.decode()
    assert "Refunds" in page and "Support" in page


def test_a_variable_name_with_spaces_or_a_broken_template_is_an_inline_error(client, cast):
    login(client, cast.teammate)
    url = reverse("settings_response_create", args=[cast.org.id])
    response = client.post(url, {"visibility": "personal", "title": "Bad", "body": "<p>{{ order amount }}</p>"})
    assert response.status_code == 200
    assert "The template has an error" in response.content.decode()
    response = client.post(url, {"visibility": "personal", "title": "Bad", "subject": "{% if %}", "body": ""})
    assert "The template has an error: missing expression" in response.content.decode()
    response = client.post(url, {"visibility": "personal", "title": "Bad", "to": "not an address"})
    assert "is not a valid email address" in response.content.decode()
    assert not CannedResponse.objects.exists()


def test_a_guest_only_offers_personal_visibility(client, cast):
    login(client, cast.guest)
    response = client.post(
        reverse("settings_response_create", args=[cast.org.id]), {"visibility": "organization", "title": "x"}
    )
    assert "Select a valid choice" in response.content.decode()
    assert not CannedResponse.objects.exists()


def test_files_are_uploaded_and_removed_by_editors(client, cast, tmp_storage):
    response = _response(cast, scope=CannedScope.PERSONAL, owner=cast.teammate)
    login(client, cast.teammate)
    url = reverse("settings_response_files", args=[cast.org.id, response.id])
    client.post(url, {"files": SimpleUploadedFile("terms.pdf", b"%PDF-1", content_type="application/pdf")})
    client.post(url, {"files": SimpleUploadedFile("logo.png", b"\x89PNG", content_type="image/png"), "inline": "1"})
    files = {a.filename: a for a in response.attachments.all()}
    assert not files["terms.pdf"].is_inline and files["logo.png"].is_inline and files["logo.png"].content_id
    download = client.get(reverse("response_file", args=[files["terms.pdf"].id]))
    assert download.status_code == 200 and b"".join(download.streaming_content) == b"%PDF-1"
    assert download.headers["X-Content-Type-Options"] == "nosniff"
    client.post(reverse("settings_response_file_remove", args=[cast.org.id, response.id, files["logo.png"].id]))
    assert [a.filename for a in response.attachments.all()] == ["terms.pdf"]


def test_preferences_set_my_suggestions_and_the_admins_only_option(client, cast):
    login(client, cast.teammate)
    client.post(reverse("settings_responses_preferences", args=[cast.org.id]), {"responses_admins_only": "1"})
    cast.teammate.refresh_from_db()
    cast.org.refresh_from_db()
    assert cast.teammate.suggest_responses is False
    assert cast.org.responses_admins_only is False  # members cannot set it
    client.logout()
    login(client, cast.owner)
    client.post(
        reverse("settings_responses_preferences", args=[cast.org.id]),
        {"responses_admins_only": "1", "suggest_responses": "1"},
    )
    cast.org.refresh_from_db()
    assert cast.org.responses_admins_only is True


# --- Search -----------------------------------------------------------------------------------


def _titles(cast, user, query):
    return [r.title for r in canned.search_responses(_membership(cast, user), query)]


@pytest.mark.parametrize("query", ["ho bet pers", "pers better", "person?", "HOW"])
def test_search_matches_word_prefixes_in_any_order(cast, query):
    _response(cast, title="How to be a better person?")
    _response(cast, title="Personal data request")
    _response(cast, title="Shipping times", body="<p>We ship in 3 days.</p>")
    assert _titles(cast, cast.teammate, query)[0] == "How to be a better person?"
    assert "Shipping times" not in _titles(cast, cast.teammate, query)


def test_search_reads_subject_and_body_and_person_question_mark_needs_the_question_mark(cast):
    _response(cast, title="A", subject="About your invoice")
    _response(cast, title="B", body="<p>Are you a better <b>person?</b></p>")
    _response(cast, title="C", body="<p>The person in charge</p>")
    assert _titles(cast, cast.teammate, "invoice") == ["A"]
    assert _titles(cast, cast.teammate, "person?") == ["B"]
    assert _titles(cast, cast.teammate, "bet") == ["B"]


def test_a_team_organization_or_personal_first_word_limits_the_search(cast):
    _response(cast, scope=CannedScope.TEAM, team=cast.support, title="Refund policy (support)")
    _response(cast, title="Refund policy (everyone)")
    _response(cast, scope=CannedScope.PERSONAL, owner=cast.teammate, title="Refund policy (mine)")
    assert _titles(cast, cast.teammate, "support refund policy") == ["Refund policy (support)"]
    assert _titles(cast, cast.teammate, "acme refund") == ["Refund policy (everyone)"]
    assert _titles(cast, cast.teammate, "personal refund") == ["Refund policy (mine)"]
    assert len(_titles(cast, cast.teammate, "refund")) == 3
    assert _titles(cast, cast.teammate, "personal") == ["Refund policy (mine)"]


def test_search_ranks_by_how_often_the_terms_appear(cast):
    _response(cast, title="Once", body="<p>We refund orders.</p>")
    _response(cast, title="Often", body="<p>" + "refund " * 10 + "</p>")
    _response(cast, title="Twice", body="<p>refund, refunded</p>")
    assert _titles(cast, cast.teammate, "refund") == ["Often", "Twice", "Once"]


def test_the_panel_and_the_suggestions_list_matches(client, cast, inbound):
    _response(cast, title="How to be a better person?")
    draft = _draft(cast, inbound)
    login(client, cast.teammate)
    panel = client.get(reverse("responses_panel") + f"?draft={draft.id}&q=pers+better")
    assert panel.status_code == 200 and "How to be a better person?" in panel.content.decode()
    results = client.get(
        reverse("responses_panel") + f"?draft={draft.id}&q=nothing",
        headers={"HX-Request": "true", "HX-Target": "responses-results"},
    )
    assert "No response matches “nothing”" in results.content.decode()
    assert "rp-window" not in results.content.decode()
    suggestions = client.get(reverse("response_suggestions") + f"?draft={draft.id}&q=ho+bet").json()
    assert [r["title"] for r in suggestions["results"]] == ["How to be a better person?"]


# --- Inserting --------------------------------------------------------------------------------


def test_the_recipient_first_name_or_the_default(client, cast, inbound):
    response = _response(cast, body="<p>Hi {{ recipient.first_name | default: 'there' }},</p>")
    login(client, cast.teammate)
    assert _insert(client, _draft(cast, inbound), response).json()["html"] == "<p>Hi Philippe,</p>"
    assert _insert(client, _draft(cast, inbound, to=[]), response).json()["html"] == "<p>Hi there,</p>"


def test_an_if_null_block_works_and_comparisons_survive_the_editors_html(client, cast, inbound):
    body = (
        "<p>{% if recipient.first_name == null %}Hello,{% else %}Hi {{ recipient.first_name }},{% endif %}</p>"
        "<p>{% if 2 &gt; 1 %}ok{% endif %}</p>"
    )
    response = _response(cast, body=body)
    login(client, cast.teammate)
    assert _insert(client, _draft(cast, inbound), response).json()["html"] == "<p>Hi Philippe,</p><p>ok</p>"
    assert _insert(client, _draft(cast, inbound, to=[]), response).json()["html"] == "<p>Hello,</p><p>ok</p>"


def test_variables_come_from_the_user_the_message_data_the_conversation_and_the_draft(client, cast, inbound):
    draft = _draft(cast, inbound, to=[{"name": "Philippe L. Lehoux", "address": "philippe@outside.test"}])
    response = _response(
        cast,
        subject="For {{ recipient.name }}",
        body=(
            "<p>{{ recipient.first_name }}|{{ recipient.middle_name }}|{{ recipient.last_name }}|"
            "{{ recipient.email }}|{{ user.first_name }}|{{ user.email }}|{{ conversation.id }}|"
            "{{ message.id }}|{{ message.from_email }}</p>"
        ),
    )
    login(client, cast.teammate)
    data = _insert(client, draft, response).json()
    assert data["html"] == (
        f"<p>Philippe|L.|Lehoux|philippe@outside.test|Tom|teammate@acme.test|{inbound.conversation_id}|"
        f"{draft.id}|support@acme.test</p>"
    )
    assert data["subject"] == "For Philippe L. Lehoux"


def test_a_form_variable_is_asked_for_then_rendered(client, cast, inbound):
    response = _response(
        cast, subject="Order {{ order.number }}", body="<p>Your order {{ order.number }} ships {{ ship_date }}.</p>"
    )
    draft = _draft(cast, inbound)
    login(client, cast.teammate)

    asked = _insert(client, draft, response).json()
    assert asked["status"] == "values_needed"
    assert asked["fields"] == ["order.number", "ship_date"]
    assert 'name="var:order.number"' in asked["form"] and 'name="var:ship_date"' in asked["form"]
    draft.refresh_from_db()
    assert draft.subject == ""  # nothing written while values are missing

    partly = _insert(client, draft, response, **{"order.number": "A-42"}).json()
    assert partly["status"] == "values_needed" and 'value="A-42"' in partly["form"]

    done = _insert(client, draft, response, **{"order.number": "A-42", "ship_date": "<Monday>"}).json()
    assert done["status"] == "inserted"
    assert done["html"] == "<p>Your order A-42 ships &lt;Monday&gt;.</p>"
    draft.refresh_from_db()
    assert draft.subject == "Order A-42"


def test_a_recipient_name_with_markup_is_inserted_as_text(client, cast, inbound):
    response = _response(cast, body="<p>Hi {{ recipient.name }}</p>")
    draft = _draft(cast, inbound, to=[{"name": "<img src=x onerror=alert(1)>", "address": "x@outside.test"}])
    login(client, cast.teammate)
    assert _insert(client, draft, response).json()["html"] == "<p>Hi &lt;img src=x onerror=alert(1)&gt;</p>"


def test_a_broken_template_is_a_clear_error_and_writes_nothing(client, cast, inbound):
    response = _response(cast, body="<p>{% for x in %}</p>", to=[{"name": "", "address": "new@outside.test"}])
    draft = _draft(cast, inbound)
    login(client, cast.teammate)
    reply = _insert(client, draft, response)
    assert reply.status_code == 422
    assert reply.json()["error"].startswith("The template has an error")
    draft.refresh_from_db()
    assert draft.to == [{"name": "Philippe Lehoux", "address": "philippe@outside.test"}]


def test_inserting_merges_recipients_without_duplicates_and_keeps_the_drafts_subject(client, cast, inbound):
    response = _response(
        cast,
        subject="Refunds",
        to=[
            {"name": "Philippe", "address": "PHILIPPE@outside.test"},
            {"name": "Billing", "address": "billing@acme.test"},
        ],
        cc=[{"name": "", "address": "boss@acme.test"}],
        bcc=[{"name": "", "address": "audit@acme.test"}],
    )
    draft = _draft(cast, inbound, subject="Re: Broken widget", cc=["Boss <boss@acme.test>"])
    login(client, cast.teammate)
    data = _insert(client, draft, response).json()
    draft.refresh_from_db()
    assert draft.to == [
        {"name": "Philippe Lehoux", "address": "philippe@outside.test"},
        {"name": "Billing", "address": "billing@acme.test"},
    ]
    assert draft.cc == [{"name": "Boss", "address": "boss@acme.test"}]
    assert draft.bcc == [{"name": "", "address": "audit@acme.test"}]
    assert draft.subject == "Re: Broken widget" == data["subject"]
    assert (data["to"], data["cc"], data["bcc"]) == (draft.to, draft.cc, draft.bcc)
    assert draft.updated_by == cast.teammate and draft.version == 1


def test_inserting_copies_the_responses_files_onto_the_draft(client, cast, inbound, tmp_storage):
    response = _response(cast, body='<p>Logo: <img src="cid:logo@responses"></p>')
    for name, inline, cid in (("terms.pdf", False, ""), ("logo.png", True, "logo@responses")):
        attachment = CannedResponseAttachment(
            organization=cast.org, response=response, filename=name, is_inline=inline, content_id=cid, size=3
        )
        attachment.file.save(name, ContentFile(b"abc"), save=True)
    draft = _draft(cast, inbound)
    login(client, cast.teammate)
    data = _insert(client, draft, response).json()
    copies = {a.filename: a for a in DraftAttachment.objects.filter(draft=draft)}
    assert set(copies) == {"terms.pdf", "logo.png"}
    assert copies["terms.pdf"].file.read() == b"abc"
    logo = copies["logo.png"]
    assert logo.is_inline and logo.content_id != "logo@responses"
    assert f'src="cid:{logo.content_id}"' in data["html"]
    assert {a["filename"] for a in data["attachments"]} == {"terms.pdf", "logo.png"}


def test_a_sent_draft_refuses_an_insert(client, cast, inbound):
    response = _response(cast)
    draft = _draft(cast, inbound, status="sent")
    login(client, cast.teammate)
    reply = _insert(client, draft, response)
    assert reply.status_code == 422 and "already sent" in reply.json()["error"]


def test_editing_in_the_panel_saves_and_asks_to_insert(client, cast, inbound):
    response = _response(cast, scope=CannedScope.PERSONAL, owner=cast.teammate, title="Old", body="<p>Old</p>")
    draft = _draft(cast, inbound)
    login(client, cast.teammate)
    form = client.get(reverse("response_panel_form") + f"?response={response.id}&draft={draft.id}")
    assert form.status_code == 200 and 'name="then_insert"' in form.content.decode()
    saved = client.post(
        reverse("settings_response_update", args=[cast.org.id, response.id]),
        {
            "visibility": "personal",
            "title": "New",
            "body": "<p>New</p>",
            "panel": "1",
            "draft": str(draft.id),
            "then_insert": "1",
        },
    )
    assert saved.status_code == 200
    assert json.loads(saved.headers["HX-Trigger"]) == {"responses:saved": {"id": str(response.id), "insert": True}}
    assert 'data-insert-url="/drafts/' in saved.content.decode()
    response.refresh_from_db()
    assert (response.title, response.body) == ("New", "<p>New</p>")
