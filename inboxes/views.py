"""Settings pages (profile, organization, users, teams, accounts, personal options) and the
invitation link. Every view starts with a permission-checked fetch from inboxes/access.py: other
organizations are 404, and only owners and admins may change anything (403)."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from allauth.mfa.models import Authenticator
from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import ValidationError
from django.db.models import Count, Q, QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from inboxes.access import get_managed_membership, get_membership
from inboxes.actions import (
    do_accept_invitation,
    do_change_role,
    do_create_team,
    do_delete_team,
    do_invite_user,
    do_remove_member,
    do_revoke_invitation,
    do_set_personal_options,
    do_set_search_preferences,
    do_set_team_members,
    do_sign_up_with_invitation,
    do_update_organization,
    do_update_profile,
    do_update_team,
)
from inboxes.forms import (
    InvitationSignUpForm,
    InviteForm,
    OrganizationForm,
    PersonalOptionsForm,
    ProfileForm,
    RoleForm,
    SearchPreferencesForm,
    TeamForm,
    TeamMembersForm,
    TeamSettingsForm,
)
from inboxes.mention_groups import groups_of
from inboxes.models import Account, Invitation, Membership, Role, Team, TeamRole, User
from inboxes.pages import settings_context
from missive.htmx import AuthenticatedRequest, leave_page, render_page


def _in_organization(queryset: QuerySet[Any], membership: Membership, **lookup: Any) -> Any:
    """One row of the membership's organization, or 404."""
    return get_object_or_404(queryset, organization_id=membership.organization_id, **lookup)


# --- Entry and profile ------------------------------------------------------------------------


@require_safe
@login_required
def settings_home(request: AuthenticatedRequest) -> HttpResponse:
    """Open settings on the user's first organization, or on the profile without one."""
    membership = Membership.objects.filter(user=request.user).order_by("organization__name").first()
    if membership is None:
        return redirect("settings_profile")
    return redirect("settings_organization", membership.organization_id)


def _render_profile(
    request: AuthenticatedRequest, form: ProfileForm | None = None, search_form: SearchPreferencesForm | None = None
) -> HttpResponse:
    has_totp = Authenticator.objects.filter(user=request.user, type=Authenticator.Type.TOTP).exists()
    context = settings_context(
        request,
        None,
        "profile",
        form=form or ProfileForm(initial={"name": request.user.name}),
        search_form=search_form or SearchPreferencesForm(user=request.user),
        has_totp=has_totp,
    )
    partials = {"profile": "profile_form", "search-preferences": "search_form"}
    return render_page(request, "inboxes/settings/profile.html", context, partials=partials)


@require_safe
@login_required
def profile_settings(request: AuthenticatedRequest) -> HttpResponse:
    """The user's name, search preferences, two-factor status and password."""
    return _render_profile(request)


@require_POST
@login_required
def profile_update(request: AuthenticatedRequest) -> HttpResponse:
    """Change the user's display name."""
    form = ProfileForm(request.POST)
    if not form.is_valid():
        return _render_profile(request, form=form)
    do_update_profile(request.user, name=form.cleaned_data["name"])
    messages.success(request, "Profile saved.")
    return redirect("settings_profile")


@require_POST
@login_required
def search_preferences_update(request: AuthenticatedRequest) -> HttpResponse:
    """Settings › Search: where searches run, their default dates, accounts left out, recent ones."""
    form = SearchPreferencesForm(request.POST, user=request.user)
    if not form.is_valid():
        return _render_profile(request, search_form=form)
    do_set_search_preferences(request.user, **form.cleaned_data)
    messages.success(request, "Search preferences saved.")
    return redirect("settings_profile")


# --- Organization -----------------------------------------------------------------------------


def _render_organization(request: AuthenticatedRequest, membership: Membership, form: OrganizationForm) -> HttpResponse:
    member_count = Membership.objects.filter(organization_id=membership.organization_id).count()
    context = settings_context(request, membership, "organization", form=form, member_count=member_count)
    return render_page(
        request, "inboxes/settings/organization.html", context, partials={"organization": "organization_form"}
    )


@require_safe
@login_required
def organization_settings(request: AuthenticatedRequest, org_id: UUID) -> HttpResponse:
    """The organization's name and conversations color."""
    membership = get_membership(request.user, org_id)
    organization = membership.organization
    form = OrganizationForm(initial={"name": organization.name, "color": organization.color})
    return _render_organization(request, membership, form)


@require_POST
@login_required
def organization_update(request: AuthenticatedRequest, org_id: UUID) -> HttpResponse:
    """Rename the organization or change its conversations color."""
    membership = get_managed_membership(request.user, org_id)
    form = OrganizationForm(request.POST)
    if not form.is_valid():
        return _render_organization(request, membership, form)
    do_update_organization(membership.organization, **form.cleaned_data)
    messages.success(request, "Organization saved.")
    return redirect("settings_organization", org_id)


# --- Users and invitations --------------------------------------------------------------------


def _render_users(
    request: AuthenticatedRequest, acting: Membership, *, invite_form: InviteForm | None = None, members_error: str = ""
) -> HttpResponse:
    members = list(
        Membership.objects.filter(organization_id=acting.organization_id)
        .select_related("user")
        .order_by("user__name", "user__email")
    )
    rows = []
    for member in members:
        # Only owners change or remove owners (do_change_role, do_remove_member).
        editable = acting.can_manage and (acting.role == Role.OWNER or member.role != Role.OWNER)
        rows.append((member, editable, editable and member.user_id != acting.user_id))
    invitations = (
        Invitation.objects.pending()
        .filter(organization_id=acting.organization_id)
        .select_related("invited_by")
        .prefetch_related("teams")
        .order_by("-created_at")
    )
    role_choices = [c for c in Role.choices if acting.role == Role.OWNER or c[0] != Role.OWNER]
    context = settings_context(
        request,
        acting,
        "users",
        rows=rows,
        members_error=members_error,
        member_groups=groups_of(acting.organization_id, [m.user_id for m in members]),
        invitations=invitations,
        invite_form=invite_form or InviteForm(acting=acting),
        role_choices=role_choices,
    )
    return render_page(
        request,
        "inboxes/settings/users.html",
        context,
        partials={"members": "members", "invitations": "invitations"},
    )


@require_safe
@login_required
def users_settings(request: AuthenticatedRequest, org_id: UUID) -> HttpResponse:
    """Members with their roles, and pending invitations."""
    return _render_users(request, get_membership(request.user, org_id))


@require_POST
@login_required
def invite_user(request: AuthenticatedRequest, org_id: UUID) -> HttpResponse:
    """Invite someone by email, with a role and teams."""
    acting = get_managed_membership(request.user, org_id)
    form = InviteForm(request.POST, acting=acting)
    if form.is_valid():
        try:
            invitation = do_invite_user(acting.organization, invited_by=request.user, **form.cleaned_data)
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(request, f"Invitation sent to {invitation.email}.")
            return redirect("settings_users", org_id)
    return _render_users(request, acting, invite_form=form)


@require_POST
@login_required
def revoke_invitation(request: AuthenticatedRequest, org_id: UUID, invitation_id: int) -> HttpResponse:
    """Revoke a pending invitation: its link stops working."""
    acting = get_managed_membership(request.user, org_id)
    invitation = _in_organization(Invitation.objects.pending(), acting, id=invitation_id)
    do_revoke_invitation(invitation)
    messages.success(request, f"Invitation of {invitation.email} revoked.")
    return redirect("settings_users", org_id)


@require_POST
@login_required
def change_role(request: AuthenticatedRequest, org_id: UUID, user_id: UUID) -> HttpResponse:
    """Give a member another role."""
    acting = get_managed_membership(request.user, org_id)
    member = _in_organization(Membership.objects.select_related("user"), acting, user_id=user_id)
    form = RoleForm(request.POST)
    try:
        if not form.is_valid():
            raise ValidationError("Pick one of the roles.")
        do_change_role(member, role=form.cleaned_data["role"], acting=acting)
    except ValidationError as error:
        return _render_users(request, acting, members_error=error.messages[0])
    messages.success(request, f"{member.user.display_name} is now {member.get_role_display().lower()}.")
    return redirect("settings_users", org_id)


@require_POST
@login_required
def remove_member(request: AuthenticatedRequest, org_id: UUID, user_id: UUID) -> HttpResponse:
    """Remove a member from the organization; their access ends at once."""
    acting = get_managed_membership(request.user, org_id)
    member = _in_organization(Membership.objects.select_related("user", "organization"), acting, user_id=user_id)
    try:
        if member.user_id == request.user.id:
            raise ValidationError("You cannot remove yourself. Ask another owner or admin.")
        do_remove_member(member, acting=acting)
    except ValidationError as error:
        return _render_users(request, acting, members_error=error.messages[0])
    messages.success(request, f"{member.user.display_name} was removed from {acting.organization.name}.")
    return redirect("settings_users", org_id)


# --- Teams ------------------------------------------------------------------------------------


def _render_teams(request: AuthenticatedRequest, membership: Membership, form: TeamForm) -> HttpResponse:
    teams = Team.objects.filter(organization_id=membership.organization_id).annotate(
        active_count=Count("memberships", filter=Q(memberships__role=TeamRole.ACTIVE)),
        observer_count=Count("memberships", filter=Q(memberships__role=TeamRole.OBSERVER)),
    )
    context = settings_context(request, membership, "teams", teams=teams, form=form)
    return render_page(request, "inboxes/settings/teams.html", context, partials={"create-team": "create_team"})


@require_safe
@login_required
def teams_settings(request: AuthenticatedRequest, org_id: UUID) -> HttpResponse:
    """The organization's teams, and a form to create one."""
    membership = get_membership(request.user, org_id)
    return _render_teams(request, membership, TeamForm(organization=membership.organization))


@require_POST
@login_required
def create_team(request: AuthenticatedRequest, org_id: UUID) -> HttpResponse:
    """Create a team, then open it to add members."""
    membership = get_managed_membership(request.user, org_id)
    form = TeamForm(request.POST, organization=membership.organization)
    if not form.is_valid():
        return _render_teams(request, membership, form)
    team = do_create_team(membership.organization, **form.cleaned_data)
    messages.success(request, f"Team {team.name} created. Now pick its members.")
    return leave_page(request, reverse("settings_team", args=[org_id, team.id]))


def _render_team(
    request: AuthenticatedRequest,
    membership: Membership,
    team: Team,
    *,
    settings_form: TeamSettingsForm | None = None,
    members_form: TeamMembersForm | None = None,
    delete_error: str = "",
) -> HttpResponse:
    members = list(
        Membership.objects.filter(organization_id=team.organization_id)
        .select_related("user")
        .order_by("user__name", "user__email")
    )
    context = settings_context(
        request,
        membership,
        "teams",
        team=team,
        settings_form=settings_form or TeamSettingsForm(team=team),
        members_form=members_form or TeamMembersForm(team=team, memberships=members),
        delete_error=delete_error,
    )
    partials = {"team-settings": "team_settings", "team-members": "team_members", "team-delete": "team_delete"}
    return render_page(request, "inboxes/settings/team.html", context, partials=partials)


@require_safe
@login_required
def team_settings(request: AuthenticatedRequest, org_id: UUID, team_id: UUID) -> HttpResponse:
    """One team: its settings, members and deletion."""
    membership = get_membership(request.user, org_id)
    team = _in_organization(Team.objects.select_related("organization"), membership, id=team_id)
    return _render_team(request, membership, team)


@require_POST
@login_required
def update_team(request: AuthenticatedRequest, org_id: UUID, team_id: UUID) -> HttpResponse:
    """Change a team's name, look, inbox, chat room and mention and assignment options."""
    membership = get_managed_membership(request.user, org_id)
    team = _in_organization(Team.objects.select_related("organization"), membership, id=team_id)
    form = TeamSettingsForm(request.POST, team=team)
    if not form.is_valid():
        return _render_team(request, membership, team, settings_form=form)
    do_update_team(team, **form.cleaned_data)
    messages.success(request, "Team settings saved.")
    return redirect("settings_team", org_id, team_id)


@require_POST
@login_required
def set_team_members(request: AuthenticatedRequest, org_id: UUID, team_id: UUID) -> HttpResponse:
    """Pick the team's active members and observers."""
    membership = get_managed_membership(request.user, org_id)
    team = _in_organization(Team.objects.select_related("organization"), membership, id=team_id)
    members = list(Membership.objects.filter(organization_id=team.organization_id).select_related("user"))
    form = TeamMembersForm(request.POST, team=team, memberships=members)
    if not form.is_valid():
        return _render_team(request, membership, team, members_form=form)
    do_set_team_members(team, active=form.members(TeamRole.ACTIVE), observers=form.members(TeamRole.OBSERVER))
    messages.success(request, "Team members saved.")
    return redirect("settings_team", org_id, team_id)


@require_POST
@login_required
def delete_team(request: AuthenticatedRequest, org_id: UUID, team_id: UUID) -> HttpResponse:
    """Delete a team; its members lose the access they had through it."""
    membership = get_managed_membership(request.user, org_id)
    team = _in_organization(Team.objects.select_related("organization"), membership, id=team_id)
    try:
        do_delete_team(team)
    except ValidationError as error:
        return _render_team(request, membership, team, delete_error=error.messages[0])
    messages.success(request, f"Team {team.name} deleted.")
    return leave_page(request, reverse("settings_teams", args=[org_id]))


# --- Accounts and personal options ------------------------------------------------------------


@require_safe
@login_required
def accounts_settings(request: AuthenticatedRequest, org_id: UUID) -> HttpResponse:
    """The organization's connected accounts and their state."""
    membership = get_membership(request.user, org_id)
    accounts = Account.objects.filter(organization_id=org_id).select_related("owner", "team")
    if not membership.can_manage:
        # Members see shared accounts and their own, not colleagues' personal mailboxes.
        accounts = accounts.filter(Q(is_shared=True) | Q(owner=request.user))
    context = settings_context(request, membership, "accounts", accounts=accounts)
    return render_page(request, "inboxes/settings/accounts.html", context)


def _render_personal(request: AuthenticatedRequest, membership: Membership, form: PersonalOptionsForm) -> HttpResponse:
    context = settings_context(request, membership, "personal", form=form)
    return render_page(
        request, "inboxes/settings/personal.html", context, partials={"personal-options": "personal_options"}
    )


@require_safe
@login_required
def personal_settings(request: AuthenticatedRequest, org_id: UUID) -> HttpResponse:
    """The user's own options in one organization."""
    membership = get_membership(request.user, org_id)
    return _render_personal(request, membership, PersonalOptionsForm(membership=membership))


@require_POST
@login_required
def personal_update(request: AuthenticatedRequest, org_id: UUID) -> HttpResponse:
    """Save the user's own options in one organization (any role may)."""
    membership = get_membership(request.user, org_id)
    form = PersonalOptionsForm(request.POST, membership=membership)
    if not form.is_valid():
        return _render_personal(request, membership, form)
    do_set_personal_options(membership, **form.cleaned_data)
    messages.success(request, "Personal options saved.")
    return redirect("settings_personal", org_id)


# --- Invitation link --------------------------------------------------------------------------


@require_http_methods(["GET", "HEAD", "POST"])
def invitation_accept(request: HttpRequest, token: str) -> HttpResponse:
    """The emailed link: join with the signed-in account, log in first, or create the account."""
    invitation = Invitation.objects.for_token(token).select_related("organization", "invited_by").first()
    if invitation is None:
        return render(request, "inboxes/invitations/invalid.html", status=404)
    context = {"invitation": invitation, "organization": invitation.organization}
    if isinstance(request.user, User):
        if request.user.email.lower() != invitation.email:
            return render(request, "inboxes/invitations/other_user.html", context, status=403)
        do_accept_invitation(invitation, user=request.user)
        return redirect("home")
    if User.objects.filter(email=invitation.email).exists():
        return redirect_to_login(request.get_full_path())
    form = InvitationSignUpForm(request.POST if request.method == "POST" else None, invitation=invitation)
    if form.is_bound and form.is_valid():
        user = do_sign_up_with_invitation(
            invitation, name=form.cleaned_data["name"], password=form.cleaned_data["password1"]
        )
        login(request, user, backend="django.contrib.auth.backends.ModelBackend")
        return redirect("home")
    return render(request, "inboxes/invitations/sign_up.html", {**context, "form": form})
