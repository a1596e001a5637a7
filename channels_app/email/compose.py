"""Turning an outgoing Message into the MIME bytes that are sent and kept.

The structure is the usual one, nested only as far as needed: multipart/mixed (attachments)
around multipart/alternative (text, and HTML) whose HTML part sits in multipart/related with
the inline images it refers to by cid. Bcc is never a header: those recipients are only in the
SMTP envelope. Nothing is added to the HTML: no read tracking of any kind, ever.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime, parseaddr

from django.utils import timezone

from conversations.models import Attachment, Message
from conversations.text import html_to_text


def address_of(entry: object) -> tuple[str, str]:
    """(name, address) of a stored recipient: {"name", "address"} as parsing stores them, or a
    "Name <addr>" / plain address string."""
    if isinstance(entry, dict):
        return str(entry.get("name") or ""), str(entry.get("address") or "").strip()
    name, address = parseaddr(str(entry))
    return name, address.strip()


def envelope_recipients(message: Message) -> list[str]:
    """Every address the message goes to (To, Cc and Bcc), each once, in order."""
    seen: set[str] = set()
    found = []
    for entry in [*message.to, *message.cc, *message.bcc]:
        _, address = address_of(entry)
        if address and address.lower() not in seen:
            seen.add(address.lower())
            found.append(address)
    return found


def _addresses(entries: Iterable[object]) -> list[Address]:
    found = []
    for entry in entries:
        name, address = address_of(entry)
        if address:
            found.append(_address(name, address))
    return found


def _address(name: str, address: str) -> Address:
    username, _, domain = address.rpartition("@")
    # The name goes in as given: the policy quotes it or encodes it (RFC 2047) as needed.
    return Address(display_name=" ".join(name.split()), username=username, domain=domain)


def _html_document(html: str) -> str:
    if "<html" in html[:500].lower():
        return html
    return f'<!DOCTYPE html>\n<html><head><meta charset="utf-8"></head><body>{html}</body></html>'


def _read(attachment: Attachment) -> bytes:
    with attachment.file.open("rb") as handle:
        return handle.read()


def _types(attachment: Attachment) -> tuple[str, str]:
    maintype, _, subtype = (attachment.content_type or "application/octet-stream").partition("/")
    if not maintype or not subtype:
        return "application", "octet-stream"
    return maintype.lower(), subtype.lower()


def build_mime(message: Message, attachments: Sequence[Attachment] = (), *, date: datetime | None = None) -> bytes:
    """The message as sent: CRLF line endings, headers encoded for any name or subject. The
    message needs its rfc_message_id (see new_message_id) before this is called."""
    mime = EmailMessage(policy=SMTP)
    mime["From"] = _address(message.from_name, message.from_address)
    to, cc = _addresses(message.to), _addresses(message.cc)
    if to:
        mime["To"] = to
    if cc:
        mime["Cc"] = cc
    mime["Subject"] = message.subject
    mime["Date"] = format_datetime(timezone.localtime(date or timezone.now()))
    mime["Message-ID"] = message.rfc_message_id
    if message.in_reply_to:
        mime["In-Reply-To"] = message.in_reply_to
    if message.references:
        mime["References"] = " ".join(message.references.split())
    if message.is_auto_reply:
        # RFC 3834: an Out of office reply says so, so other responders never answer it.
        mime["Auto-Submitted"] = "auto-replied"
    mime["MIME-Version"] = "1.0"

    inline = [a for a in attachments if a.is_inline and a.content_id]
    files = [a for a in attachments if not (a.is_inline and a.content_id)]
    text = message.body_text or (html_to_text(message.body_html) if message.body_html else "")
    mime.set_content(text)
    if message.body_html:
        mime.add_alternative(_html_document(message.body_html), subtype="html")
        html_part = mime.get_body(preferencelist=("html",))
        assert isinstance(html_part, EmailMessage)
        for attachment in inline:
            maintype, subtype = _types(attachment)
            html_part.add_related(
                _read(attachment),
                maintype=maintype,
                subtype=subtype,
                cid=f"<{attachment.content_id.strip('<>')}>",
                filename=attachment.filename or None,
                disposition="inline",
            )
    for attachment in [*files, *(inline if not message.body_html else [])]:
        maintype, subtype = _types(attachment)
        mime.add_attachment(
            _read(attachment), maintype=maintype, subtype=subtype, filename=attachment.filename or "attachment"
        )
    return mime.as_bytes()
