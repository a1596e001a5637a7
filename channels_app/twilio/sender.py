"""Sending SMS and WhatsApp messages through Twilio's REST API (the outbox dispatcher calls this).

One POST Messages.json per recipient: Twilio has no group texts (the seed: a separate message goes
to each recipient). Attachments go as MediaUrl: signed, expiring links of ours that Twilio fetches.
A WhatsApp template send goes as ContentSid + ContentVariables instead of a Body.
"""

from __future__ import annotations

import json

from django.conf import settings
from django.core import signing
from django.urls import reverse

from channels_app.transports import SendProblem, Sent, register
from channels_app.twilio.accounts import status_url
from channels_app.twilio.client import TwilioClient, TwilioError
from channels_app.twilio.inbound import WHATSAPP_PREFIX
from conversations import composer_rules
from conversations.models import Attachment, DeliveryStatus, Message
from inboxes.models import Account, AccountKind

MEDIA_SALT = "twilio-media"


def media_url(attachment: Attachment) -> str:
    """A link Twilio can fetch without logging in, valid for TWILIO_MEDIA_URL_MAX_AGE."""
    token = signing.dumps(str(attachment.id), salt=MEDIA_SALT)
    return settings.SITE_URL + reverse("twilio_media", args=[token])


def attachment_for_token(token: str) -> str | None:
    """The attachment id a media link names, or None if it is forged or expired."""
    try:
        return signing.loads(token, salt=MEDIA_SALT, max_age=settings.TWILIO_MEDIA_URL_MAX_AGE)
    except signing.BadSignature:
        return None


def _address(account: Account, number: str) -> str:
    return WHATSAPP_PREFIX + number if account.kind == AccountKind.WHATSAPP else number


@register(AccountKind.TWILIO_SMS, AccountKind.WHATSAPP)
def send_twilio(account: Account, message: Message, attachments: list[Attachment]) -> Sent:
    from channels_app.models import WhatsAppTemplateSend

    credentials = account.credentials
    client = TwilioClient(credentials["account_sid"], credentials["auth_token"])
    form: dict[str, object] = {
        "From": _address(account, account.address),
        "StatusCallback": f"{status_url(account)}?message={message.id}",
    }
    template = WhatsAppTemplateSend.objects.filter(message=message).first()
    if template is not None:
        form["ContentSid"] = template.content_sid
        form["ContentVariables"] = json.dumps(template.variables)
    else:
        form["Body"] = message.body_text.strip()
    files = [a for a in attachments if a.file and not a.is_inline]
    if files:
        form["MediaUrl"] = [media_url(a) for a in files]
    recipients = [p["address"] for p in [*message.to, *message.cc, *message.bcc]]
    sids: list[str] = []
    for number in recipients:
        try:
            answer = client.create_message({**form, "To": _address(account, number)})
        except TwilioError as error:
            done = f" It was sent to {', '.join(recipients[: len(sids)])}." if sids else ""
            if error.uncertain:
                raise SendProblem(f"{error}{done}", permanent=False, uncertain=True) from error
            if error.reachable and error.status < 500:
                raise SendProblem(f"{error}{done}", permanent=True) from error
            # A message already sent to earlier recipients must not go to them again.
            raise SendProblem(f"{error}{done}", permanent=bool(sids)) from error
        sids.append(answer["sid"])
    return Sent(external_id=sids[0] if sids else "", status=DeliveryStatus.QUEUED)


def _one_number(draft: object) -> composer_rules.ComposerRules:
    """A text goes to numbers, one message each: a To row only."""
    return composer_rules.ComposerRules(fields=("to",))


composer_rules.RULES[AccountKind.TWILIO_SMS] = composer_rules.RULES[AccountKind.WHATSAPP] = _one_number
