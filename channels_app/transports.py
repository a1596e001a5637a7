"""Senders for the channels that are not SMTP: how the outbox dispatcher hands one message to an
HTTP provider (Twilio's REST API, a custom channel's webhook).

A channel module registers a sender for its account kinds with `@register(kind, ...)`; the app's
ready() imports those modules. A sender makes one call and answers what the provider said:
`Sent` on success, or raises `SendProblem` — `permanent` when retrying cannot help (the provider
refused the message or the credentials), `uncertain` when the request may have reached the provider
(a timeout after sending), which the dispatcher fails instead of retrying, so nothing goes twice.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from conversations.models import Attachment, DeliveryStatus, Message
from inboxes.models import Account


class SendProblem(Exception):
    """Why sending did not (surely) work. `permanent`: retrying will not help; `uncertain`: the
    data may have reached the provider; `connection_lost`: the session cannot go on."""

    def __init__(
        self, message: str, *, permanent: bool, uncertain: bool = False, connection_lost: bool = False
    ) -> None:
        super().__init__(message)
        self.message = message
        self.permanent = permanent
        self.uncertain = uncertain
        self.connection_lost = connection_lost or uncertain


@dataclass(frozen=True)
class Sent:
    """The provider took the message: its id for the message (status callbacks refer to it) and
    the delivery status it reported."""

    external_id: str = ""
    status: str = DeliveryStatus.SENT


Sender = Callable[[Account, Message, list[Attachment]], Sent]

_SENDERS: dict[str, Sender] = {}


def register(*kinds: str) -> Callable[[Sender], Sender]:
    def decorate(sender: Sender) -> Sender:
        for kind in kinds:
            _SENDERS[kind] = sender
        return sender

    return decorate


def sender_for(kind: str) -> Sender | None:
    """The registered sender of an account kind; None for email, which goes over SMTP."""
    return _SENDERS.get(kind)
