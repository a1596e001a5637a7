"""What a transport hands over to delivery: a parsed external message. No Django models here, so
that the parser process can import it without setting up the apps."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass
class IncomingAttachment:
    filename: str
    content_type: str
    content: bytes
    content_id: str = ""
    is_inline: bool = False
    # Where the content was already stored (a transport may store it before delivery); the
    # content may then be left out, and stored_size says how large it was.
    stored_path: str = ""
    stored_size: int = 0


@dataclass
class IncomingMessage:
    """A parsed external message, as a channel transport hands it over."""

    from_address: str
    subject: str
    body_text: str
    from_name: str = ""
    to: list[dict[str, str]] = field(default_factory=list)
    cc: list[dict[str, str]] = field(default_factory=list)
    body_html: str = ""
    rfc_message_id: str = ""
    in_reply_to: str = ""
    references: list[str] = field(default_factory=list)
    sent_at: datetime | None = None
    # Where the original bytes were already stored (transports store them before parsing).
    raw_path: str = ""
    attachments: list[IncomingAttachment] = field(default_factory=list)
    reply_to: list[dict[str, str]] = field(default_factory=list)
    # The original bytes (emails): stored before anything else, downloadable, re-parsable.
    raw: bytes | None = None
    # Why the bytes could not be parsed; the message is then kept and shown raw.
    parse_error: str = ""
    is_auto_reply: bool = False
    is_bulk: bool = False
    has_read_trackers: bool = False
    # Non-email channels: the provider's id of this message (a second delivery with the same id
    # returns the stored message), and the keys that thread it (ThreadKey), e.g. an SMS pair key.
    external_id: str = ""
    thread_keys: list[str] = field(default_factory=list)
