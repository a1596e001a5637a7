"""Twilio SMS and WhatsApp against a fake Twilio on loopback: connecting a number, inbound webhooks
signed as Twilio signs them, status callbacks, sending through the outbox, and WhatsApp's 24-hour
window with templates."""

from __future__ import annotations

import json
from datetime import timedelta
from urllib.parse import urlencode

import pytest
from django.core.files.base import ContentFile
from django.urls import reverse
from django.utils import timezone
from twilio.request_validator import RequestValidator

from channels_app.models import WhatsAppTemplate
from channels_app.outbox import dispatch_due
from channels_app.twilio.accounts import TwilioDetails, do_connect_twilio_account
from channels_app.twilio.inbound import pair_key
from channels_app.twilio.sender import media_url
from channels_app.twilio.whatsapp import do_send_whatsapp_template
from conversations.actions import ActionRefused
from conversations.drafts import do_start_draft, do_start_new_email
from conversations.models import (
    Attachment,
    Conversation,
    DeliveryStatus,
    Direction,
    Draft,
    DraftAttachment,
    DraftKind,
    DraftStatus,
    Message,
    OutboxMessage,
    OutboxStatus,
    ThreadKey,
)
from conversations.sending import do_send_draft, do_undo_send
from inboxes.aliases import choose_alias, ensure_default_alias
from inboxes.models import Account, AccountKind, Alias
from tests.conftest import login
from tests.factories import receive
from tests.fakes.fake_twilio import FakeTwilio, fake_twilio

NUMBER = "+1222333444"
CONTACT = "+1555666777"
SITE = "https://missive.example"

pytestmark = pytest.mark.usefixtures("tmp_storage")


@pytest.fixture
def twilio(settings):
    with fake_twilio() as fake:
        settings.TWILIO_API_BASE_URL = fake.base_url
        settings.SITE_URL = SITE
        settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "missive.example", "internal"]
        yield fake


def connect(twilio: FakeTwilio, organization, owner, *, kind=AccountKind.TWILIO_SMS, number=NUMBER) -> Account:
    sid, token = twilio.add_account(number)
    account, _ = do_connect_twilio_account(organization, TwilioDetails(kind, sid, token, number), owner=owner)
    return account


@pytest.fixture
def sms_account(cast, twilio):
    return connect(twilio, cast.org, cast.owner)


@pytest.fixture
def whatsapp_account(cast, twilio):
    return connect(twilio, cast.org, cast.owner, kind=AccountKind.WHATSAPP)


def inbound_url(account: Account) -> str:
    return SITE + reverse("twilio_inbound", args=[account.id])


def text_in(twilio, client, account, body="Hi, is my order ready?", *, contact=CONTACT, **kwargs):
    prefix = "whatsapp:" if account.kind == AccountKind.WHATSAPP else ""
    webhook = twilio.inbound(
        inbound_url(account),
        account_sid=account.credentials["account_sid"],
        from_=prefix + contact,
        to=prefix + account.address,
        body=body,
        **kwargs,
    )
    return webhook, webhook.post_with(client)


def reply(conversation, user, body="Yes, come by at 5.") -> Draft:
    draft = do_start_draft(conversation, acting_user=user, kind=DraftKind.REPLY)
    draft.body_html = f"<p>{body}</p>"
    draft.save(update_fields=["body_html"])
    return draft


def send_now(draft, user) -> Message:
    return do_send_draft(draft, acting_user=user, delay_seconds=0)


# --- Connecting -------------------------------------------------------------------------------------


def connect_form(sid, token, number="+1 222-333-444", **extra):
    return {"account_sid": sid, "auth_token": token, "phone_number": number, "sharing": "personal", **extra}


def test_connecting_checks_twilio_encrypts_the_token_and_points_the_number_at_us(cast, client, twilio):
    sid, token = twilio.add_account(NUMBER)
    login(client, cast.owner)

    response = client.post(
        reverse("settings_account_connect_twilio", args=[cast.org.id, "sms"]), connect_form(sid, token)
    )

    assert response.status_code == 302
    account = Account.objects.get(organization=cast.org, kind=AccountKind.TWILIO_SMS)
    assert account.address == NUMBER  # typed with spaces and dashes, stored E.164
    assert account.credentials == {"account_sid": sid, "auth_token": token}
    assert token.encode() not in bytes(account.encrypted_credentials)
    assert twilio.numbers[(sid, NUMBER)]["sms_url"] == f"{SITE}/twilio/{account.id}/sms"
    alias = Alias.objects.get(account=account)
    assert alias.address == NUMBER and alias.is_default


def test_connecting_whatsapp_by_twilio_makes_a_whatsapp_account(cast, client, twilio):
    sid, token = twilio.add_account(NUMBER)
    login(client, cast.owner)
    client.post(reverse("settings_account_connect_twilio", args=[cast.org.id, "whatsapp"]), connect_form(sid, token))
    assert Account.objects.get(organization=cast.org, address=NUMBER).kind == AccountKind.WHATSAPP


def test_the_add_account_page_offers_twilio(cast, client, twilio):
    login(client, cast.owner)
    page = client.get(reverse("settings_accounts", args=[cast.org.id])).content.decode()
    assert "SMS by Twilio" in page and "WhatsApp by Twilio" in page
    form = client.get(reverse("settings_account_add_twilio", args=[cast.org.id, "sms"])).content.decode()
    assert "Account SID" in form and "Auth Token" in form


def test_a_wrong_auth_token_is_refused_inline_and_connects_nothing(cast, client, twilio):
    sid, _ = twilio.add_account(NUMBER)
    login(client, cast.owner)

    response = client.post(
        reverse("settings_account_connect_twilio", args=[cast.org.id, "sms"]), connect_form(sid, "0" * 32)
    )

    assert response.status_code == 200
    assert "did not accept this Account SID and Auth Token" in response.content.decode()
    assert not Account.objects.filter(kind=AccountKind.TWILIO_SMS).exists()


def test_a_number_of_another_twilio_account_is_refused(cast, client, twilio):
    sid, token = twilio.add_account(NUMBER)
    login(client, cast.owner)

    response = client.post(
        reverse("settings_account_connect_twilio", args=[cast.org.id, "sms"]),
        connect_form(sid, token, number="+1 999 888 7777"),
    )

    assert "+19998887777 is not a phone number of this Twilio account." in response.content.decode()
    assert not Account.objects.filter(kind=AccountKind.TWILIO_SMS).exists()


def test_a_number_without_country_code_is_refused_before_asking_twilio(cast, client, twilio):
    sid, token = twilio.add_account(NUMBER)
    login(client, cast.owner)

    response = client.post(
        reverse("settings_account_connect_twilio", args=[cast.org.id, "sms"]),
        connect_form(sid, token, number="555-123-4567"),
    )

    assert "country code" in response.content.decode()
    assert twilio.requests == []


def test_another_organization_cannot_connect_a_number_here(cast, client, twilio):
    sid, token = twilio.add_account(NUMBER)
    login(client, cast.outsider)
    response = client.post(
        reverse("settings_account_connect_twilio", args=[cast.org.id, "sms"]), connect_form(sid, token)
    )
    assert response.status_code == 404
    assert not Account.objects.filter(kind=AccountKind.TWILIO_SMS).exists()


def test_new_emails_never_pick_a_phone_number_and_texts_pick_only_one(cast, sms_account):
    email_alias = ensure_default_alias(cast.personal_account)
    sms_alias = Alias.objects.get(account=sms_account)
    assert choose_alias(cast.owner, cast.org.id, replying_to_addresses=None) == email_alias
    assert choose_alias(cast.owner, cast.org.id, replying_to_addresses=[NUMBER]) != sms_alias
    sms_only = frozenset({AccountKind.TWILIO_SMS})
    assert choose_alias(cast.owner, cast.org.id, replying_to_addresses=None, kinds=sms_only) == sms_alias


# --- Inbound ----------------------------------------------------------------------------------------


def test_a_signed_text_is_stored_threaded_by_its_pair_and_answered_with_empty_twiml(client, twilio, sms_account, cast):
    webhook, response = text_in(twilio, client, sms_account)

    assert response.status_code == 200
    assert response["Content-Type"] == "text/xml"
    assert response.content.decode().endswith("<Response/>")
    message = Message.objects.get(account=sms_account)
    assert message.external_id == webhook.params["MessageSid"]
    assert (message.from_address, message.body_text) == (CONTACT, "Hi, is my order ready?")
    assert ThreadKey.objects.filter(conversation=message.conversation, key="+1222333444+1555666777").exists()
    assert pair_key(CONTACT, NUMBER) == "+1222333444+1555666777"


def test_a_bad_signature_is_refused_and_nothing_is_stored(client, twilio, sms_account):
    webhook = twilio.inbound(
        inbound_url(sms_account),
        account_sid=sms_account.credentials["account_sid"],
        from_=CONTACT,
        to=NUMBER,
        body="Hello",
    )
    webhook.signature = webhook.signature[:-4] + "AAA="
    assert webhook.post_with(client).status_code == 403

    tampered = twilio.inbound(
        inbound_url(sms_account), account_sid=sms_account.credentials["account_sid"], from_=CONTACT, to=NUMBER, body="a"
    )
    tampered.body = tampered.body.replace(b"Body=a", b"Body=b")
    assert tampered.post_with(client).status_code == 403
    assert not Message.objects.exists()


def test_the_signature_is_checked_on_the_url_twilio_saw_through_a_proxy(client, twilio, sms_account):
    webhook = twilio.inbound(
        inbound_url(sms_account), account_sid=sms_account.credentials["account_sid"], from_=CONTACT, to=NUMBER, body="x"
    )
    response = client.generic(
        "POST",
        webhook.path,
        webhook.body,
        content_type=webhook.content_type,
        HTTP_HOST="internal",
        HTTP_X_FORWARDED_PROTO="https",
        HTTP_X_FORWARDED_HOST="missive.example",
        HTTP_X_TWILIO_SIGNATURE=webhook.signature,
    )
    assert response.status_code == 200
    assert Message.objects.filter(account=sms_account).count() == 1


def test_a_studio_flow_json_body_is_accepted_and_missing_media_is_noted(client, twilio, sms_account):
    webhook = twilio.studio_inbound(
        inbound_url(sms_account),
        account_sid=sms_account.credentials["account_sid"],
        from_=CONTACT,
        to=NUMBER,
        body="Photo of the damage",
        num_media=1,
    )
    assert webhook.post_with(client).status_code == 200
    message = Message.objects.get(account=sms_account)
    assert message.body_text.startswith("Photo of the damage")
    assert "1 media file(s) were sent with this message but Twilio did not pass them on." in message.body_text

    unsigned = twilio.studio_inbound(
        inbound_url(sms_account), account_sid=sms_account.credentials["account_sid"], from_=CONTACT, to=NUMBER, body="x"
    )
    unsigned.url = inbound_url(sms_account)  # no bodySHA256: the body is not covered by the signature
    assert unsigned.post_with(client).status_code == 403
    assert Message.objects.filter(account=sms_account).count() == 1


def test_media_is_downloaded_from_twilio_into_attachments(client, twilio, sms_account):
    picture = b"\x89PNG\r\n\x1a\n fake picture"
    text_in(twilio, client, sms_account, "See attached", media=[("image/png", picture)])

    message = Message.objects.get(account=sms_account)
    [attachment] = Attachment.objects.filter(message=message)
    assert attachment.content_type == "image/png"
    assert attachment.file.read() == picture
    media_calls = [r for r in twilio.requests if "/Media/" in r.path]
    credentials = sms_account.credentials
    assert media_calls and media_calls[0].auth == (credentials["account_sid"], credentials["auth_token"])


def test_a_retried_webhook_stores_nothing_twice(client, twilio, sms_account):
    webhook, _ = text_in(twilio, client, sms_account)
    assert webhook.post_with(client).status_code == 200
    message = Message.objects.get(account=sms_account)
    assert Conversation.objects.get(id=message.conversation_id).message_count == 1


def test_one_conversation_per_pair_and_whatsapp_apart(cast, client, twilio, sms_account):
    text_in(twilio, client, sms_account, "one")
    text_in(twilio, client, sms_account, "two")
    text_in(twilio, client, sms_account, "other person", contact="+1999000111")
    whatsapp = connect(twilio, cast.org, cast.owner, kind=AccountKind.WHATSAPP)
    text_in(twilio, client, whatsapp, "on whatsapp")

    by_body = {m.body_text: m for m in Message.objects.all()}
    assert by_body["one"].conversation_id == by_body["two"].conversation_id
    assert by_body["other person"].conversation_id != by_body["one"].conversation_id
    assert by_body["on whatsapp"].conversation_id != by_body["one"].conversation_id
    assert by_body["on whatsapp"].from_address == CONTACT  # "whatsapp:" is not part of the address
    assert ThreadKey.objects.filter(key="whatsapp:+1222333444+1555666777").exists()


def test_a_webhook_signed_for_another_organizations_account_is_refused(cast, client, twilio, sms_account):
    theirs = connect(twilio, cast.other_org, cast.outsider, number="+1777888999")
    webhook = twilio.inbound(
        inbound_url(sms_account),  # our URL, their account's token
        account_sid=theirs.credentials["account_sid"],
        from_=CONTACT,
        to=NUMBER,
        body="Hello",
    )
    assert webhook.post_with(client).status_code == 403
    assert not Message.objects.exists()


# --- Status callbacks -------------------------------------------------------------------------------


def sent_reply(twilio, client, account, user) -> Message:
    text_in(twilio, client, account)
    conversation = Message.objects.get(account=account, direction=Direction.INBOUND).conversation
    message = send_now(reply(conversation, user), user)
    assert dispatch_due().sent == 1, OutboxMessage.objects.get(message=message).last_error
    message.refresh_from_db()
    return message


def post_status(twilio, client, message, status, **kwargs):
    return twilio.status_callback(message.external_id, status, **kwargs).post_with(client)


def test_status_callbacks_move_forward_only(cast, client, twilio, sms_account):
    message = sent_reply(twilio, client, sms_account, cast.owner)
    assert message.delivery_status == DeliveryStatus.QUEUED

    assert post_status(twilio, client, message, "delivered").status_code == 200
    post_status(twilio, client, message, "sent")  # late, out of order

    message.refresh_from_db()
    assert message.delivery_status == DeliveryStatus.DELIVERED


def test_a_failed_status_shows_twilios_reason_on_the_message(cast, client, twilio, sms_account):
    message = sent_reply(twilio, client, sms_account, cast.owner)
    post_status(twilio, client, message, "undelivered", error_code="30003")

    message.refresh_from_db()
    assert message.delivery_status == DeliveryStatus.UNDELIVERED
    assert message.delivery_error == "Unreachable destination handset (Twilio error 30003)"
    login(client, cast.owner)
    page = client.get(reverse("conversation", kwargs={"key": "all", "conversation_id": message.conversation_id}))
    assert "Unreachable destination handset (Twilio error 30003)" in page.content.decode()


def test_an_unsigned_status_callback_changes_nothing(cast, client, twilio, sms_account):
    message = sent_reply(twilio, client, sms_account, cast.owner)
    callback = twilio.status_callback(message.external_id, "failed", error_code="30003")
    callback.signature = "forged"
    assert callback.post_with(client).status_code == 403
    message.refresh_from_db()
    assert message.delivery_status == DeliveryStatus.QUEUED


# --- Sending ----------------------------------------------------------------------------------------


def test_the_sms_round_trip(cast, client, twilio, sms_account):
    """The contact texts in, we reply from the conversation, the dispatcher posts to Twilio, the
    delivered callback comes back and shows on the message."""
    text_in(twilio, client, sms_account, "Is the shop open today?")
    inbound = Message.objects.get(account=sms_account)
    draft = do_start_draft(inbound.conversation, acting_user=cast.owner, kind=DraftKind.REPLY)
    assert draft.alias.account_id == sms_account.id
    assert draft.to == [{"name": "", "address": CONTACT}]
    assert draft.subject == "" and draft.body_html == ""
    draft.body_html = "<p>Open <strong>until 6</strong> &amp; on Sunday.</p>"
    draft.save(update_fields=["body_html"])

    message = send_now(draft, cast.owner)
    assert dispatch_due().sent == 1

    [form] = twilio.sent()
    assert form["From"] == [NUMBER] and form["To"] == [CONTACT]
    assert form["Body"] == ["Open until 6 & on Sunday."]
    assert form["StatusCallback"] == [f"{SITE}/twilio/{sms_account.id}/status?message={message.id}"]
    message.refresh_from_db()
    assert message.external_id.startswith("SM") and message.external_id in twilio.messages

    post_status(twilio, client, message, "sent")
    post_status(twilio, client, message, "delivered")
    message.refresh_from_db()
    assert message.delivery_status == DeliveryStatus.DELIVERED
    assert message.conversation_id == inbound.conversation_id

    login(client, cast.owner)
    page = client.get(reverse("conversation", kwargs={"key": "all", "conversation_id": message.conversation_id}))
    assert 'class="delivery-status delivery-delivered"' in page.content.decode()


def test_an_opted_out_number_fails_with_twilios_words(cast, client, twilio, sms_account):
    text_in(twilio, client, sms_account, "STOP")
    conversation = Message.objects.get(account=sms_account).conversation
    message = send_now(reply(conversation, cast.owner), cast.owner)

    assert dispatch_due().failed == 1

    outbox = OutboxMessage.objects.get(message=message)
    assert outbox.status == OutboxStatus.FAILED
    assert outbox.last_error == "Attempt to send to unsubscribed recipient (Twilio error 21610)"
    login(client, cast.owner)
    page = client.get(reverse("conversation", kwargs={"key": "all", "conversation_id": conversation.id}))
    assert "Attempt to send to unsubscribed recipient (Twilio error 21610)" in page.content.decode()


def test_a_twilio_server_error_is_retried(cast, client, twilio, sms_account):
    text_in(twilio, client, sms_account)
    conversation = Message.objects.get(account=sms_account).conversation
    message = send_now(reply(conversation, cast.owner), cast.owner)
    twilio.fail_with = [500]

    assert dispatch_due().retrying == 1
    outbox = OutboxMessage.objects.get(message=message)
    assert outbox.status == OutboxStatus.PENDING and outbox.attempts == 1
    OutboxMessage.objects.filter(id=outbox.id).update(send_after=timezone.now())

    assert dispatch_due().sent == 1
    assert len(twilio.sent()) == 2


def test_attachments_go_as_signed_expiring_media_links(cast, client, twilio, sms_account, settings):
    text_in(twilio, client, sms_account)
    conversation = Message.objects.get(account=sms_account).conversation
    draft = reply(conversation, cast.owner)
    attachment = DraftAttachment(
        organization_id=cast.org.id, draft=draft, filename="map.png", content_type="image/png", size=3
    )
    attachment.file.save("map.png", ContentFile(b"png"), save=True)
    message = send_now(draft, cast.owner)

    assert dispatch_due().sent == 1
    [form] = twilio.sent()
    [url] = form["MediaUrl"]
    assert url.startswith(f"{SITE}/twilio/media/")
    client.logout()
    fetched = client.get(url.removeprefix(SITE))
    assert fetched.status_code == 200 and b"".join(fetched.streaming_content) == b"png"
    assert client.get("/twilio/media/forged-token").status_code == 404
    settings.TWILIO_MEDIA_URL_MAX_AGE = -1
    assert client.get(media_url(Attachment.objects.get(message=message)).removeprefix(SITE)).status_code == 404


def test_more_than_100_numbers_are_refused_and_nothing_is_queued(cast, client, twilio, sms_account):
    text_in(twilio, client, sms_account)
    conversation = Message.objects.get(account=sms_account).conversation
    draft = reply(conversation, cast.owner)
    draft.to = [f"+1555000{n:04d}" for n in range(101)]
    draft.save(update_fields=["to"])

    with pytest.raises(ActionRefused, match="at most 100 numbers"):
        send_now(draft, cast.owner)

    assert not OutboxMessage.objects.exists()
    assert Draft.objects.get(id=draft.id).status == DraftStatus.EDITING


OTHER = "+1555000111"
THIRD = "+1555000222"


def test_several_numbers_get_one_message_each_in_the_conversation_of_their_pair(cast, client, twilio, sms_account):
    """The seed: a separate message goes to each recipient, and each pair of numbers is its own
    conversation. The contact of this conversation keeps the message; the other number's copy goes
    to its own pair's conversation (an existing one here), with its own Twilio id and status."""
    text_in(twilio, client, sms_account, "From the other number", contact=OTHER)
    other_conversation = Message.objects.get(account=sms_account).conversation
    text_in(twilio, client, sms_account)
    conversation = Message.objects.get(account=sms_account, from_address=CONTACT).conversation
    draft = reply(conversation, cast.owner, "We open at 9.")
    draft.to = [{"name": "", "address": OTHER}, {"name": "", "address": CONTACT}]
    draft.save(update_fields=["to"])
    message = send_now(draft, cast.owner)

    assert dispatch_due().sent == 2
    assert sorted(form["To"][0] for form in twilio.sent()) == [OTHER, CONTACT]
    message.refresh_from_db()
    copy = Message.objects.get(conversation=other_conversation, direction=Direction.OUTBOUND)
    assert message.conversation_id == conversation.id and message.to == [{"name": "", "address": CONTACT}]
    assert copy.to == [{"name": "", "address": OTHER}] and copy.body_text == message.body_text
    assert copy.external_id and message.external_id and copy.external_id != message.external_id
    assert other_conversation.thread_keys.filter(key=pair_key(NUMBER, OTHER)).exists()
    assert not conversation.thread_keys.filter(key=pair_key(NUMBER, OTHER)).exists()

    post_status(twilio, client, copy, "undelivered", error_code="30003")
    post_status(twilio, client, message, "delivered")
    copy.refresh_from_db()
    message.refresh_from_db()
    assert copy.delivery_status == DeliveryStatus.UNDELIVERED and "30003" in copy.delivery_error
    assert message.delivery_status == DeliveryStatus.DELIVERED and message.delivery_error == ""

    text_in(twilio, client, sms_account, "Thanks!", contact=OTHER)
    answer = Message.objects.get(account=sms_account, body_text="Thanks!")
    assert answer.conversation_id == other_conversation.id


def new_text(cast, sms_account, numbers, body="Your table is ready.") -> Draft:
    draft = do_start_new_email(cast.org, acting_user=cast.owner)
    Draft.objects.filter(id=draft.id).update(
        alias=Alias.objects.get(account=sms_account),
        account=sms_account,
        to=[{"name": "", "address": n} for n in numbers],
        body_html=f"<p>{body}</p>",
    )
    return Draft.objects.get(id=draft.id)


def test_a_new_text_to_several_numbers_starts_one_conversation_per_number(cast, client, twilio, sms_account):
    message = send_now(new_text(cast, sms_account, [CONTACT, OTHER, THIRD]), cast.owner)

    messages = Message.objects.filter(account=sms_account, direction=Direction.OUTBOUND)
    assert messages.count() == 3 and len({m.conversation_id for m in messages}) == 3
    assert {m.to[0]["address"] for m in messages} == {CONTACT, OTHER, THIRD}
    assert message.to == [{"name": "", "address": CONTACT}]
    for copy in messages.exclude(id=message.id):
        # The sender sees each conversation as they see the draft's; nobody else does.
        assert list(copy.conversation.states.values_list("user_id", flat=True)) == [cast.owner.id]
        assert copy.conversation.participants == copy.to and copy.conversation.message_count == 1
    assert dispatch_due().sent == 3
    assert [len(form["To"]) for form in twilio.sent()] == [1, 1, 1]
    assert OutboxMessage.objects.filter(status=OutboxStatus.SENT).count() == 3

    text_in(twilio, client, sms_account, "See you", contact=THIRD)
    answer = Message.objects.get(account=sms_account, direction=Direction.INBOUND)
    assert answer.conversation.messages.filter(direction=Direction.OUTBOUND, to__0__address=THIRD).exists()


def test_each_number_gets_the_pictures_of_a_text_sent_to_several(cast, client, twilio, sms_account):
    draft = new_text(cast, sms_account, [CONTACT, OTHER, THIRD])
    attachment = DraftAttachment(
        organization_id=cast.org.id, draft=draft, filename="map.png", content_type="image/png", size=3
    )
    attachment.file.save("map.png", ContentFile(b"png"), save=True)
    send_now(draft, cast.owner)

    files = Attachment.objects.filter(message__account=sms_account)
    assert files.count() == 3 and len({a.message_id for a in files}) == 3
    assert len({a.file.name for a in files}) == 1, "one stored file, a row per message"
    assert dispatch_due().sent == 3
    assert [len(form["MediaUrl"]) for form in twilio.sent()] == [1, 1, 1]


def test_undo_takes_back_the_text_to_every_number(cast, twilio, sms_account):
    message = do_send_draft(new_text(cast, sms_account, [CONTACT, OTHER]), acting_user=cast.owner, delay_seconds=30)
    assert Conversation.objects.filter(organization=cast.org).count() == 2

    draft = do_undo_send(message, acting_user=cast.owner)

    assert draft.status == DraftStatus.EDITING
    assert [person["address"] for person in draft.to] == [CONTACT, OTHER]
    assert not Message.objects.filter(account=sms_account).exists() and not OutboxMessage.objects.exists()
    assert Conversation.objects.filter(organization=cast.org).count() == 1  # the draft's own
    assert dispatch_due().sent == 0 and twilio.sent() == []


def test_a_whatsapp_message_to_several_numbers_is_refused(cast, client, twilio, whatsapp_account):
    text_in(twilio, client, whatsapp_account)
    conversation = Message.objects.get(account=whatsapp_account).conversation
    draft = reply(conversation, cast.owner)
    draft.to = [CONTACT, OTHER]
    draft.save(update_fields=["to"])

    with pytest.raises(ActionRefused, match="one number"):
        send_now(draft, cast.owner)
    assert not OutboxMessage.objects.exists()


# --- WhatsApp ---------------------------------------------------------------------------------------


def test_whatsapp_free_form_within_the_window_is_sent(cast, client, twilio, whatsapp_account):
    text_in(twilio, client, whatsapp_account, "Hello on WhatsApp")
    conversation = Message.objects.get(account=whatsapp_account).conversation
    send_now(reply(conversation, cast.owner), cast.owner)

    assert dispatch_due().sent == 1
    [form] = twilio.sent()
    assert form["From"] == [f"whatsapp:{NUMBER}"] and form["To"] == [f"whatsapp:{CONTACT}"]


def outside_window(conversation):
    Message.objects.filter(conversation=conversation).update(sent_at=timezone.now() - timedelta(hours=25))


def test_whatsapp_free_form_outside_the_window_is_refused_and_nothing_is_queued(cast, client, twilio, whatsapp_account):
    text_in(twilio, client, whatsapp_account)
    conversation = Message.objects.get(account=whatsapp_account).conversation
    outside_window(conversation)
    draft = reply(conversation, cast.owner)

    with pytest.raises(ActionRefused, match="within 24 hours"):
        send_now(draft, cast.owner)

    assert not OutboxMessage.objects.exists()
    assert Message.objects.filter(conversation=conversation).count() == 1


def template_of(account) -> WhatsAppTemplate:
    return WhatsAppTemplate.objects.create(
        organization_id=account.organization_id,
        account=account,
        name="order_ready",
        language="en",
        content_sid="HX" + "a" * 32,
        body="Hi {{1}}, your order {{2}} is ready.",
    )


def test_a_template_goes_outside_the_window_as_content_sid_and_variables(cast, client, twilio, whatsapp_account):
    text_in(twilio, client, whatsapp_account)
    conversation = Message.objects.get(account=whatsapp_account).conversation
    outside_window(conversation)
    twilio.last_whatsapp_inbound.clear()
    template = template_of(whatsapp_account)
    draft = reply(conversation, cast.owner)

    with pytest.raises(ActionRefused, match="variable"):
        do_send_whatsapp_template(draft, template=template, variables={"1": "Ada"}, acting_user=cast.owner)
    message = do_send_whatsapp_template(
        draft, template=template, variables={"1": "Ada", "2": "#42"}, acting_user=cast.owner
    )
    OutboxMessage.objects.update(send_after=timezone.now())

    assert dispatch_due().sent == 1
    [form] = twilio.sent()
    assert form["ContentSid"] == [template.content_sid]
    assert json.loads(form["ContentVariables"][0]) == {"1": "Ada", "2": "#42"}
    assert "Body" not in form
    assert Message.objects.get(id=message.id).body_text.strip() == "Hi Ada, your order #42 is ready."


def test_twilio_refuses_free_form_outside_its_window_with_63016(cast, twilio, whatsapp_account):
    """Our clock says the window is open (a message we know of), Twilio's says otherwise."""
    inbound = receive(
        whatsapp_account, subject="", body="hi", sender=CONTACT, external_id="SMx", thread_keys=["whatsapp:" + NUMBER]
    )
    message = send_now(reply(inbound.conversation, cast.owner), cast.owner)

    assert dispatch_due().failed == 1
    assert "(Twilio error 63016)" in OutboxMessage.objects.get(message=message).last_error


def test_templates_are_added_and_removed_in_settings(cast, client, twilio, whatsapp_account):
    login(client, cast.owner)
    url = reverse("settings_whatsapp_template_add", args=[cast.org.id, whatsapp_account.id])

    bad = client.post(url, {"name": "hi", "language": "en", "content_sid": "HXabc", "body": "Hello {{name}}"})
    assert "Variables must be positional" in bad.content.decode()
    client.post(url, {"name": "hi", "language": "en", "content_sid": "HXabc", "body": "Hello {{1}}"})
    template = WhatsAppTemplate.objects.get(account=whatsapp_account)
    page = client.get(reverse("settings_whatsapp_templates", args=[cast.org.id, whatsapp_account.id]))
    assert "Hello {{1}}" in page.content.decode()

    client.post(reverse("settings_whatsapp_template_delete", args=[cast.org.id, whatsapp_account.id, template.id]))
    assert not WhatsAppTemplate.objects.exists()


def test_another_organization_cannot_see_or_change_templates(cast, client, twilio, whatsapp_account):
    template = template_of(whatsapp_account)
    login(client, cast.outsider)
    page = reverse("settings_whatsapp_templates", args=[cast.org.id, whatsapp_account.id])
    assert client.get(page).status_code == 404
    delete = reverse("settings_whatsapp_template_delete", args=[cast.org.id, whatsapp_account.id, template.id])
    assert client.post(delete).status_code == 404
    assert WhatsAppTemplate.objects.filter(id=template.id).exists()


def test_an_sms_account_has_no_templates_page(cast, client, twilio, sms_account):
    login(client, cast.owner)
    assert client.get(reverse("settings_whatsapp_templates", args=[cast.org.id, sms_account.id])).status_code == 404


def test_the_account_page_of_a_whatsapp_number_links_its_templates(cast, client, twilio, whatsapp_account):
    login(client, cast.owner)
    page = client.get(reverse("settings_account", args=[cast.org.id, whatsapp_account.id])).content.decode()
    assert reverse("settings_whatsapp_templates", args=[cast.org.id, whatsapp_account.id]) in page


def test_the_sms_composer_has_no_subject_cc_or_bcc(cast, client, twilio, sms_account):
    text_in(twilio, client, sms_account)
    conversation = Message.objects.get(account=sms_account).conversation
    draft = reply(conversation, cast.owner)
    login(client, cast.owner)
    composer = client.get(reverse("draft_composer", args=[draft.id])).content.decode()
    assert 'name="alias"' in composer and 'data-show-row="cc"' not in composer
    assert 'name="subject"' not in composer and 'data-recipients="bcc"' not in composer


def test_the_composer_offers_templates_outside_the_window_and_sends_one(cast, client, twilio, whatsapp_account):
    text_in(twilio, client, whatsapp_account)
    conversation = Message.objects.get(account=whatsapp_account).conversation
    draft = reply(conversation, cast.owner)
    template = template_of(whatsapp_account)
    login(client, cast.owner)
    picker = reverse("whatsapp_template_picker", args=[draft.id])

    assert "free-form replies can be sent" in client.get(picker).content.decode()
    outside_window(conversation)
    twilio.last_whatsapp_inbound.clear()
    offered = client.get(picker).content.decode()
    assert "Outside WhatsApp's 24-hour window" in offered and "order_ready" in offered

    send = reverse("whatsapp_template_send", args=[draft.id, template.id])
    refused = client.post(send, {"var_1": "Ada"}, HTTP_HX_REQUEST="true")
    assert "Fill in variable {{2}}" in refused.content.decode()
    client.post(send, {"var_1": "Ada", "var_2": "#42"}, HTTP_HX_REQUEST="true")
    OutboxMessage.objects.update(send_after=timezone.now())
    assert dispatch_due().sent == 1
    assert twilio.sent()[0]["ContentSid"] == [template.content_sid]


def test_another_organization_cannot_use_the_template_picker(cast, client, twilio, whatsapp_account):
    text_in(twilio, client, whatsapp_account)
    draft = reply(Message.objects.get(account=whatsapp_account).conversation, cast.owner)
    template = template_of(whatsapp_account)
    login(client, cast.outsider)
    assert client.get(reverse("whatsapp_template_picker", args=[draft.id])).status_code == 404
    assert client.post(reverse("whatsapp_template_send", args=[draft.id, template.id])).status_code == 404
    assert not OutboxMessage.objects.exists()


def test_the_single_twilio_url_routes_by_account_sid_and_number(cast, client, twilio, sms_account):
    theirs = connect(twilio, cast.other_org, cast.outsider, number="+1777888999")
    url = SITE + reverse("twilio_inbound_routed")
    studio = twilio.studio_inbound(
        url, account_sid=sms_account.credentials["account_sid"], from_=CONTACT, to=NUMBER, body="via Studio"
    )
    form = twilio.inbound(
        url, account_sid=theirs.credentials["account_sid"], from_=CONTACT, to=theirs.address, body="b"
    )

    assert studio.post_with(client).status_code == 200
    assert form.post_with(client).status_code == 200
    assert Message.objects.get(account=sms_account).body_text == "via Studio"
    assert Message.objects.get(account=theirs).body_text == "b"

    # Their token cannot put a message into our number.
    forged = twilio.inbound(url, account_sid=theirs.credentials["account_sid"], from_=CONTACT, to=NUMBER, body="x")
    assert forged.post_with(client).status_code == 403
    assert Message.objects.count() == 2


def test_a_status_callback_cannot_touch_another_accounts_message(cast, client, twilio, sms_account):
    message = sent_reply(twilio, client, sms_account, cast.owner)
    theirs = connect(twilio, cast.other_org, cast.outsider, number="+1777888999")
    url = SITE + reverse("twilio_status", args=[theirs.id]) + f"?message={message.id}"
    params = {
        "AccountSid": theirs.credentials["account_sid"],
        "MessageSid": message.external_id,
        "MessageStatus": "failed",
    }
    signature = RequestValidator(theirs.credentials["auth_token"]).compute_signature(url, params)
    response = client.generic(
        "POST",
        url.removeprefix(SITE),
        urlencode(params),
        content_type="application/x-www-form-urlencoded",
        HTTP_HOST="missive.example",
        HTTP_X_TWILIO_SIGNATURE=signature,
        secure=True,
    )
    assert response.status_code == 200
    message.refresh_from_db()
    assert message.delivery_status == DeliveryStatus.QUEUED


def test_the_answer_to_a_text_we_started_threads_into_its_conversation(cast, client, twilio, sms_account):
    draft = do_start_new_email(cast.org, acting_user=cast.owner)
    alias = Alias.objects.get(account=sms_account)
    Draft.objects.filter(id=draft.id).update(
        alias=alias, account=sms_account, to=[{"name": "", "address": CONTACT}], body_html="<p>Your table is ready.</p>"
    )
    message = send_now(Draft.objects.get(id=draft.id), cast.owner)
    assert dispatch_due().sent == 1

    text_in(twilio, client, sms_account, "On my way")

    answer = Message.objects.get(account=sms_account, direction=Direction.INBOUND)
    assert answer.conversation_id == message.conversation_id


def test_an_empty_text_is_refused(cast, client, twilio, sms_account):
    text_in(twilio, client, sms_account)
    draft = reply(Message.objects.get(account=sms_account).conversation, cast.owner, body="")
    with pytest.raises(ActionRefused, match="Write a message"):
        send_now(draft, cast.owner)
    assert not OutboxMessage.objects.exists()
