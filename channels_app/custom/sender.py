"""Sending from a custom channel: the message goes to the channel's webhook URL as JSON
(rest-api.md §5.3), signed over the exact bytes sent when the channel has a signature secret.

2xx is sent; 4xx is the receiver refusing it (permanent, with its status and the start of its
answer); 5xx and connection failures are retried by the outbox; a timeout once the request went
out is uncertain (the receiver may have it), which the outbox fails rather than sending twice.
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import json
import urllib.error
import urllib.request
from datetime import datetime
from typing import Any

from channels_app.custom.accounts import alias_identity, signature_secret
from channels_app.models import CustomChannelConfig, CustomMessageType
from channels_app.transports import SendProblem, Sent, register
from conversations.models import Attachment, DeliveryStatus, Message
from inboxes.models import Account, AccountKind, Alias

# How long the receiver may take to answer; read at each send, so a test can shorten it.
TIMEOUT_SECONDS = 15
USER_AGENT = "Missive custom channel webhook"
EXCERPT = 200


def signature(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def _epoch(value: datetime | None) -> int | None:
    return int(value.timestamp()) if value else None


def _party(person: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": person.get("id") or None,
        "name": person.get("name") or None,
        "username": person.get("username") or None,
    }


def message_json(message: Message, config: CustomChannelConfig, attachments: list[Attachment]) -> dict[str, Any]:
    # §5.3's shape, which differs from §3.2: the sender is the channel alias's {id, name, username}
    # and the author the person who wrote it.
    alias = (
        Alias.objects.filter(account=message.account, address=message.from_address).select_related("account").first()
    )
    sender = (
        alias_identity(alias) if alias else {"id": None, "name": message.from_name, "username": message.from_address}
    )
    author = message.author
    text = config.message_type == CustomMessageType.TEXT
    return {
        "id": str(message.id),
        "type": f"custom_{config.message_type}",
        "preview": " ".join(message.body_text.split())[:200],
        "body": message.body_text if text else message.body_html,
        "delivered_at": _epoch(message.sent_at),
        "updated_at": _epoch(message.created_at),
        "created_at": _epoch(message.created_at),
        "references": message.references.split(),
        "external_id": message.external_id or None,
        "from_field": sender,
        "to_fields": [_party(person) for person in message.to],
        "attachments": [
            {
                "id": str(a.id),
                "filename": a.filename,
                "media_type": a.content_type.partition("/")[0],
                "sub_type": a.content_type.partition("/")[2],
                "size": a.size,
            }
            for a in attachments
        ],
        "author": {"id": str(author.id), "email": author.email, "name": author.display_name, "avatar_url": None}
        if author
        else None,
    }


def payload(message: Message, config: CustomChannelConfig, attachments: list[Attachment]) -> bytes:
    # Imported here: the API modules import the transports, which the app loads at start-up.
    from channels_app.api.serializers import conversation_json

    body = {
        "message": message_json(message, config, attachments),
        # As its sender sees it (the channel's owner for a message no person wrote).
        "conversation": conversation_json(message.conversation, message.author or config.account.owner),
    }
    return json.dumps(body, separators=(",", ":")).encode()


def _opener() -> urllib.request.OpenerDirector:
    # The rules' guard for user-given URLs: http(s) only, no redirects, no private addresses
    # unless WEBHOOKS_ALLOW_PRIVATE. Imported late: rules load after the transports.
    from rules.webhooks import public_opener

    return public_opener()


@register(AccountKind.CUSTOM)
def send_custom(account: Account, message: Message, attachments: list[Attachment]) -> Sent:
    config = CustomChannelConfig.objects.filter(account=account).first()
    if config is None or not config.sends:
        raise SendProblem("This channel receives messages only; it cannot send.", permanent=True)
    url = config.webhook_url
    if not url.lower().startswith(("http://", "https://")):
        raise SendProblem("The channel has no outgoing webhook URL. Set one in its settings.", permanent=True)
    body = payload(message, config, attachments)
    headers = {"Content-Type": "application/json", "User-Agent": USER_AGENT}
    secret = signature_secret(account)
    if secret:
        headers["X-Hook-Signature"] = headers["X-Missive-Signature"] = signature(secret, body)
    request = urllib.request.Request(url, data=body, method="POST", headers=headers)  # noqa: S310 - http(s) only
    try:
        with _opener().open(request, timeout=TIMEOUT_SECONDS) as response:
            status = response.status
    except urllib.error.HTTPError as error:
        excerpt = error.read(EXCERPT).decode("utf-8", "replace").strip()
        reason = f"The channel's webhook answered HTTP {error.code}" + (f": {excerpt}" if excerpt else ".")
        raise SendProblem(reason, permanent=400 <= error.code < 500) from None
    except urllib.error.URLError as error:  # before the request went out: nothing reached it
        raise SendProblem(f"Could not reach the channel's webhook: {error.reason}", permanent=False) from None
    except (TimeoutError, OSError, http.client.HTTPException) as error:
        raise SendProblem(f"The channel's webhook did not answer: {error}", permanent=False, uncertain=True) from None
    if not 200 <= status < 300:
        raise SendProblem(f"The channel's webhook answered HTTP {status}.", permanent=400 <= status < 500)
    return Sent(external_id="", status=DeliveryStatus.SENT)
