"""GET /v1/messages/:ids and GET /v1/messages?email_message_id=."""

from __future__ import annotations

from tests.factories import receive


def test_one_message_is_an_object_with_body_and_conversation(cast, api_as):
    message = receive(cast.support_account, subject="Hello", body="Hi there", rfc_message_id="abc@outside.test")
    body = api_as(cast.owner).get(f"/v1/messages/{message.id}").json()
    item = body["messages"]
    assert isinstance(item, dict)
    assert item["id"] == str(message.id)
    assert item["body"] == "Hi there"
    assert item["email_message_id"] == "abc@outside.test"
    assert item["conversation"]["id"] == str(message.conversation_id)
    assert item["to_fields"] == [{"name": "", "address": "support@acme.test"}]


def test_several_ids_give_an_array_in_order(cast, api_as):
    first = receive(cast.support_account, subject="One", sender="a@outside.test")
    second = receive(cast.support_account, subject="Two", sender="b@outside.test")
    body = api_as(cast.owner).get(f"/v1/messages/{second.id},{first.id}").json()
    assert [m["id"] for m in body["messages"]] == [str(second.id), str(first.id)]


def test_a_malformed_id_is_a_400_and_another_organizations_is_a_404(cast, api_as):
    message = receive(cast.support_account)
    api = api_as(cast.owner)
    bad = api.get(f"/v1/messages/{message.id},nope")
    assert bad.status_code == 400 and bad.json()["field"] == "message_ids"
    assert api_as(cast.outsider).get(f"/v1/messages/{message.id}").status_code == 404
    mine = receive(cast.outsider_account)
    assert api.get(f"/v1/messages/{message.id},{mine.id}").status_code == 404


def test_find_by_email_message_id_with_or_without_brackets(cast, api_as):
    message = receive(cast.support_account, rfc_message_id="abc@outside.test")
    api = api_as(cast.owner)
    for value in ("abc@outside.test", "<abc@outside.test>"):
        body = api.get("/v1/messages", {"email_message_id": value}).json()
        assert [m["id"] for m in body["messages"]] == [str(message.id)]
        assert body["messages"][0]["body"]
    assert api_as(cast.outsider).get("/v1/messages", {"email_message_id": "abc@outside.test"}).json() == {
        "messages": []
    }
    nul = api.get("/v1/messages", {"email_message_id": "a\x00b"})
    assert nul.status_code == 400 and nul.json()["field"] == "email_message_id"
    missing = api.get("/v1/messages")
    assert missing.status_code == 400 and missing.json()["field"] == "email_message_id"


def test_phone_and_custom_channel_messages_say_their_type(cast, api_as):
    from inboxes.models import AccountKind
    from tests.factories import AccountFactory

    api = api_as(cast.owner)
    for kind, expected in ((AccountKind.TWILIO_SMS, "sms"), (AccountKind.WHATSAPP, "whatsapp")):
        account = AccountFactory(organization=cast.org, owner=cast.owner, kind=kind, address="+15550001111")
        message = receive(account, sender="+15552223333", external_id=f"SM-{kind}", body="Hi by text")
        item = api.get(f"/v1/messages/{message.id}").json()["messages"]
        assert item["type"] == expected and item["external_id"] == f"SM-{kind}"
    custom = AccountFactory(organization=cast.org, owner=cast.owner, kind=AccountKind.CUSTOM, address="bot")
    message = receive(custom, sender="user-42", external_id="ext-1")
    item = api.get(f"/v1/messages/{message.id}").json()["messages"]
    assert item["type"].startswith("custom_")
    assert item["from_field"] == {"id": "user-42", "name": "A Customer", "username": "user-42"}


def test_a_batch_of_messages_costs_a_fixed_number_of_queries(cast, api_as):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    api = api_as(cast.owner)
    api.get("/v1/users")  # the token's first use is recorded once
    made = [receive(cast.support_account, subject=f"S{i}", sender=f"c{i}@outside.test") for i in range(6)]
    with CaptureQueriesContext(connection) as two:
        assert len(api.get(f"/v1/messages/{made[0].id},{made[1].id}").json()["messages"]) == 2
    with CaptureQueriesContext(connection) as six:
        assert len(api.get("/v1/messages/" + ",".join(str(m.id) for m in made)).json()["messages"]) == 6
    assert len(six) == len(two)


def test_attachments_download_by_their_signed_link_only(cast, api_as, tmp_storage, monkeypatch, settings):
    from django.test import Client

    from channels_app.api import files
    from conversations.incoming import IncomingAttachment

    part = IncomingAttachment(filename="invoice.pdf", content_type="application/pdf", content=b"%PDF-1 data")
    message = receive(cast.support_account, attachments=[part])
    [item] = api_as(cast.owner).get(f"/v1/messages/{message.id}").json()["messages"]["attachments"]
    assert item["filename"] == "invoice.pdf" and item["extension"] == "pdf"
    assert (item["media_type"], item["sub_type"], item["size"]) == ("application", "pdf", 11)
    path = item["url"].removeprefix(settings.SITE_URL)
    response = Client().get(path)
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == b"%PDF-1 data"
    assert response["Content-Disposition"].startswith("attachment")
    assert response["X-Content-Type-Options"] == "nosniff"
    forged = path.replace(str(message.attachments.get().id), str(message.id))
    assert Client().get(forged).status_code == 404
    monkeypatch.setattr(files, "MAX_AGE_SECONDS", -1)
    assert Client().get(path).status_code == 404  # expired
