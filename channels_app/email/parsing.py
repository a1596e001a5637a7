"""Raw RFC 5322 bytes in, an IncomingMessage out. Pure Python, no database, and it never raises:
mail that cannot be parsed comes back with `parse_error` set, to be kept and shown raw.

The stdlib parser runs with `compat32` (about 8 times faster than `policy.default`), so headers
(RFC 2047 words, raw 8-bit bytes, broken charset names) are decoded here.
"""

from __future__ import annotations

import codecs
import email
import html
import mimetypes
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.errors import HeaderParseError
from email.header import decode_header
from email.message import Message
from email.policy import Compat32
from email.utils import getaddresses, parsedate_to_datetime
from functools import lru_cache
from urllib.parse import unquote

from conversations.incoming import IncomingAttachment, IncomingMessage
from conversations.text import html_to_text
from conversations.trackers import is_tracking_image

UNPARSEABLE_SUBJECT = "(unparseable message)"
FORWARDED_HEADER = "---------- Forwarded message ----------"
# An unparseable message's body is its raw text, cut to what a person would read on screen.
RAW_TEXT_LIMIT = 100_000
# Longer subjects, names and file names are cut; nobody reads past this and the columns are shorter.
HEADER_TEXT_LIMIT = 16_000

# Names mail software uses that Python does not know, or knows by a narrower sibling; the wider
# sets follow what browsers do (WHATWG Encoding), since mail writers label text the same way.
_CHARSET_ALIASES = {
    "iso-8859-1": "cp1252",
    "latin1": "cp1252",
    "iso-8859-8-i": "iso-8859-8",
    "windows-874": "cp874",
    "gb2312": "gb18030",
    "gbk": "gb18030",
    "ks_c_5601-1987": "cp949",
    "euc-kr": "cp949",
    "shift_jis": "cp932",
    "x-sjis": "cp932",
}
_UNICODE = frozenset({"ascii", "utf-8"})
_FORWARDED_TYPES = frozenset({"message/rfc822", "message/global"})  # global: with UTF-8 headers (RFC 6532)

_FOLDS = re.compile(r"\r?\n")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")
_SPACES = re.compile(r"\s+")
_MESSAGE_ID = re.compile(r"<[^<>\s]+>")
_CID_REFERENCE = re.compile(r"cid:([^\s\"'<>)]+)", re.IGNORECASE)
# Control characters and the bidirectional overrides that make "invoice\u202efdp.exe" look like a PDF.
_UNSAFE_IN_FILENAME = re.compile(r"[\x00-\x1f\x7f\u200e\u200f\u202a-\u202e\u2066-\u2069]")
_HEADER_NAME = re.compile(r"[A-Za-z][A-Za-z0-9-]*")
_AUTO_REPLY_SUBJECT = re.compile(
    r"(out of office|automatic reply|auto(matic)?[- ]?reply|auto|abwesenheitsnotiz|réponse automatique)\s*:",
    re.IGNORECASE,
)

# A tag's attributes: quoted values may hold ">", nothing may hold "<". So a match that starts at
# one "<" never scans past the next, which keeps the scan linear on broken markup.
_ATTRIBUTES = r"""([^<>"']*(?:(?:"[^"<]*"|'[^'<]*')[^<>"']*)*)"""
_IMG = re.compile(r"<img\b" + _ATTRIBUTES + ">", re.IGNORECASE)
_ATTRIBUTE = re.compile(r"([^\s\"'>/=]+)(?:\s*=\s*(\"[^\"]*\"|'[^']*'|[^\s\"'>]+))?")


class _RawHeaders(Compat32):
    """compat32 that hands header values over as they are (8-bit bytes surrogate-escaped), so that
    this module decodes them once, its own way, and writes them back as they came when a forwarded
    message is saved (re-folding trips on what the parser let through)."""

    def header_fetch_parse(self, name: str, value: str) -> str:
        return value

    def fold(self, name: str, value: str) -> str:
        return f"{name}: {value}{self.linesep}"

    def fold_binary(self, name: str, value: str) -> bytes:
        return self.fold(name, value).encode("utf-8", "surrogateescape")


_POLICY = _RawHeaders()


def parse_email(raw: bytes) -> IncomingMessage:
    """Parse one message. Never raises: bad input gives a message with `parse_error` set."""
    if not raw.strip():
        return _unparseable(raw, "The message is empty.")
    try:
        return _parse(raw)
    except Exception as error:  # one poisoned message must never stop a mailbox sync
        return _unparseable(raw, f"Could not parse the message ({type(error).__name__}: {error})"[:300])


def _unparseable(raw: bytes, reason: str) -> IncomingMessage:
    text = raw[:RAW_TEXT_LIMIT].decode("utf-8", errors="replace")
    return IncomingMessage(
        from_address="", subject=UNPARSEABLE_SUBJECT, body_text=_storable(text), raw=raw, parse_error=reason
    )


@dataclass
class _Parts:
    """What a walk over a MIME tree found, in document order."""

    text: list[str] = field(default_factory=list)
    html: list[str] = field(default_factory=list)
    attachments: list[IncomingAttachment] = field(default_factory=list)
    forwarded: list[Message] = field(default_factory=list)

    def body_text(self) -> str:
        if self.text:
            return "\n".join(self.text).strip("\n")
        return html_to_text("\n".join(self.html))


def _parse(raw: bytes) -> IncomingMessage:
    message = email.message_from_bytes(raw, policy=_POLICY)
    headers = _headers(message)
    if not any(_HEADER_NAME.fullmatch(name) for name in headers):
        return _unparseable(raw, "No mail headers found.")
    senders = _addresses(headers, "from") or _addresses(headers, "sender")
    parts = _Parts()
    _walk(message, parts)
    body_html = "\n".join(parts.html)
    body_text = parts.body_text()
    parts.attachments += [_forwarded_attachment(inner) for inner in parts.forwarded]
    if not body_text.strip():
        body_text = "\n\n".join(_forwarded_text(inner) for inner in parts.forwarded)
    referenced = {unquote(cid).lower() for cid in _CID_REFERENCE.findall(body_html)}
    for attachment in parts.attachments:
        attachment.is_inline = bool(attachment.content_id) and attachment.content_id.lower() in referenced
    sender = senders[0] if senders else {"name": "", "address": ""}
    subject = _subject(headers)
    return IncomingMessage(
        from_address=sender["address"],
        from_name=sender["name"],
        to=_addresses(headers, "to"),
        cc=_addresses(headers, "cc"),
        reply_to=_addresses(headers, "reply-to"),
        subject=subject,
        body_text=_storable(body_text),
        body_html=_storable(body_html),
        rfc_message_id=_first_id(headers, "message-id"),
        in_reply_to=_first_id(headers, "in-reply-to"),
        references=list(dict.fromkeys(_MESSAGE_ID.findall(_first(headers, "references")))),
        sent_at=_date(_first(headers, "date")),
        attachments=parts.attachments,
        raw=raw,
        is_auto_reply=_is_auto_reply(headers, subject, sender["address"], message.get_content_type()),
        is_bulk=_is_bulk(headers),
        has_read_trackers=detect_read_trackers(body_html),
    )


# Headers


def _headers(message: Message) -> dict[str, list[str]]:
    """Lower-cased name -> raw values, unfolded."""
    headers: dict[str, list[str]] = {}
    for name, value in message.items():
        headers.setdefault(name.lower(), []).append(_FOLDS.sub("", value))
    return headers


def _first(headers: dict[str, list[str]], name: str) -> str:
    values = headers.get(name)
    return values[0] if values else ""


def _header_text(value: str) -> str:
    """A header value as text: raw 8-bit bytes and RFC 2047 encoded words decoded."""
    value = value[:HEADER_TEXT_LIMIT]  # decode_header takes quadratic time on huge values
    if not value.isascii():
        # The parser keeps 8-bit header bytes as surrogate escapes; mail software writes them in UTF-8
        # (RFC 6532) or, in older mail, in a Windows code page.
        value = _decode_bytes(value.encode("utf-8", "surrogateescape"), None)
    if "=?" not in value:
        return value
    try:
        chunks = decode_header(value)
    except (HeaderParseError, ValueError):  # a broken base64 word: show the header as written
        return value
    return "".join(_header_chunk(chunk, charset) for chunk, charset in chunks)


def _header_chunk(chunk: bytes | str, charset: str | None) -> str:
    if isinstance(chunk, str):
        return chunk
    if charset is not None:
        return _decode_bytes(chunk, charset.split("*", 1)[0])  # RFC 2231 adds "*language"
    try:
        return chunk.decode("raw-unicode-escape")  # how decode_header encodes the plain words
    except UnicodeDecodeError:
        return chunk.decode("latin-1")


def _one_line(text: str) -> str:
    return _SPACES.sub(" ", _CONTROL.sub(" ", text)).strip()


def _subject(headers: dict[str, list[str]]) -> str:
    return _storable(_one_line(_header_text(_first(headers, "subject"))))


def _addresses(headers: dict[str, list[str]], name: str) -> list[dict[str, str]]:
    values = headers.get(name)
    if not values:
        return []
    # Split the addresses before decoding the names: a decoded name may hold commas and quotes.
    found = []
    for display, address in getaddresses(values):
        address = _storable(_one_line(_header_text(address))).lower()
        if address:
            found.append({"name": _storable(_one_line(_header_text(display))), "address": address})
    return found


def _first_id(headers: dict[str, list[str]], name: str) -> str:
    value = _first(headers, name)
    match = _MESSAGE_ID.search(value)
    if match:
        return match.group()
    # Some mailers leave out the angle brackets; threading compares the bracketed form.
    words = _storable(value).split()
    return f"<{words[0].strip('<>')}>" if words and words[0].strip("<>") else ""


def _date(value: str) -> datetime | None:
    if not value:
        return None
    try:
        sent_at = parsedate_to_datetime(value)
    except (ValueError, TypeError, OverflowError, IndexError):
        return None
    # "-0000" means the zone is unknown (RFC 5322); UTC is the honest reading.
    return sent_at if sent_at.tzinfo else sent_at.replace(tzinfo=UTC)


def _is_auto_reply(headers: dict[str, list[str]], subject: str, sender: str, content_type: str) -> bool:
    auto_submitted = _first(headers, "auto-submitted").split(";", 1)[0].strip().lower()
    suppress = set(re.split(r"[\s,]+", _first(headers, "x-auto-response-suppress").lower()))
    return (
        auto_submitted not in ("", "no")
        or "x-autoreply" in headers
        or "x-autorespond" in headers
        # Exchange marks its own out-of-office replies "All".
        or bool(suppress & {"oof", "autoreply", "all"})
        or _first(headers, "precedence").strip().lower() == "auto_reply"
        # Bounces: never answer them automatically either.
        or content_type == "multipart/report"
        or sender.startswith("mailer-daemon@")
        or bool(_AUTO_REPLY_SUBJECT.match(subject))
    )


def _is_bulk(headers: dict[str, list[str]]) -> bool:
    return (
        _first(headers, "precedence").strip().lower() in ("bulk", "list", "junk")
        or "list-unsubscribe" in headers
        or "list-id" in headers
        # Campaign tools; their transactional siblings (Mandrill, SendGrid, Mailgun) are not bulk.
        or any(name.startswith(("x-mailchimp", "x-mc-user", "x-campaign")) for name in headers)
    )


# Charsets


@lru_cache(maxsize=256)
def _codec(charset: str | None) -> str | None:
    """The Python codec for a declared charset name, or None when it is unknown or not for text."""
    if not charset:
        return None
    name = charset.strip().strip("\"'").lower()
    name = _CHARSET_ALIASES.get(name, name)
    for candidate in (name, name.removeprefix("x-"), name.replace("-", "")):
        try:
            info = codecs.lookup(candidate)
        except (LookupError, ValueError):
            continue
        # bytes-to-bytes codecs (base64, zlib, ...) are no charsets, and "undefined" fails on everything
        if getattr(info, "_is_text_encoding", True) and info.name != "undefined":
            return "utf-8" if info.name == "utf-8" else info.name
    return None


def _decode_bytes(data: bytes, charset: str | None) -> str:
    """Bytes as text in their declared charset, else UTF-8, else Windows-1252 (which is what mail
    labelled Latin-1 or mislabelled UTF-8 usually is); the last resort replaces what it cannot read."""
    codec = _codec(charset)
    if codec and codec not in _UNICODE:
        try:
            return data.decode(codec)
        except (UnicodeError, ValueError):
            pass
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    if codec and codec not in _UNICODE:
        return data.decode(codec, errors="replace")
    return data.decode("cp1252", errors="replace")


def _storable(text: str) -> str:
    """PostgreSQL text holds no NUL and no lone surrogates (some codecs, like UTF-7, make them)."""
    text = text.replace("\x00", "")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-8", errors="replace").decode("utf-8")
    return text


# Parts


def _walk(part: Message, found: _Parts) -> None:
    content_type = part.get_content_type()
    if part.is_multipart():
        children = [child for child in part.get_payload() if isinstance(child, Message)]
        if content_type in _FORWARDED_TYPES and children:
            found.forwarded.append(children[0])
            return
        for child in children:
            _walk(child, found)
    elif _is_body(part, content_type) or content_type.startswith("multipart/"):
        # (a multipart without a usable boundary arrives as one string: it is the text)
        text = _part_text(part)
        if text.strip():
            (found.html if content_type == "text/html" else found.text).append(text)
    else:
        attachment = _attachment(part, content_type)
        if attachment is not None:
            found.attachments.append(attachment)


def _is_body(part: Message, content_type: str) -> bool:
    return (
        content_type in ("text/plain", "text/html")
        and part.get_content_disposition() != "attachment"
        and not _filename(part)
    )


def _part_text(part: Message) -> str:
    content = part.get_payload(decode=True)
    if not isinstance(content, bytes):
        return ""
    return _decode_bytes(content, _charset(part)).replace("\r\n", "\n")


def _attachment(part: Message, content_type: str) -> IncomingAttachment | None:
    content = part.get_payload(decode=True)
    content = content if isinstance(content, bytes) else b""
    name = _filename(part)
    if not content and not name:
        return None  # an empty part, like the header blocks of a delivery-status report
    if content_type == "application/octet-stream" and name:
        content_type = mimetypes.guess_type(name, strict=False)[0] or content_type
    content_id = _header_text(part.get("content-id", "")).strip().strip("<>").strip()
    return IncomingAttachment(
        filename=safe_filename(name, content_type),
        content_type=content_type,
        content=content,
        content_id=_storable(content_id),
    )


def _param(part: Message, name: str, header: str = "content-type") -> str | tuple[str | None, str | None, str] | None:
    try:
        return part.get_param(name, None, header)
    except (TypeError, ValueError, IndexError):  # malformed RFC 2231 continuations trip the stdlib
        return None


def _charset(part: Message) -> str | None:
    value = _param(part, "charset")
    return value[2] if isinstance(value, tuple) else value


def _filename(part: Message) -> str:
    """Content-Disposition's filename, else Content-Type's name, RFC 2231 and RFC 2047 decoded.

    Not Message.get_filename(): it raises on raw 8-bit bytes in an RFC 2231 value."""
    value = _param(part, "filename", "content-disposition")
    if value is None:
        value = _param(part, "name")
    if isinstance(value, tuple):  # RFC 2231: (charset, language, the bytes as Latin-1 characters)
        charset, _, text = value
        return _decode_bytes(text.encode("latin-1", "surrogateescape"), charset).strip()
    return _header_text(value).strip() if value else ""


def _forwarded_attachment(inner: Message) -> IncomingAttachment:
    try:
        content = inner.as_bytes()
    except Exception:  # the stdlib trips on some malformed parameters; the outer raw message keeps it
        content = b""
    subject = _subject(_headers(inner)) or "Forwarded message"
    return IncomingAttachment(
        filename=safe_filename(f"{subject}.eml", "message/rfc822"), content_type="message/rfc822", content=content
    )


def _forwarded_text(inner: Message) -> str:
    headers = _headers(inner)
    lines = [FORWARDED_HEADER]
    for label, name in (("From", "from"), ("Date", "date"), ("Subject", "subject"), ("To", "to"), ("Cc", "cc")):
        value = _one_line(_header_text(_first(headers, name)))
        if value:
            lines.append(f"{label}: {value}")
    parts = _Parts()
    _walk(inner, parts)
    return "\n".join(lines) + "\n\n" + parts.body_text()


def safe_filename(name: str, content_type: str) -> str:
    """A display and download name: no folders, no control characters, never empty."""
    name = _UNSAFE_IN_FILENAME.sub("", name.replace("\\", "/").rsplit("/", 1)[-1])
    name = _storable(name).strip().strip(".").strip()
    if not name:
        extension = mimetypes.guess_extension(content_type, strict=False) or ".bin"
        return f"attachment{extension}"
    if len(name) > 200:
        stem, dot, extension = name.rpartition(".")
        keep = f"{dot}{extension}" if dot and len(extension) <= 16 else ""
        name = name[: 200 - len(keep)] + keep
    return name


# HTML


def detect_read_trackers(html_source: str) -> bool:
    """Whether the HTML loads a tracking image: remote and 1x1 (or 0), hidden, or from a known tracker."""
    return any(is_tracking_image(_attributes(img.group(1))) for img in _IMG.finditer(html_source))


def _attributes(source: str) -> dict[str, str]:
    attributes: dict[str, str] = {}
    for name, value in _ATTRIBUTE.findall(source):
        attributes.setdefault(name.lower(), html.unescape(value.strip("\"'")))
    return attributes
