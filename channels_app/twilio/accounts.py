"""Connecting a Twilio number (SMS, or WhatsApp by Twilio) as an account."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django.urls import reverse

from channels_app.twilio.client import PhoneNumber, TwilioClient, TwilioError
from inboxes.aliases import ensure_default_alias
from inboxes.models import Account, AccountAccess, AccountKind, AccountStatus, DeliveryMode, Organization, Team, User

KIND_NAMES: dict[str, str] = {AccountKind.TWILIO_SMS: "SMS by Twilio", AccountKind.WHATSAPP: "WhatsApp by Twilio"}


class ConnectProblem(Exception):
    """Twilio refused the credentials or the number; `field` names the form field at fault."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


@dataclass(frozen=True)
class TwilioDetails:
    kind: str
    account_sid: str
    auth_token: str
    phone_number: str  # E.164
    display_name: str = ""


def inbound_url(account: Account) -> str:
    return settings.SITE_URL + reverse("twilio_inbound", args=[account.id])


def status_url(account: Account) -> str:
    return settings.SITE_URL + reverse("twilio_status", args=[account.id])


def _verify(details: TwilioDetails) -> tuple[TwilioClient, PhoneNumber]:
    """Twilio knows the credentials and the number is the account's; raises ConnectProblem."""
    client = TwilioClient(details.account_sid, details.auth_token)
    try:
        number = client.find_number(details.phone_number)
    except TwilioError as error:
        if error.status in (401, 403, 404):
            raise ConnectProblem(
                "Twilio did not accept this Account SID and Auth Token. Copy both from the Twilio Console.",
                field="auth_token",
            ) from error
        raise ConnectProblem(f"Twilio could not be asked: {error}") from error
    if number is None:
        raise ConnectProblem(
            f"{details.phone_number} is not a phone number of this Twilio account.", field="phone_number"
        )
    return client, number


@transaction.atomic
def do_connect_twilio_account(
    organization: Organization,
    details: TwilioDetails,
    *,
    owner: User,
    team: Team | None = None,
    shared: bool = False,
    shared_with: Iterable[tuple[User, str]] = (),
) -> tuple[Account, bool]:
    """Check the credentials and number with Twilio, store the account (the Auth Token encrypted)
    with its default alias, and point the number's incoming messages at us. Connecting the same
    number again refreshes its credentials and keeps its conversations."""
    client, number = _verify(details)
    account = Account.objects.filter(organization=organization, kind=details.kind, address=details.phone_number).first()
    created = account is None
    if account is None:
        account = Account(
            organization=organization,
            kind=details.kind,
            address=details.phone_number,
            owner=owner,
            is_shared=shared,
            team=team,
            delivery_mode=DeliveryMode.TEAM_INBOX if team is not None else DeliveryMode.INBOX,
            description=details.display_name or f"{KIND_NAMES[details.kind]} {details.phone_number}",
        )
    account.display_name = details.display_name or account.display_name
    account.credentials = {"account_sid": details.account_sid, "auth_token": details.auth_token}
    account.status, account.status_reason = AccountStatus.CONNECTED, ""
    account.save()
    if created:
        for user, new_messages in shared_with:
            AccountAccess.objects.create(
                organization=organization, account=account, user=user, new_messages=new_messages
            )
    ensure_default_alias(account)
    try:
        client.set_sms_url(number.sid, inbound_url(account))
    except TwilioError as error:
        raise ConnectProblem(f"Twilio did not let us set the number's incoming webhook: {error}") from error
    return account, created
