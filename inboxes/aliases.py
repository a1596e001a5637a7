"""Aliases: the addresses a user may send from."""

from __future__ import annotations

from uuid import UUID

from django.db.models import Q, QuerySet

from inboxes.models import Account, AccountKind, Alias, AliasShare, User


def usable_aliases(user: User, organization_id: UUID) -> QuerySet[Alias]:
    """Aliases of the organization the user may send from: those of accounts they may use, and
    those shared with them ("Allow others to send emails from this alias")."""
    accounts = Account.objects.filter(organization_id=organization_id).usable_by(user).values("id")
    shared = AliasShare.objects.filter(user=user).values("alias_id")
    return Alias.objects.filter(organization_id=organization_id).filter(Q(account__in=accounts) | Q(id__in=shared))


def may_send_as(user: User, alias: Alias) -> bool:
    return usable_aliases(user, alias.organization_id).filter(id=alias.id).exists()


EMAIL_KINDS = frozenset({AccountKind.IMAP, AccountKind.GMAIL, AccountKind.OFFICE365})


def ensure_default_alias(account: Account) -> Alias | None:
    """Every email account has its own address as an alias (the seed: "at least one")."""
    if account.kind not in EMAIL_KINDS:
        return None
    alias, _ = Alias.objects.get_or_create(
        account=account,
        is_default=True,
        defaults={"organization_id": account.organization_id, "address": account.address, "name": account.display_name},
    )
    return alias
