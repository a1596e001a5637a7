"""State changes to organizations, people, teams and accounts. One transaction each; mail and
other side effects after commit."""

from __future__ import annotations

from collections.abc import Iterable
from uuid import UUID

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from inboxes.aliases import ensure_default_alias
from inboxes.models import (
    Account,
    AccountAccess,
    AccountKind,
    DeliveryMode,
    Invitation,
    Membership,
    NewMessages,
    Organization,
    Role,
    Team,
    TeamMembership,
    TeamRole,
    User,
)
from inboxes.signals import member_removed, organization_created, team_members_changed, team_updated


@transaction.atomic
def do_create_organization(*, name: str, owner: User) -> Organization:
    organization = Organization.objects.create(name=name)
    Membership.objects.create(organization=organization, user=owner, role=Role.OWNER)
    organization_created.send(Organization, organization=organization, owner=owner)
    return organization


@transaction.atomic
def do_update_organization(organization: Organization, *, name: str, color: str) -> None:
    organization.name = name
    organization.color = color
    organization.save(update_fields=["name", "color"])


@transaction.atomic
def do_create_team(
    organization: Organization, *, name: str, emoji: str = "", color: str = "#2563eb", has_inbox: bool = True
) -> Team:
    return Team.objects.create(organization=organization, name=name, emoji=emoji, color=color, has_inbox=has_inbox)


@transaction.atomic
def do_update_team(
    team: Team,
    *,
    name: str,
    emoji: str,
    color: str,
    has_inbox: bool,
    has_chat_room: bool,
    show_team_space: bool,
    mention_adds_observers: bool,
    assign_on_reply: bool,
    reply_to_assigned_goes_to_team_inbox: bool,
    inactivity_period: int | None,
) -> None:
    """Change a team's basics, its sidebar display, its mention and assignment options and its
    inactivity period."""
    team.name, team.emoji, team.color = name, emoji, color
    team.has_inbox, team.has_chat_room = has_inbox, has_chat_room
    team.show_team_space = show_team_space
    team.mention_adds_observers = mention_adds_observers
    team.assign_on_reply = assign_on_reply
    team.reply_to_assigned_goes_to_team_inbox = reply_to_assigned_goes_to_team_inbox
    team.inactivity_period = inactivity_period
    team.save()
    team_updated.send(Team, team=team)


@transaction.atomic
def do_set_team_members(team: Team, *, active: Iterable[UUID], observers: Iterable[UUID]) -> None:
    """Replace the team's members. Everyone listed must belong to the team's organization."""
    roles = {user_id: TeamRole.ACTIVE for user_id in active}
    roles.update({user_id: TeamRole.OBSERVER for user_id in observers if user_id not in roles})
    allowed = set(
        Membership.objects.filter(organization_id=team.organization_id, user_id__in=roles).values_list(
            "user_id", flat=True
        )
    )
    if allowed != set(roles):
        raise ValidationError("Team members must belong to the organization.")
    current = dict(TeamMembership.objects.filter(team=team).values_list("user_id", "role"))
    removed = set(current) - set(roles)
    added = set(roles) - set(current)
    TeamMembership.objects.filter(team=team, user_id__in=removed).delete()
    for user_id, role in roles.items():
        if current.get(user_id) != role:
            TeamMembership.objects.update_or_create(
                team=team, user_id=user_id, defaults={"role": role, "organization_id": team.organization_id}
            )
    team_members_changed.send(Team, team=team, added_user_ids=added, removed_user_ids=removed)


@transaction.atomic
def do_delete_team(team: Team) -> None:
    """Delete a team. Accounts delivering to its inbox must be moved first, or their mail would
    have nowhere to go."""
    feeding = list(Account.objects.filter(team=team, delivery_mode=DeliveryMode.TEAM_INBOX))
    if feeding:
        addresses = ", ".join(account.address for account in feeding)
        raise ValidationError(
            f"This team's inbox receives mail from {addresses}. Move it to another team before deleting the team."
        )
    member_ids = set(TeamMembership.objects.filter(team=team).values_list("user_id", flat=True))
    team_members_changed.send(Team, team=team, added_user_ids=set(), removed_user_ids=member_ids)
    team.delete()


def _invitation_url(token: str) -> str:
    return settings.SITE_URL + reverse("invitation_accept", args=[token])


@transaction.atomic
def do_invite_user(
    organization: Organization, *, email: str, role: str, teams: Iterable[Team], invited_by: User
) -> Invitation:
    """Create (or renew) an invitation and email its link after commit."""
    email = email.strip().lower()
    if Membership.objects.filter(organization=organization, user__email=email).exists():
        raise ValidationError({"email": f"{email} is already a member of {organization.name}."})
    Invitation.objects.pending().filter(organization=organization, email=email).update(revoked_at=timezone.now())
    invitation = Invitation(organization=organization, email=email, role=role, invited_by=invited_by)
    token = invitation.issue_token()
    invitation.save()
    invitation.teams.set(
        [team for team in teams if team.organization_id == organization.id],
        through_defaults={"organization": organization},
    )
    body = render_to_string(
        "inboxes/email/invitation.txt",
        {"invitation": invitation, "url": _invitation_url(token), "inviter": invited_by},
    )
    subject = f"{invited_by.display_name} invited you to {organization.name}"
    transaction.on_commit(lambda: send_mail(subject, body, None, [email]))
    return invitation


@transaction.atomic
def do_revoke_invitation(invitation: Invitation) -> None:
    invitation.revoked_at = timezone.now()
    invitation.save(update_fields=["revoked_at"])


@transaction.atomic
def do_accept_invitation(invitation: Invitation, *, user: User) -> Membership:
    membership, _ = Membership.objects.get_or_create(
        organization=invitation.organization, user=user, defaults={"role": invitation.role}
    )
    for team in invitation.teams.all():
        _, created = TeamMembership.objects.get_or_create(
            team=team, user=user, defaults={"organization_id": team.organization_id}
        )
        if created:
            team_members_changed.send(Team, team=team, added_user_ids={user.id}, removed_user_ids=set())
    invitation.accepted_at = timezone.now()
    invitation.save(update_fields=["accepted_at"])
    return membership


@transaction.atomic
def do_sign_up_with_invitation(invitation: Invitation, *, name: str, password: str) -> User:
    """Create the invited person's login and accept the invitation with it."""
    user = User.objects.create_user(invitation.email, password, name=name)
    do_accept_invitation(invitation, user=user)
    return user


@transaction.atomic
def do_update_profile(user: User, *, name: str) -> None:
    user.name = name
    user.save(update_fields=["name"])


def do_set_search_preferences(
    user: User,
    *,
    in_inbox: str,
    in_team_inbox: str,
    elsewhere: str,
    date_range: str,
    excluded_accounts: Iterable[Account],
    recent_searches_shown: int,
) -> None:
    user.search_preferences = {
        "in_inbox": in_inbox,
        "in_team_inbox": in_team_inbox,
        "elsewhere": elsewhere,
        "date_range": date_range,
        "excluded_accounts": sorted(str(account.id) for account in excluded_accounts),
    }
    user.recent_searches_shown = recent_searches_shown
    user.save(update_fields=["search_preferences", "recent_searches_shown"])


@transaction.atomic
def do_set_personal_options(membership: Membership, *, remove_from_inbox_on_close: bool) -> None:
    membership.remove_from_inbox_on_close = remove_from_inbox_on_close
    membership.save(update_fields=["remove_from_inbox_on_close"])


def _check_keeps_an_owner(membership: Membership) -> None:
    owners = Membership.objects.filter(organization_id=membership.organization_id, role=Role.OWNER)
    if membership.role == Role.OWNER and owners.count() == 1:
        raise ValidationError("An organization needs at least one owner.")


@transaction.atomic
def do_change_role(membership: Membership, *, role: str, acting: Membership) -> None:
    if role not in Role.values:
        raise ValidationError({"role": "Unknown role."})
    if Role.OWNER in (role, membership.role) and acting.role != Role.OWNER:
        raise ValidationError("Only an owner can grant or take away the owner role.")
    if role != Role.OWNER:
        _check_keeps_an_owner(membership)
    membership.role = role
    membership.save(update_fields=["role"])


@transaction.atomic
def do_remove_member(membership: Membership, *, acting: Membership) -> None:
    """Remove a user from an organization: teams, shared accounts and conversations, at once."""
    if membership.role == Role.OWNER and acting.role != Role.OWNER:
        raise ValidationError("Only an owner can remove an owner.")
    _check_keeps_an_owner(membership)
    organization, user = membership.organization, membership.user
    TeamMembership.objects.filter(organization=organization, user=user).delete()
    AccountAccess.objects.filter(organization=organization, user=user).delete()
    membership.delete()
    member_removed.send(Membership, organization=organization, user=user)


@transaction.atomic
def do_create_account(
    organization: Organization,
    *,
    owner: User,
    kind: str = AccountKind.IMAP,
    address: str,
    description: str = "",
    display_name: str = "",
    is_shared: bool = False,
    team: Team | None = None,
    shared_with: Iterable[tuple[User, str]] = (),
    credentials: dict | None = None,
) -> Account:
    """Create a connected account. `team` makes a shared account deliver to that team's inbox;
    `shared_with` lists (user, NewMessages) pairs for Inbox delivery."""
    account = Account(
        organization=organization,
        owner=owner,
        kind=kind,
        address=address,
        description=description or address,
        display_name=display_name,
        is_shared=is_shared or team is not None,
        delivery_mode=DeliveryMode.TEAM_INBOX if team else DeliveryMode.INBOX,
        team=team,
    )
    account.credentials = credentials or {}
    account.save()
    ensure_default_alias(account)
    for user, new_messages in shared_with:
        AccountAccess.objects.create(
            organization=organization, account=account, user=user, new_messages=new_messages or NewMessages.INBOX
        )
    return account
