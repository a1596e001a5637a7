"""Real RFC 5322 messages for the IMAP tests and the sync benchmark, built with the stdlib.

`make_email(...)` builds one message (text, optional HTML alternative, inline images, attachments,
any charset) and returns its bytes with CRLF line endings, ready to APPEND.

`varied_corpus(n, seed)` yields n varied messages, the same bytes for the same seed: sizes from
about 1 KB to about 200 KB, attachments, iso-8859-1 / windows-1252 / utf-8 bodies and headers with
non-ASCII text, HTML, replies threading to earlier messages, and a few messages with a wrong
charset label, as mail from the wild has.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import mimetypes
import random
from collections.abc import Iterator, Sequence
from email import policy
from email.header import Header
from email.message import Message
from email.mime.multipart import MIMEMultipart
from email.mime.nonmultipart import MIMENonMultipart
from email.utils import format_datetime, formataddr, make_msgid

# Attachments: (filename, content) or (filename, content, "type/subtype").
Attachment = tuple[str, bytes] | tuple[str, bytes, str]
# Inline images referenced from the HTML as cid:<content_id>: (content_id, content, "image/png").
InlineImage = tuple[str, bytes, str]

_POLICY = policy.compat32.clone(linesep="\r\n")
_CTES = ("7bit", "8bit", "quoted-printable", "base64")


def make_email(
    *,
    subject: str,
    sender: str | tuple[str, str],
    to: str | tuple[str, str] | Sequence[str | tuple[str, str]],
    body: str,
    html: str | None = None,
    message_id: str | None = None,
    in_reply_to: str | None = None,
    references: str | Sequence[str] | None = None,
    attachments: Sequence[Attachment] = (),
    charset: str = "utf-8",
    date: dt.datetime | None = None,
    cc: Sequence[str | tuple[str, str]] = (),
    headers: dict[str, str] | None = None,
    inline_images: Sequence[InlineImage] = (),
    transfer_encoding: str | None = None,
) -> bytes:
    """One message as bytes. Addresses are "a@example.com" or ("Display Name", "a@example.com").

    charset applies to the text and HTML parts (and to non-ASCII header text when it can encode
    it, else UTF-8 is used there, RFC 2047-encoded). transfer_encoding ("7bit", "8bit",
    "quoted-printable" or "base64") overrides the default: 7bit for ASCII text, else
    quoted-printable. headers adds or replaces any other header.

    Built with the email package's compat32 classes: several times faster than EmailMessage,
    which matters for the benchmark's 20,000 messages."""
    if transfer_encoding is not None and transfer_encoding not in _CTES:
        raise ValueError(f"Unknown transfer encoding {transfer_encoding!r}")
    # Encoded bodies are spliced in after the email package has written the structure: its
    # generator writes a body line by line, which is most of the time spent on a large message.
    bodies: dict[str, bytes] = {}
    text_part = _text_part(body, "plain", charset, transfer_encoding, bodies)
    content: Message = text_part
    if html is not None:
        html_part: Message = _text_part(html, "html", charset, transfer_encoding, bodies)
        if inline_images:
            related = MIMEMultipart("related", _subparts=[html_part])
            for content_id, data, mimetype in inline_images:
                image = _binary_part(data, mimetype, bodies)
                image["Content-ID"] = f"<{content_id.strip('<>')}>"
                image["Content-Disposition"] = "inline"
                related.attach(image)
            html_part = related
        content = MIMEMultipart("alternative", _subparts=[text_part, html_part])
    elif inline_images:
        raise ValueError("Inline images need an HTML body that references them")
    if attachments:
        parts = [content]
        for attachment in attachments:
            filename, data = attachment[0], attachment[1]
            mimetype = attachment[2] if len(attachment) == 3 else None  # type: ignore[misc]
            mimetype = mimetype or mimetypes.guess_type(filename)[0] or "application/octet-stream"
            part = _binary_part(data, mimetype, bodies)
            if filename.isascii():
                part.add_header("Content-Disposition", "attachment", filename=filename)
            else:
                part.add_header("Content-Disposition", "attachment", filename=("utf-8", "", filename))
            parts.append(part)
        content = MIMEMultipart("mixed", _subparts=parts)

    msg = content
    header_charset = charset if _encodes(subject, charset) else "utf-8"
    top = [
        ("Subject", _header_text(subject, header_charset, "Subject")),
        ("From", _address(sender, charset)),
        ("To", ", ".join(_address(a, charset) for a in _as_list(to))),
    ]
    if cc:
        top.append(("Cc", ", ".join(_address(a, charset) for a in cc)))
    top.append(("Date", format_datetime(date or dt.datetime.now(dt.UTC))))
    top.append(("Message-ID", message_id or make_msgid(domain=_domain(sender))))
    if in_reply_to:
        top.append(("In-Reply-To", in_reply_to))
    if references:
        top.append(("References", references if isinstance(references, str) else " ".join(references)))
    # The Content-Type of the body part goes below the message's own headers.
    own = msg._headers
    msg._headers = []
    for name, value in top:
        msg[name] = value
    msg._headers.extend(own)
    for name, value in (headers or {}).items():
        del msg[name]
        msg[name] = value
    raw = msg.as_bytes(policy=_POLICY)
    for token, encoded in bodies.items():
        raw = raw.replace(token.encode(), encoded, 1)
    return raw


def _text_part(text: str, subtype: str, charset: str, cte: str | None, bodies: dict[str, bytes]) -> Message:
    data = text.replace("\r\n", "\n").encode(charset)
    if cte is None:
        cte = "7bit" if data.isascii() else "quoted-printable"
    if cte in ("7bit", "8bit"):
        encoded = data
    elif cte == "quoted-printable":
        encoded = binascii.b2a_qp(data, istext=True)
    else:
        encoded = base64.encodebytes(data)
    part = MIMENonMultipart("text", subtype, charset=charset)
    _set_body(part, cte, encoded, bodies)
    return part


def _binary_part(data: bytes, mimetype: str, bodies: dict[str, bytes]) -> Message:
    maintype, subtype = mimetype.split("/", 1)
    part = MIMENonMultipart(maintype, subtype)
    _set_body(part, "base64", base64.encodebytes(data), bodies)
    return part


def _set_body(part: Message, cte: str, encoded: bytes, bodies: dict[str, bytes]) -> None:
    del part["MIME-Version"]  # only the message itself has one
    part["Content-Transfer-Encoding"] = cte
    token = f"=_body_{len(bodies)}_{id(bodies):x}_="
    bodies[token] = encoded.replace(b"\n", b"\r\n")
    part.set_payload(token)


def _encodes(text: str, charset: str) -> bool:
    try:
        text.encode(charset)
    except UnicodeEncodeError:
        return False
    return True


def _header_text(text: str, charset: str, name: str) -> str:
    if text.isascii():
        return text
    return Header(text, charset, header_name=name).encode()


def _as_list(value: object) -> list:
    if isinstance(value, str | tuple):
        return [value]
    return list(value)  # type: ignore[call-overload]


def _address(value: str | tuple[str, str], charset: str) -> str:
    if isinstance(value, tuple):
        name, addr = value
        return formataddr((name, addr), charset=charset if _encodes(name, charset) else "utf-8")
    return value


def _domain(sender: str | tuple[str, str]) -> str:
    addr = sender[1] if isinstance(sender, tuple) else sender
    return addr.rpartition("@")[2].strip("> ") or "example.com"


# The corpus --------------------------------------------------------------------------------

_VOCABULARY = (
    "the a of to and in for on with as at by from about meeting invoice order shipping delivery "
    "update question answer thanks please could would support account password reset team project "
    "deadline review draft attached report quarterly customer refund ticket issue status tomorrow "
    "monday friday schedule call follow up regarding contract pricing proposal feedback"
)
_WORDS = _VOCABULARY.split()
# Words each charset can encode: windows-1252 adds what latin-1 lacks (euro sign, curly quotes).
_CHARSET_WORDS = {
    "us-ascii": [],
    "iso-8859-1": ["café", "naïve", "Müller", "señor", "garçon", "Größe", "½", "déjà", "Ærø", "£"],
    "windows-1252": ["€100", "“quoted”", "it’s", "café", "Straße", "—", "…", "Œuvre", "™", "naïve"],
    "utf-8": ["日本語", "Привет", "Ελληνικά", "🎉", "😀", "中文", "עברית", "العربية", "naïve", "€", "Zürich"],
}
_CHARSETS = ["utf-8"] * 50 + ["us-ascii"] * 20 + ["iso-8859-1"] * 15 + ["windows-1252"] * 15
_NAMES = [
    ("Alice Martin", "alice@example.com"),
    ("Bob Smith", "bob@example.org"),
    ("José Núñez", "jose@example.es"),
    ("Zoë Ångström", "zoe@example.se"),
    ("山田太郎", "yamada@example.jp"),
    ("Support", "support@shop.example"),
    ("Олег Петров", "oleg@example.ru"),
    ("Billing Team", "billing@saas.example"),
    ("Chloé Dubois", "chloe@example.fr"),
    ("Noreply", "noreply@notifications.example"),
]
_ATTACHMENT_KINDS = [
    ("report.pdf", "application/pdf"),
    ("photo.jpg", "image/jpeg"),
    ("diagram.png", "image/png"),
    ("data.csv", "text/csv"),
    ("archive.zip", "application/zip"),
    ("Résumé été.pdf", "application/pdf"),
]
_PNG_1PX = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="
)


def varied_corpus(n: int, seed: int = 0, *, domain: str = "corpus.example") -> Iterator[bytes]:
    """n varied messages, deterministic for a seed. About 30% are replies to earlier messages
    (In-Reply-To and References), 25% carry HTML (some with an inline cid: image), 15%
    attachments (the messages of 40 to 200 KB), 1% a wrong charset label."""
    rng = random.Random(seed)
    pools = {charset: [_sentence(rng, charset) for _ in range(400)] for charset in _CHARSET_WORDS}
    start = dt.datetime(2024, 1, 1, 8, 0, tzinfo=dt.UTC)
    threads: list[tuple[str, list[str]]] = []  # (subject, references ending with the newest id)
    for index in range(n):
        charset = rng.choice(_CHARSETS)
        sender, recipient = rng.sample(_NAMES, 2)
        message_id = f"<{seed}.{index}.{rng.getrandbits(48):012x}@{domain}>"
        date = start + dt.timedelta(minutes=7 * index + rng.randrange(7))
        in_reply_to = references = None
        if threads and rng.random() < 0.3:
            thread = rng.randrange(len(threads))
            root_subject, chain = threads[thread]
            subject = f"Re: {root_subject}"
            in_reply_to, references = chain[-1], chain[-10:]
            threads[thread] = (root_subject, [*chain, message_id])
        else:
            subject = rng.choice(pools[charset]).rstrip(".")[:70]
            threads.append((subject, [message_id]))
            if len(threads) > 2000:
                threads.pop(0)

        attachments: list[Attachment] = []
        if rng.random() < 0.15:
            budget = rng.randint(30_000, 140_000)  # raw bytes; base64 makes them a third larger
            count = rng.choice((1, 1, 1, 2, 3))
            for _ in range(count):
                filename, mimetype = rng.choice(_ATTACHMENT_KINDS)
                length = budget // count
                if mimetype.startswith("text/"):
                    content = "\n".join(rng.choices(pools["us-ascii"], k=length // 60)).encode()
                else:
                    content = rng.randbytes(length)
                attachments.append((filename, content, mimetype))
        roll = rng.random()
        text_size = rng.randint(600, 4_000) if roll < 0.6 else rng.randint(4_000, 15_000)
        if roll > 0.9:
            text_size = rng.randint(15_000, 40_000)
        body = _paragraphs(rng, pools[charset], text_size)
        html = None
        inline: list[InlineImage] = []
        if rng.random() < 0.25:
            paragraphs = "".join(f"<p>{_escape(p)}</p>\n" for p in body.split("\n\n"))
            if rng.random() < 0.2:
                inline.append((f"logo{index}@{domain}", _PNG_1PX, "image/png"))
                paragraphs = f'<img src="cid:logo{index}@{domain}" alt="logo">\n' + paragraphs
            html = f"<!DOCTYPE html><html><body>\n{paragraphs}</body></html>"
        # Quoted-printable is encoded in pure Python: keep it to the smaller bodies.
        cte = None
        if charset != "us-ascii":
            cte = rng.choice(("8bit", "base64", "quoted-printable" if text_size < 8_000 else "8bit"))
        mislabelled = charset == "windows-1252" and rng.random() < 0.07
        if mislabelled:
            cte = "8bit"
        raw = make_email(
            subject=subject,
            sender=sender,
            to=[recipient],
            body=body,
            html=html,
            message_id=message_id,
            in_reply_to=in_reply_to,
            references=references,
            attachments=attachments,
            charset=charset,
            date=date,
            inline_images=inline,
            transfer_encoding=cte,
        )
        raw = _fixed_boundaries(raw, rng)
        if mislabelled:
            # windows-1252 bytes declared as iso-8859-1, as many old clients send them.
            raw = raw.replace(b'charset="windows-1252"', b'charset="iso-8859-1"')
        yield raw


def _sentence(rng: random.Random, charset: str) -> str:
    special = _CHARSET_WORDS[charset]
    chosen = [
        rng.choice(special) if special and rng.random() < 0.12 else rng.choice(_WORDS)
        for _ in range(rng.randint(4, 14))
    ]
    return (" ".join(chosen).capitalize() + ".")[:76]


def _paragraphs(rng: random.Random, pool: list[str], length: int) -> str:
    """Lines of at most 76 characters, as mail clients wrap them, in paragraphs of 4."""
    lines = rng.choices(pool, k=max(1, length // 60))
    paragraphs = ["\n".join(lines[i : i + 4]) for i in range(0, len(lines), 4)]
    return "\n\n".join(paragraphs)


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _fixed_boundaries(raw: bytes, rng: random.Random) -> bytes:
    """The email package draws MIME boundaries from the global random generator: replace them
    with ones from the corpus's own generator, so a seed always gives the same bytes."""
    marker = b'boundary="'
    start = 0
    replacements = []
    while (found := raw.find(marker, start)) != -1:
        begin = found + len(marker)
        end = raw.index(b'"', begin)
        replacements.append(raw[begin:end])
        start = end
    for old in replacements:
        raw = raw.replace(old, b"===============%019d==" % rng.getrandbits(60))
    return raw
