"""Custom channel accounts: creating one, changing its settings, and its sender aliases."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass

from django.db import transaction

from channels_app.models import CustomChannelConfig, CustomMessageType
from inboxes.models import Account, AccountAccess, AccountKind, Alias, Organization, Team, User

# Fields of CustomChannelConfig its settings page changes (not the message type: fixed at creation).
SETTINGS_FIELDS = (
    "allow_new_messages",
    "allow_replies",
    "allow_edit_recipients",
    "allow_recipient_id",
    "allow_recipient_name",
    "allow_recipient_username",
    "max_recipients",
    "webhook_url",
    "bubble_color",
)


# The Connected Accounts FAQ: at most 100 custom shared accounts per organization. Only shared
# custom channels count; personal ones and every other kind are unlimited.
MAX_SHARED_CHANNELS = 100


class ChannelLimitReached(Exception):
    """The organization already has MAX_SHARED_CHANNELS shared custom channels."""

    def __init__(self) -> None:
        super().__init__(
            f"An organization can have at most {MAX_SHARED_CHANNELS} shared custom channels. "
            "Delete one first, or create this one as a personal channel."
        )
        self.message = str(self)


@dataclass(frozen=True)
class ChannelIdentity:
    """A sender alias as the channel addresses people: {id, name, username}."""

    id: str = ""
    name: str = ""
    username: str = ""


@transaction.atomic
def do_create_custom_channel(
    organization: Organization,
    *,
    owner: User,
    name: str,
    message_type: str,
    team: Team | None = None,
    shared: bool = False,
    shared_with: Iterable[tuple[User, str]] = (),
) -> Account:
    """A new custom channel: personal, or shared with a team inbox or chosen people. Its address
    is its own id (the channel has none of its own). Raises ChannelLimitReached."""
    if shared:
        # The organization's row lock makes two creations at once count one after the other.
        Organization.objects.select_for_update().filter(id=organization.id).first()
        count = Account.objects.filter(organization=organization, kind=AccountKind.CUSTOM, is_shared=True).count()
        if count >= MAX_SHARED_CHANNELS:
            raise ChannelLimitReached()
    account_id = uuid.uuid4()
    account = Account.objects.create(
        id=account_id,
        organization=organization,
        kind=AccountKind.CUSTOM,
        description=name,
        display_name=name,
        address=str(account_id),
        owner=owner,
        is_shared=shared,
        team=team,
        delivery_mode="team_inbox" if team is not None else "inbox",
    )
    CustomChannelConfig.objects.create(
        organization=organization, account=account, message_type=CustomMessageType(message_type)
    )
    # Sending needs a From: the channel itself, as the webhook's from_field defaults say. An
    # Email-type channel is receive-only (answered from email accounts): nothing to send from.
    if message_type != CustomMessageType.EMAIL:
        Alias.objects.create(
            organization=organization, account=account, address=name, name=name, is_default=True, channel_id=""
        )
    for user, new_messages in shared_with:
        AccountAccess.objects.create(organization=organization, account=account, user=user, new_messages=new_messages)
    return account


@transaction.atomic
def do_update_custom_channel(config: CustomChannelConfig, *, name: str, secret: str | None, **values: object) -> None:
    """Save the settings page. `secret` None keeps the stored one; "" removes it."""
    for field, value in values.items():
        if field not in SETTINGS_FIELDS:
            raise TypeError(f"{field} cannot be changed")
        setattr(config, field, value)
    config.save(update_fields=list(values))
    account = config.account
    account.description = account.display_name = name
    fields = ["description", "display_name"]
    if secret is not None:
        account.credentials = {**account.credentials, "signature_secret": secret}
        fields.append("encrypted_credentials")
    account.save(update_fields=fields)


def signature_secret(account: Account) -> str:
    return str(account.credentials.get("signature_secret") or "")


@transaction.atomic
def do_add_channel_alias(account: Account, identity: ChannelIdentity) -> Alias:
    return Alias.objects.create(
        organization_id=account.organization_id,
        account=account,
        address=identity.username or identity.id,
        name=identity.name,
        channel_id=identity.id,
    )


def alias_identity(alias: Alias) -> dict[str, str | None]:
    """The alias as the webhook's from_field: {id, name, username} (id may be null); name and
    username default to the account's name."""
    username = alias.address if alias.address != alias.channel_id or not alias.channel_id else ""
    default = alias.account.display_name if alias.account_id else ""
    return {"id": alias.channel_id or None, "name": alias.name or default, "username": username or default}
