"""The MIME an outgoing message becomes: structure, addresses, threading headers, encodings, and
nothing added behind the writer's back (no tracking)."""

import email
import email.policy
import re

import pytest

from channels_app.email.compose import build_mime, envelope_recipients
from conversations.models import Attachment
from conversations.sending import new_message_id
from tests.outbox_factory import outgoing

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("tmp_storage")]

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 40


def parse(raw: bytes) -> email.message.EmailMessage:
    return email.message_from_bytes(raw, policy=email.policy.default)  # type: ignore[return-value]


def mime_of(message) -> email.message.EmailMessage:
    message.rfc_message_id = message.rfc_message_id or new_message_id(message.from_address)
    return parse(build_mime(message, list(Attachment.objects.filter(message=message))))


def test_from_is_exactly_the_alias_and_bcc_is_only_in_the_envelope(cast):
    message = outgoing(
        cast.support_account,
        from_name="Acme Sales",
        from_address="sales@acme.test",
        to=[{"name": "Bob Buyer", "address": "bob@outside.test"}, "carol@outside.test"],
        cc=["Dan Deal <dan@outside.test>"],
        bcc=[{"name": "Secret", "address": "boss@acme.test"}],
    )

    mime = mime_of(message)

    assert mime["From"] == "Acme Sales <sales@acme.test>"
    assert mime["To"] == "Bob Buyer <bob@outside.test>, carol@outside.test"
    assert mime["Cc"] == "Dan Deal <dan@outside.test>"
    assert mime["Bcc"] is None and b"boss@acme.test" not in build_mime(message)
    assert envelope_recipients(message) == [
        "bob@outside.test",
        "carol@outside.test",
        "dan@outside.test",
        "boss@acme.test",
    ]


def test_threading_headers_and_date_are_set(cast):
    message = outgoing(
        cast.support_account,
        rfc_message_id="<reply-1@acme.test>",
        in_reply_to="<original@outside.test>",
        references="<root@outside.test> <original@outside.test>",
    )

    mime = mime_of(message)

    assert mime["Message-ID"] == "<reply-1@acme.test>"
    assert mime["In-Reply-To"] == "<original@outside.test>"
    assert mime["References"].split() == ["<root@outside.test>", "<original@outside.test>"]
    assert mime["Date"].datetime is not None
    assert mime["MIME-Version"] == "1.0"


def test_a_new_message_id_uses_the_sender_domain():
    assert re.fullmatch(r"<[0-9a-f]{32}@acme\.test>", new_message_id("Sales@ACME.test"))


def test_non_ascii_names_and_subjects_are_encoded(cast):
    message = outgoing(
        cast.support_account,
        from_name="Zoë Ångström",
        subject="Réunion demain — ☕?",
        to=[{"name": "José Núñez", "address": "jose@outside.test"}],
        body_text="Voilà, à demain.",
    )

    raw = build_mime(message)
    header_block = raw.split(b"\r\n\r\n", 1)[0]
    mime = parse(raw)

    header_block.decode("ascii")  # every header is 7-bit on the wire
    assert b"=?utf-8?" in header_block
    assert mime["Subject"] == "Réunion demain — ☕?"
    assert mime["From"].addresses[0].display_name == "Zoë Ångström"
    assert mime["To"].addresses[0].display_name == "José Núñez"
    assert mime.get_body(("plain",)).get_content().strip() == "Voilà, à demain."


def test_html_with_inline_image_and_attachment_nests_mixed_alternative_related(cast):
    message = outgoing(
        cast.support_account,
        body_text="See the logo.",
        body_html='<p>See the <b>logo</b>:</p><img src="cid:logo@acme">',
        files=[("invoice.pdf", b"%PDF-1.4 fake", "application/pdf"), ("logo.png", PNG, "image/png", "logo@acme")],
    )

    mime = mime_of(message)

    assert mime.get_content_type() == "multipart/mixed"
    alternative, attachment = mime.get_payload()
    assert alternative.get_content_type() == "multipart/alternative"
    text, related = alternative.get_payload()
    assert text.get_content_type() == "text/plain" and "See the logo." in text.get_content()
    assert related.get_content_type() == "multipart/related"
    html, image = related.get_payload()
    assert html.get_content_type() == "text/html" and "<b>logo</b>" in html.get_content()
    assert image["Content-ID"] == "<logo@acme>" and image.get_content() == PNG
    assert attachment.get_filename() == "invoice.pdf" and attachment.get_content() == b"%PDF-1.4 fake"


def test_a_text_only_message_is_a_single_part(cast):
    mime = mime_of(outgoing(cast.support_account, body_text="Plain words."))

    assert mime.get_content_type() == "text/plain"
    assert mime.get_content().strip() == "Plain words."


def test_html_only_gets_a_text_part_made_from_it(cast):
    mime = mime_of(outgoing(cast.support_account, body_text="", body_html="<p>Hello <i>there</i></p>"))

    assert mime.get_content_type() == "multipart/alternative"
    assert "Hello there" in mime.get_body(("plain",)).get_content()


def test_no_read_tracking_is_ever_added(cast):
    body_html = '<p>Thanks!</p><img src="cid:sig@acme" alt="signature">'
    message = outgoing(cast.support_account, body_html=body_html, files=[("sig.png", PNG, "image/png", "sig@acme")])

    mime = mime_of(message)

    html = mime.get_body(("html",)).get_content()
    assert re.findall(r"<img\b[^>]*>", html) == ['<img src="cid:sig@acme" alt="signature">']
    assert not re.search(r"https?://", html), "no remote resource of ours"
    assert body_html in html
    names = {name.lower() for name in mime}
    assert names == {"from", "to", "subject", "date", "message-id", "mime-version", "content-type"}
    for part in mime.walk():
        assert not any("track" in name.lower() or "notification" in name.lower() for name in part)
