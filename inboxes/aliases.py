"""Aliases: the addresses a user may send from."""

from __future__ import annotations

from collections.abc import Iterable
from uuid import UUID

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q, QuerySet

from inboxes.models import Account, AccountKind, Alias, AliasShare, AliasUserSetting, Membership, Signature, User


def usable_aliases(user: User, organization_id: UUID) -> QuerySet[Alias]:
    """Aliases of the organization the user may send from: those of accounts they may use, and
    those shared with them ("Allow others to send emails from this alias")."""
    accounts = Account.objects.filter(organization_id=organization_id).usable_by(user).values("id")
    shared = AliasShare.objects.filter(user=user).values("alias_id")
    return Alias.objects.filter(organization_id=organization_id).filter(Q(account__in=accounts) | Q(id__in=shared))


def may_send_as(user: User, alias: Alias) -> bool:
    return usable_aliases(user, alias.organization_id).filter(id=alias.id).exists()


EMAIL_KINDS = frozenset({AccountKind.IMAP, AccountKind.GMAIL, AccountKind.OFFICE365})
# Phone numbers are aliases too (the From of an SMS), but never the From of an email.
PHONE_ALIAS_KINDS = frozenset({AccountKind.TWILIO_SMS, AccountKind.WHATSAPP})


def ensure_default_alias(account: Account) -> Alias | None:
    """Every email account has its own address as an alias (the seed: "at least one"); so does
    every phone number."""
    if account.kind not in EMAIL_KINDS | PHONE_ALIAS_KINDS:
        return None
    alias, _ = Alias.objects.get_or_create(
        account=account,
        is_default=True,
        defaults={"organization_id": account.organization_id, "address": account.address, "name": account.display_name},
    )
    return alias


def _domain(address: str) -> str:
    return address.rpartition("@")[2].lower()


def _default_sender(user: User, organization_id: UUID) -> UUID | None:
    membership = Membership.objects.filter(user=user, organization_id=organization_id).only("default_sender").first()
    return membership.default_sender_id if membership is not None else None


def choose_alias(
    user: User, organization_id: UUID, *, replying_to_addresses: list[str] | None, kinds: frozenset[str] | None = None
) -> Alias | None:
    """The From a new draft gets (the seed's "match the best alias").

    A reply: (a) an alias the user may use whose address is one the message was sent to, (b) else
    one of the same domain as such an address, (c) else the Default sender, else the first alias.
    Aliases marked "Never automatically select" are skipped by (a), (b) and the last fallback; with
    "Always send replies from selected address above" replies go straight to (c). A new email gets
    (c). Among several matches, the Default sender, then the user's own accounts, then an account's
    own address win (the seed's Rafael answers sales@ from rafael@, not from the shared support@).
    `kinds` limits the choice to accounts of those kinds; without it, to email accounts (not phone
    numbers, not custom channels)."""
    aliases = list(usable_aliases(user, organization_id).select_related("account"))
    if kinds is not None:
        aliases = [alias for alias in aliases if alias.account.kind in kinds]
    else:
        aliases = [alias for alias in aliases if alias.account.kind in EMAIL_KINDS]
    default_id = _default_sender(user, organization_id)
    default = next((alias for alias in aliases if alias.id == default_id), None)

    def best(candidates: list[Alias]) -> Alias | None:
        candidates = [alias for alias in candidates if not alias.never_auto_select]
        if not candidates:
            return None
        return min(
            candidates,
            key=lambda alias: (alias.id != default_id, alias.account.owner_id != user.id, not alias.is_default),
        )

    if replying_to_addresses and not user.always_reply_from_default_sender:
        wanted = {address.strip().lower() for address in replying_to_addresses if address}
        exact = best([alias for alias in aliases if alias.address.lower() in wanted])
        if exact is not None:
            return exact
        domains = {_domain(address) for address in wanted}
        same_domain = best([alias for alias in aliases if _domain(alias.address) in domains])
        if same_domain is not None:
            return same_domain
    if default is not None:
        return default
    return next((alias for alias in aliases if not alias.never_auto_select), None)


# --- Settings › Accounts › Aliases ----------------------------------------------------------------


def signature_choices(user: User, organization_id: UUID) -> QuerySet[Signature]:
    """Signatures that may be linked for `user`: their personal ones and the organization's."""
    return Signature.objects.filter(organization_id=organization_id).filter(Q(owner=user) | Q(owner__isnull=True))


@transaction.atomic
def do_save_alias(
    account: Account,
    *,
    alias: Alias | None,
    address: str,
    name: str,
    description: str,
    never_auto_select: bool,
    signature: Signature | None,
    shared_with: Iterable[User],
) -> Alias:
    """Create (alias None) or change an alias with who it is shared with. The default alias keeps
    the account's own address."""
    if alias is None:
        alias = Alias(organization_id=account.organization_id, account=account)
    if not alias.is_default:
        alias.address = address.strip().lower()
    alias.name = name
    alias.description = description
    alias.never_auto_select = never_auto_select
    alias.signature = signature
    alias.save()
    users = {user.id for user in shared_with} - {account.owner_id}
    AliasShare.objects.filter(alias=alias).exclude(user_id__in=users).delete()
    existing = set(AliasShare.objects.filter(alias=alias).values_list("user_id", flat=True))
    AliasShare.objects.bulk_create(
        AliasShare(organization_id=alias.organization_id, alias=alias, user_id=user_id) for user_id in users - existing
    )
    return alias


@transaction.atomic
def do_delete_alias(alias: Alias) -> None:
    """Remove an alias; an account always keeps its own address (its default alias)."""
    if alias.is_default:
        raise ValidationError("The default alias is the account's own address and cannot be deleted.")
    Membership.objects.filter(default_sender=alias).update(default_sender=None)
    alias.delete()


@transaction.atomic
def do_set_own_alias_setting(alias: Alias, *, user: User, name: str, signature: Signature | None) -> None:
    """The user's own name and signature on an alias (the owner's and each delegated user's)."""
    AliasUserSetting.objects.update_or_create(
        alias=alias,
        user=user,
        defaults={"organization_id": alias.organization_id, "name": name, "signature": signature},
    )
