"""parse_email over a corpus of small messages in tests/channels_app/eml/, plus a few built inline."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from channels_app.email.parsing import (
    FORWARDED_HEADER,
    RAW_TEXT_LIMIT,
    UNPARSEABLE_SUBJECT,
    detect_read_trackers,
    html_to_text,
    parse_email,
)
from conversations.incoming import IncomingAttachment, IncomingMessage

EML = Path(__file__).parent / "eml"
PNG_START = b"\x89PNG\r\n\x1a\n"


def parse(name: str) -> IncomingMessage:
    return parse_email((EML / name).read_bytes())


def message(*headers: str, body: str = "Hello.") -> bytes:
    return "\n".join(["From: a@example.com", "To: b@example.org", *headers, "", body, ""]).encode()


# Headers


def test_plain_message_gives_its_headers_and_body():
    raw = (EML / "plain.eml").read_bytes()
    parsed = parse_email(raw)
    assert parsed.from_address == "alice.martin@example.com"
    assert parsed.from_name == "Alice Martin"
    assert parsed.to == [{"name": "Bob", "address": "bob@example.org"}, {"name": "", "address": "carol@example.org"}]
    assert parsed.cc == [{"name": "Dave, the Boss", "address": "dave@example.org"}]
    assert parsed.reply_to == [{"name": "Support", "address": "support@example.com"}]
    assert parsed.subject == "Lunch on Friday?"
    assert parsed.sent_at == datetime(2024, 5, 3, 9, 15, tzinfo=timezone(timedelta(hours=2)))
    assert parsed.rfc_message_id == "<lunch-1@example.com>"
    assert parsed.body_text == "Hi Bob,\n\nAre you free for lunch on Friday?\n\nAlice"
    assert parsed.body_html == ""
    assert parsed.attachments == []
    assert parsed.raw == raw
    assert parsed.parse_error == ""


def test_plain_message_is_not_flagged():
    parsed = parse("plain.eml")
    assert (parsed.is_auto_reply, parsed.is_bulk, parsed.has_read_trackers) == (False, False, False)


@pytest.mark.parametrize(
    ("name", "subject", "from_name"),
    [
        ("rfc2047_utf8.eml", "Grüße aus Köln 👋", "Jürgen Müller"),
        ("rfc2047_iso_8859_1.eml", "Réunion à Zürich", "Renée Lefèvre"),
        ("rfc2047_shift_jis.eml", "会議の件", "山田太郎"),
        ("rfc2047_windows_1252.eml", "“Quoted” – price €", "François “Frank”"),
    ],
)
def test_encoded_words_in_subject_and_names_are_decoded(name, subject, from_name):
    parsed = parse(name)
    assert (parsed.subject, parsed.from_name) == (subject, from_name)


def test_raw_utf8_headers_are_decoded():
    parsed = parse("raw_utf8_headers.eml")
    assert (parsed.subject, parsed.from_name) == ("Smörgåsbord på fredag", "Zoë Ångström")


def test_raw_windows_1252_header_is_decoded():
    parsed = parse_email(b"From: a@example.com\nSubject: Caf\xe9 cr\xe8me \x93ok\x94\n\nHello.\n")
    assert parsed.subject == "Café crème “ok”"


def test_encoded_word_in_unknown_charset_is_read_as_utf8():
    assert parse("unknown_charset.eml").subject == "Café menu"


def test_broken_base64_encoded_word_is_shown_as_written():
    parsed = parse_email(message("Subject: =?utf-8?b?!!!not base64?= ok"))
    assert parsed.subject == "=?utf-8?b?!!!not base64?= ok"


def test_folded_subject_is_one_line():
    parsed = parse_email(message("Subject: =?utf-8?q?first_half?=\n =?utf-8?q?_second_half?=\n\tand more"))
    assert parsed.subject == "first half second half and more"


def test_missing_date_is_none():
    assert parse("no_date.eml").sent_at is None


def test_garbage_date_is_none():
    assert parse("garbage_date.eml").sent_at is None


def test_date_with_unknown_zone_is_utc():
    parsed = parse_email(message("Date: Mon, 6 May 2024 08:00:00 -0000"))
    assert parsed.sent_at == datetime(2024, 5, 6, 8, 0, tzinfo=UTC)


def test_references_chain_keeps_order_and_brackets():
    parsed = parse("references_chain.eml")
    assert parsed.in_reply_to == "<reply-2@example.org>"
    assert parsed.references == ["<plans@example.com>", "<reply-1@example.net>", "<reply-2@example.org>"]


def test_message_id_without_brackets_gets_them():
    assert parse_email(message("Message-ID: abc123@example.com")).rfc_message_id == "<abc123@example.com>"


def test_sender_header_stands_in_for_a_missing_from():
    parsed = parse_email(b"Sender: Robot <Robot@Example.com>\nSubject: hi\n\nHello.\n")
    assert (parsed.from_address, parsed.from_name) == ("robot@example.com", "Robot")


# Bodies


def test_html_only_message_gets_text_from_its_html():
    parsed = parse("html_only.eml")
    assert parsed.body_text == (
        "Order #42\n\nYour order is on its way & will arrive soon.\nTrack it here.\n\n- Café beans\n- Mug <blue>\n\n"
        "Total 12,00 €"
    )
    assert parsed.body_html.startswith("<html><head><title>Order</title>")


def test_multipart_alternative_keeps_both_bodies_with_plain_line_ends():
    parsed = parse("alternative.eml")
    assert parsed.body_text == "Let's meet at the café.\nSee you!"
    assert parsed.body_html == "<p>Let's meet at the <b>café</b>.</p><p>See you!</p>"


def test_unknown_charset_body_is_read_as_utf8():
    assert parse("unknown_charset.eml").body_text == "Crème brûlée"


def test_misspelled_charset_name_is_understood():
    assert parse("cp850_charset.eml").body_text == "Déjà vu"


def test_utf8_label_on_windows_1252_bytes_is_read_as_windows_1252():
    assert parse("mislabelled_charset.eml").body_text == "“Café” au lait"


def test_multipart_without_boundary_keeps_its_text():
    parsed = parse_email(message("Content-Type: multipart/alternative", body="Just text."))
    assert (parsed.body_text, parsed.attachments) == ("Just text.", [])


def test_nul_characters_are_dropped():
    assert parse_email(message(body="a\x00b")).body_text == "ab"


# Attachments


def test_cid_image_in_nested_related_part_is_an_inline_attachment():
    logo = parse("related_cid.eml").attachments[0]
    assert (logo.filename, logo.content_type, logo.content_id, logo.is_inline) == (
        "attachment.png",
        "image/png",
        "logo.png@01DA",
        True,
    )
    assert logo.content.startswith(PNG_START)


def test_inline_image_not_referenced_by_the_html_is_listed_as_an_attachment():
    sketch = parse("related_cid.eml").attachments[1]
    assert (sketch.filename, sketch.content_id, sketch.is_inline) == ("sketch.png", "sketch@01DA", False)


def test_rfc2231_filename_is_decoded():
    assert parse("attachments.eml").attachments[0] == IncomingAttachment(
        filename="Résumé 2024.pdf", content_type="application/pdf", content=b"%PDF-1.4 resume"
    )


def test_rfc2231_continued_latin1_filename_is_decoded_and_its_type_guessed():
    workbook = parse("attachments.eml").attachments[1]
    assert workbook.filename == "Année complète.xlsx"
    assert workbook.content_type == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def test_rfc2047_filename_is_decoded_and_named_text_is_an_attachment():
    overview = parse("attachments.eml").attachments[2]
    assert (overview.filename, overview.content_type, overview.content) == ("Übersicht.txt", "text/plain", b"Overview")


def test_filename_loses_folders_and_direction_overrides():
    assert parse("attachments.eml").attachments[3].filename == "evilfdp.exe"


def test_attachment_without_a_name_is_named_from_its_type():
    unnamed = parse("attachments.eml").attachments[4]
    assert (unnamed.filename, unnamed.content) == ("attachment.zip", b"PK zip")


def test_body_stays_the_text_part_when_there_are_attachments():
    parsed = parse("attachments.eml")
    assert (parsed.body_text, len(parsed.attachments)) == ("Four files attached.", 5)


def test_forwarded_message_is_an_eml_attachment():
    (forwarded,) = parse("forwarded.eml").attachments
    assert (forwarded.filename, forwarded.content_type) == ("Quarterly numbers.eml", "message/rfc822")
    assert parse_email(forwarded.content).body_text == "Revenue is up 5%."


def test_forwarded_message_text_fills_an_empty_body():
    assert parse("forwarded.eml").body_text == (
        f"{FORWARDED_HEADER}\n"
        "From: Carol <carol@example.net>\n"
        "Date: Mon, 29 Apr 2024 16:30:00 +0000\n"
        "Subject: Quarterly numbers\n"
        "To: Alice <alice@example.com>\n"
        "\n"
        "Revenue is up 5%."
    )


def test_forwarded_message_with_utf8_headers_is_an_eml_attachment():
    raw = message(
        'Content-Type: multipart/mixed; boundary="b"',
        body="--b\nContent-Type: message/global\n\nFrom: z@example.com\nSubject: Grüße\n\nHallo.\n--b--",
    )
    parsed = parse_email(raw)
    assert [a.filename for a in parsed.attachments] == ["Grüße.eml"]
    assert parsed.body_text.endswith("Subject: Grüße\n\nHallo.")


def test_forwarded_message_text_is_not_added_under_a_note():
    parsed = parse("forwarded_with_note.eml")
    assert parsed.body_text == "FYI, see below."
    assert [a.filename for a in parsed.attachments] == ["Quarterly numbers.eml"]


# Flags


def test_auto_submitted_reply_is_an_auto_reply():
    parsed = parse("auto_reply.eml")
    assert (parsed.is_auto_reply, parsed.is_bulk) == (True, False)


def test_outlook_automatic_reply_is_an_auto_reply():
    assert parse("outlook_oof.eml").is_auto_reply is True


@pytest.mark.parametrize(
    "header",
    [
        "Auto-Submitted: auto-generated",
        "X-Autoreply: yes",
        "X-Autorespond: Out of office",
        "X-Auto-Response-Suppress: DR, OOF",
        "Precedence: auto_reply",
        "Subject: Out of Office: back Monday",
        "Subject: Automatic reply: Lunch",
        "Subject: Auto: Lunch",
        "Content-Type: multipart/report; report-type=delivery-status; boundary=x",
    ],
)
def test_auto_reply_header(header):
    assert parse_email(message(header)).is_auto_reply is True


@pytest.mark.parametrize("header", ["Auto-Submitted: no", "Subject: Re: Out of Office: back Monday", "X-Other: 1"])
def test_not_an_auto_reply(header):
    assert parse_email(message(header)).is_auto_reply is False


def test_mailer_daemon_bounce_is_an_auto_reply():
    assert parse_email(b"From: MAILER-DAEMON@mx.example.com\nSubject: Undelivered\n\nSorry.\n").is_auto_reply is True


def test_newsletter_is_bulk_with_a_tracking_pixel():
    parsed = parse("newsletter.eml")
    assert (parsed.is_bulk, parsed.has_read_trackers, parsed.is_auto_reply) == (True, True, False)
    assert parsed.body_text == "5 things\n\nOne. Two. Three."


@pytest.mark.parametrize(
    "header",
    [
        "Precedence: list",
        "Precedence: junk",
        "List-Id: Friends <friends.lists.example.org>",
        "List-Unsubscribe: <mailto:leave@example.org>",
        "X-Mailchimp-Campaign: abc",
        "X-Campaign-Id: 42",
    ],
)
def test_bulk_header(header):
    assert parse_email(message(header)).is_bulk is True


def test_tracker_in_html_part_of_alternative_is_found():
    raw = message(
        'Content-Type: multipart/alternative; boundary="b"',
        body="--b\nContent-Type: text/plain\n\nHi\n--b\nContent-Type: text/html\n\n"
        '<p>Hi</p><img src="https://mailtrack.io/trace/mail/abc.png">\n--b--',
    )
    assert parse_email(raw).has_read_trackers is True


# Unparseable input


def test_empty_file_is_kept_as_unparseable():
    parsed = parse("empty.eml")
    assert (parsed.from_address, parsed.subject, parsed.body_text, parsed.raw) == ("", UNPARSEABLE_SUBJECT, "", b"")
    assert parsed.parse_error == "The message is empty."


def test_random_bytes_are_kept_as_unparseable_raw_text():
    raw = (EML / "random_bytes.eml").read_bytes()
    parsed = parse_email(raw)
    assert (parsed.from_address, parsed.subject, parsed.raw) == ("", UNPARSEABLE_SUBJECT, raw)
    assert parsed.body_text == raw.decode("utf-8", errors="replace").replace("\x00", "")
    assert parsed.parse_error == "No mail headers found."


def test_unparseable_text_is_cut_at_the_limit():
    raw = b"no headers here " * 20_000
    parsed = parse_email(raw)
    assert (len(parsed.body_text), parsed.raw) == (RAW_TEXT_LIMIT, raw)


def test_mutated_corpus_never_raises():
    rng = random.Random(7)
    corpus = [path.read_bytes() for path in sorted(EML.glob("*.eml")) if path.stat().st_size]
    for _ in range(600):
        data = bytearray(rng.choice(corpus))
        for _ in range(rng.randrange(1, 8)):
            data = data or bytearray(b"x")
            at = rng.randrange(len(data))
            choice = rng.randrange(3)
            if choice == 0:
                data[at] = rng.randrange(256)
            elif choice == 1:
                data[at:at] = rng.choice([b"=?", b"?=", b"<", b'"', b";", b"\n", b"\n--", b"*0*=", b"%"])
            else:
                del data[at : at + rng.randrange(1, 40)]
        parsed = parse_email(bytes(data))
        assert isinstance(parsed, IncomingMessage)
        assert "\x00" not in parsed.body_text + parsed.subject + parsed.body_html


# html_to_text and detect_read_trackers


@pytest.mark.parametrize(
    ("html", "text"),
    [
        ("<p>One</p><p>Two</p>", "One\n\nTwo"),
        ("a<br>b<br/>c", "a\nb\nc"),
        ("Fish &amp; chips&nbsp;&#8364;5 &unknown;", "Fish & chips €5 &unknown;"),
        ("<style>p{}</style><script>x<y</script>Shown", "Shown"),
        ("<!--[if mso]><p>Outlook only</p><![endif]-->Everyone", "Everyone"),
        ('<a title="a>b" href="x">link</a>', "link"),
        ("<pre>first\n  second</pre>", "first\nsecond"),
        ("<title>Hidden</title><script>if (a<b) {}</script>Shown", "Shown"),
        ("5 < 6 and 7 > 3", "5 < 6 and 7 > 3"),
        ("<p>unterminated <b class='x", "unterminated <b class='x"),
    ],
)
def test_html_to_text(html, text):
    assert html_to_text(html) == text


@pytest.mark.parametrize(
    "img",
    [
        '<img src="https://example.com/o.gif" width="1" height="1">',
        '<img src="https://example.com/o.gif" width="0">',
        "<IMG SRC='http://example.com/o.gif' style='width:1px;height:1px'>",
        '<img src="https://example.com/o.gif" style="display: none">',
        '<img src="https://mailtrack.io/trace/mail/x.png" width="600">',
        '<img src="https://us1.list-manage.com/track/open.php?u=1">',
        '<img src="//u1.sendgrid.net/wf/open?upn=x">',
        '<img src="https://pixel.example.net/p.gif">',
    ],
)
def test_tracking_image_is_detected(img):
    assert detect_read_trackers(f"<p>Hi</p>{img}") is True


@pytest.mark.parametrize(
    "img",
    [
        '<img src="https://example.com/banner.png" width="600" height="200">',
        '<img src="https://example.com/spacer.gif" width="1" height="20">',
        '<img src="cid:logo@x" width="1" height="1">',
        '<img src="data:image/gif;base64,R0lGOD" width="1" height="1">',
        '<img src="https://list-manage.com/images/logo.png">',
        '<img src="https://notmailtrack.io/logo.png">',
    ],
)
def test_ordinary_image_is_not_a_tracker(img):
    assert detect_read_trackers(f"<p>Hi</p>{img}") is False
