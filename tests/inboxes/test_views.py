"""Settings pages: who may see and change what, inline errors, and the effect of each change."""

from __future__ import annotations

import re

import pytest
from django.core import mail
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from inboxes.models import AccountStatus, Invitation, Membership, Role, Team, TeamMembership, TeamRole
from tests.conftest import Cast, login
from tests.factories import AccountFactory, MembershipFactory, TeamFactory, UserFactory, receive

HTMX = {"HX-Request": "true"}


def url(name: str, *args: object) -> str:
    return reverse(name, args=args)


def htmx(target: str) -> dict[str, str]:
    return {**HTMX, "HX-Target": target}


def invitation_path(body: str) -> str:
    return re.search(r"/invitations/[^/\s]+/", body).group(0)


def checked_value(html: str, name: str) -> str:
    """The value of the checked radio button called `name`."""
    inputs = re.findall(rf'<input[^>]*name="{name}"[^>]*>', html)
    return next(re.search(r'value="([^"]*)"', tag).group(1) for tag in inputs if " checked" in tag)


# --- Access ------------------------------------------------------------------------------------


def test_settings_home_opens_the_first_organization(owner_client: Client, cast: Cast) -> None:
    response = owner_client.get(url("settings_home"))
    assert response.status_code == 302
    assert response.url == url("settings_organization", cast.org.id)


def test_settings_home_without_organization_opens_the_profile(client: Client, db: None) -> None:
    login(client, UserFactory())
    response = client.get(url("settings_home"))
    assert response.url == url("settings_profile")


def test_settings_need_login(client: Client, cast: Cast) -> None:
    response = client.get(url("settings_users", cast.org.id))
    assert response.status_code == 302
    assert response.url.startswith(reverse("account_login"))


@pytest.mark.parametrize(
    "name", ["settings_organization", "settings_users", "settings_teams", "settings_accounts", "settings_personal"]
)
def test_pages_of_another_organization_are_404(owner_client: Client, cast: Cast, name: str) -> None:
    assert owner_client.get(url(name, cast.other_org.id)).status_code == 404


def test_team_of_another_organization_is_404_even_under_own_organization(owner_client: Client, cast: Cast) -> None:
    assert owner_client.get(url("settings_team", cast.org.id, cast.outsider_team.id)).status_code == 404
    response = owner_client.post(url("settings_team_delete", cast.org.id, cast.outsider_team.id))
    assert response.status_code == 404
    assert Team.objects.filter(id=cast.outsider_team.id).exists()


def test_nav_lists_every_organization_of_the_user(client: Client, cast: Cast) -> None:
    MembershipFactory(organization=cast.other_org, user=cast.teammate)
    login(client, cast.teammate)
    response = client.get(url("settings_organization", cast.org.id))
    assert url("settings_users", cast.org.id) in response.content.decode()
    assert url("settings_users", cast.other_org.id) in response.content.decode()


MEMBER_POSTS = [
    ("settings_organization_update", {"name": "Hacked", "color": "#000000"}),
    ("settings_invite", {"email": "x@example.com", "role": "member"}),
    ("settings_team_create", {"name": "Sneaky", "color": "#000000"}),
]


@pytest.mark.parametrize(("name", "data"), MEMBER_POSTS)
def test_members_cannot_change_the_organization(client: Client, cast: Cast, name: str, data: dict) -> None:
    login(client, cast.teammate)
    assert client.post(url(name, cast.org.id), data).status_code == 403
    cast.org.refresh_from_db()
    assert cast.org.name == "Acme"
    assert not Invitation.objects.exists()
    assert not Team.objects.filter(name="Sneaky").exists()


def test_members_cannot_change_roles_remove_people_or_edit_teams(client: Client, cast: Cast) -> None:
    login(client, cast.teammate)
    org, team = cast.org.id, cast.support.id
    assert client.post(url("settings_member_role", org, cast.observer.id), {"role": "admin"}).status_code == 403
    assert client.post(url("settings_member_remove", org, cast.observer.id)).status_code == 403
    assert client.post(url("settings_team_members", org, team), {}).status_code == 403
    assert client.post(url("settings_team_delete", org, team)).status_code == 403
    assert Membership.objects.get(organization=cast.org, user=cast.observer).role == Role.MEMBER
    assert Team.objects.filter(id=team).exists()


def test_members_see_settings_without_controls(client: Client, cast: Cast) -> None:
    login(client, cast.teammate)
    users = client.get(url("settings_users", cast.org.id)).content.decode()
    assert "Olivia Owner" in users
    assert "Send invitation" not in users
    assert url("settings_member_remove", cast.org.id, cast.observer.id) not in users
    organization = client.get(url("settings_organization", cast.org.id)).content.decode()
    assert "disabled" in organization
    assert "Only owners and admins can change the organization." in organization
    team = client.get(url("settings_team", cast.org.id, cast.support.id)).content.decode()
    assert "Save members" not in team
    assert "Delete Support" not in team


# --- Organization ------------------------------------------------------------------------------


def test_owner_renames_organization_and_changes_its_color(owner_client: Client, cast: Cast) -> None:
    response = owner_client.post(
        url("settings_organization_update", cast.org.id), {"name": "Acme Inc", "color": "#16A34A"}
    )
    assert response.status_code == 302
    cast.org.refresh_from_db()
    assert (cast.org.name, cast.org.color) == ("Acme Inc", "#16a34a")


def test_invalid_organization_form_rerenders_inline_with_errors(owner_client: Client, cast: Cast) -> None:
    response = owner_client.post(
        url("settings_organization_update", cast.org.id), {"name": "", "color": "red"}, headers=htmx("organization")
    )
    assert response.status_code == 200
    body = response.content.decode()
    assert "<html" not in body
    assert "This field is required." in body
    assert "Pick a color such as #2563eb." in body


def test_htmx_save_redirects_to_the_refreshed_partial_with_a_notice(owner_client: Client, cast: Cast) -> None:
    response = owner_client.post(
        url("settings_organization_update", cast.org.id),
        {"name": "Acme Inc", "color": "#2563eb"},
        headers=htmx("organization"),
        follow=True,
    )
    body = response.content.decode()
    assert "<html" not in body
    assert 'value="Acme Inc"' in body
    assert "Organization saved." in body


# --- Users -------------------------------------------------------------------------------------


def test_users_page_lists_members_with_roles_in_constant_queries(owner_client: Client, cast: Cast) -> None:
    owner_client.get(url("settings_users", cast.org.id))
    with CaptureQueriesContext(connection) as few:
        owner_client.get(url("settings_users", cast.org.id))
    for _ in range(5):
        MembershipFactory(organization=cast.org)
    with CaptureQueriesContext(connection) as many:
        response = owner_client.get(url("settings_users", cast.org.id))
    assert len(many) == len(few)
    body = response.content.decode()
    for name in ["Olivia Owner", "Tom Teammate", "Oscar Observer", "Gina Guest"]:
        assert name in body
    assert "Xavier Outsider" not in body


def test_invite_sends_email_and_shows_pending_invitation(
    owner_client: Client, cast: Cast, django_capture_on_commit_callbacks
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        response = owner_client.post(
            url("settings_invite", cast.org.id),
            {"email": "New.Person@Example.com", "role": "admin", "teams": [cast.support.id]},
            follow=True,
        )
    invitation = Invitation.objects.get()
    assert (invitation.email, invitation.role) == ("new.person@example.com", Role.ADMIN)
    assert list(invitation.teams.all()) == [cast.support]
    assert len(mail.outbox) == 1
    assert "/invitations/" in mail.outbox[0].body
    assert "new.person@example.com" in response.content.decode()
    assert "Invitation sent to new.person@example.com." in response.content.decode()


def test_invite_of_existing_member_shows_error_inline(owner_client: Client, cast: Cast) -> None:
    response = owner_client.post(
        url("settings_invite", cast.org.id),
        {"email": cast.teammate.email, "role": "member"},
        headers=htmx("invitations"),
    )
    assert response.status_code == 200
    assert "is already a member of Acme" in response.content.decode()
    assert "<html" not in response.content.decode()
    assert not Invitation.objects.exists()
    assert mail.outbox == []


def test_invite_cannot_use_a_team_of_another_organization(owner_client: Client, cast: Cast) -> None:
    response = owner_client.post(
        url("settings_invite", cast.org.id),
        {"email": "x@example.com", "role": "member", "teams": [cast.outsider_team.id]},
    )
    assert response.status_code == 200
    assert "Select a valid choice" in response.content.decode()
    assert not Invitation.objects.exists()


def test_admin_cannot_invite_an_owner(client: Client, cast: Cast) -> None:
    Membership.objects.filter(user=cast.teammate).update(role=Role.ADMIN)
    login(client, cast.teammate)
    response = client.post(url("settings_invite", cast.org.id), {"email": "x@example.com", "role": "owner"})
    assert "Select a valid choice" in response.content.decode()
    assert not Invitation.objects.exists()


def test_revoked_invitation_disappears_and_its_link_stops_working(
    owner_client: Client, cast: Cast, django_capture_on_commit_callbacks
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        owner_client.post(url("settings_invite", cast.org.id), {"email": "x@example.com", "role": "member"})
    invitation = Invitation.objects.get()
    link = invitation_path(mail.outbox[0].body)
    assert Client().get(link).status_code == 200
    response = owner_client.post(url("settings_invitation_revoke", cast.org.id, invitation.id), follow=True)
    assert "x@example.com revoked" in response.content.decode()
    assert not Invitation.objects.pending().exists()
    assert Client().get(link).status_code == 404


def test_owner_changes_a_role(owner_client: Client, cast: Cast) -> None:
    response = owner_client.post(
        url("settings_member_role", cast.org.id, cast.teammate.id),
        {"role": "admin"},
        headers=htmx("members"),
        follow=True,
    )
    assert Membership.objects.get(organization=cast.org, user=cast.teammate).role == Role.ADMIN
    assert "Tom Teammate is now admin." in response.content.decode()


def test_last_owner_cannot_step_down_and_sees_why(owner_client: Client, cast: Cast) -> None:
    response = owner_client.post(
        url("settings_member_role", cast.org.id, cast.owner.id), {"role": "member"}, headers=htmx("members")
    )
    assert response.status_code == 200
    assert "An organization needs at least one owner." in response.content.decode()
    assert Membership.objects.get(organization=cast.org, user=cast.owner).role == Role.OWNER


def test_admin_cannot_touch_an_owner(client: Client, cast: Cast) -> None:
    Membership.objects.filter(user=cast.teammate).update(role=Role.ADMIN)
    login(client, cast.teammate)
    page = client.get(url("settings_users", cast.org.id)).content.decode()
    assert url("settings_member_remove", cast.org.id, cast.owner.id) not in page
    assert url("settings_member_remove", cast.org.id, cast.observer.id) in page
    response = client.post(url("settings_member_role", cast.org.id, cast.owner.id), {"role": "member"})
    assert "Only an owner can grant or take away the owner role." in response.content.decode()
    client.post(url("settings_member_remove", cast.org.id, cast.owner.id))
    assert Membership.objects.filter(organization=cast.org, user=cast.owner, role=Role.OWNER).exists()


def test_removed_member_loses_conversations_and_the_organization_at_once(owner_client: Client, cast: Cast) -> None:
    conversation_id = receive(cast.support_account, subject="Broken widget").conversation_id
    teammate = login(Client(), cast.teammate)
    conversation_url = url("team_conversation", cast.support.id, "inbox", conversation_id)
    assert teammate.get(conversation_url).status_code == 200

    response = owner_client.post(url("settings_member_remove", cast.org.id, cast.teammate.id), follow=True)

    assert "Tom Teammate was removed from Acme." in response.content.decode()
    assert teammate.get(conversation_url).status_code == 404
    assert teammate.get(url("conversation", "all", conversation_id)).status_code == 404
    assert teammate.get(url("settings_users", cast.org.id)).status_code == 404
    assert teammate.get(url("settings_home")).url == url("settings_profile")
    assert not TeamMembership.objects.filter(user=cast.teammate, organization=cast.org).exists()


def test_nobody_removes_themselves_from_the_users_page(owner_client: Client, cast: Cast) -> None:
    MembershipFactory(organization=cast.org, user=UserFactory(), role=Role.OWNER)
    response = owner_client.post(url("settings_member_remove", cast.org.id, cast.owner.id))
    assert "You cannot remove yourself." in response.content.decode()
    assert Membership.objects.filter(organization=cast.org, user=cast.owner).exists()


# --- Teams -------------------------------------------------------------------------------------


def test_teams_page_lists_teams_with_member_counts(owner_client: Client, cast: Cast) -> None:
    body = owner_client.get(url("settings_teams", cast.org.id)).content.decode()
    assert "Support" in body
    assert "2 active members, 1 observer" in body
    assert "Globex Support" not in body


def test_create_team_then_open_it(owner_client: Client, cast: Cast) -> None:
    response = owner_client.post(
        url("settings_team_create", cast.org.id),
        {"name": "Sales", "emoji": "💰", "color": "#16a34a", "has_inbox": "on"},
        headers=htmx("create-team"),
    )
    team = Team.objects.get(organization=cast.org, name="Sales")
    assert (team.emoji, team.color, team.has_inbox) == ("💰", "#16a34a", True)
    assert response["HX-Redirect"] == url("settings_team", cast.org.id, team.id)


def test_create_team_without_inbox(owner_client: Client, cast: Cast) -> None:
    owner_client.post(url("settings_team_create", cast.org.id), {"name": "Chat only", "color": "#16a34a"})
    assert Team.objects.get(name="Chat only").has_inbox is False


def test_duplicate_team_name_is_an_inline_error(owner_client: Client, cast: Cast) -> None:
    response = owner_client.post(
        url("settings_team_create", cast.org.id), {"name": "support", "color": "#16a34a"}, headers=htmx("create-team")
    )
    assert response.status_code == 200
    assert "Acme already has a team named support." in response.content.decode()
    assert "<html" not in response.content.decode()


def test_same_team_name_is_fine_in_another_organization(owner_client: Client, cast: Cast) -> None:
    owner_client.post(url("settings_team_create", cast.org.id), {"name": "Globex Support", "color": "#16a34a"})
    assert Team.objects.filter(organization=cast.org, name="Globex Support").exists()


def test_edit_team_options(owner_client: Client, cast: Cast) -> None:
    data = {
        "name": "Customer Support",
        "emoji": "🛟",
        "color": "#dc2626",
        "has_inbox": "on",
        "has_chat_room": "on",
        "show_team_space": "False",
        "mention_adds_observers": "True",
        "assign_on_reply": "False",
        "reply_to_assigned_goes_to_team_inbox": "True",
        "inactivity_period": "604800",
    }
    response = owner_client.post(url("settings_team_update", cast.org.id, cast.support.id), data)
    assert response.status_code == 302
    team = Team.objects.get(id=cast.support.id)
    assert (team.name, team.inactivity_period) == ("Customer Support", 604800)
    assert team.has_chat_room and team.mention_adds_observers and team.reply_to_assigned_goes_to_team_inbox
    assert team.assign_on_reply is False and team.show_team_space is False


def test_team_page_shows_current_options_checked(owner_client: Client, cast: Cast) -> None:
    Team.objects.filter(id=cast.support.id).update(assign_on_reply=False, mention_adds_observers=True)
    body = owner_client.get(url("settings_team", cast.org.id, cast.support.id)).content.decode()
    assert checked_value(body, "assign_on_reply") == "False"
    assert checked_value(body, "mention_adds_observers") == "True"
    assert checked_value(body, "reply_to_assigned_goes_to_team_inbox") == "False"
    assert checked_value(body, "show_team_space") == "True"
    assert not re.search(r'<input[^>]*name="has_chat_room"[^>]*checked', body)
    assert re.search(r'<input[^>]*name="has_inbox"[^>]*checked', body)
    assert re.search(r'<option value=""[^>]*selected>Never split conversations', body)


def test_a_team_inactivity_period_is_one_of_the_offered_ones(owner_client: Client, cast: Cast) -> None:
    data = {"name": "Support", "color": "#2563eb", "inactivity_period": "12345"}
    data |= {
        "show_team_space": "True",
        "mention_adds_observers": "False",
        "assign_on_reply": "True",
        "reply_to_assigned_goes_to_team_inbox": "False",
    }
    response = owner_client.post(url("settings_team_update", cast.org.id, cast.support.id), data)
    assert response.status_code == 200
    assert "Select a valid choice" in response.content.decode()
    assert Team.objects.get(id=cast.support.id).inactivity_period is None


def test_set_team_members_picks_active_members_and_observers(owner_client: Client, cast: Cast) -> None:
    conversation_id = receive(cast.support_account).conversation_id
    data = {
        f"member_{cast.owner.id}": "active",
        f"member_{cast.teammate.id}": "",
        f"member_{cast.observer.id}": "active",
        f"member_{cast.guest.id}": "observer",
    }
    response = owner_client.post(
        url("settings_team_members", cast.org.id, cast.support.id), data, headers=htmx("team-members"), follow=True
    )
    assert "Team members saved." in response.content.decode()
    roles = dict(TeamMembership.objects.filter(team=cast.support).values_list("user__email", "role"))
    assert roles == {
        "owner@acme.test": TeamRole.ACTIVE,
        "observer@acme.test": TeamRole.ACTIVE,
        "guest@acme.test": TeamRole.OBSERVER,
    }
    guest = login(Client(), cast.guest)
    assert guest.get(url("team_conversation", cast.support.id, "inbox", conversation_id)).status_code == 200
    teammate = login(Client(), cast.teammate)
    assert teammate.get(url("team_conversation", cast.support.id, "inbox", conversation_id)).status_code == 404


def test_team_members_form_ignores_people_of_other_organizations(owner_client: Client, cast: Cast) -> None:
    data = {f"member_{cast.owner.id}": "active", f"member_{cast.outsider.id}": "active"}
    owner_client.post(url("settings_team_members", cast.org.id, cast.support.id), data)
    assert not TeamMembership.objects.filter(team=cast.support, user=cast.outsider).exists()


def test_delete_team_without_accounts(owner_client: Client, cast: Cast) -> None:
    team = TeamFactory(organization=cast.org, name="Sales")
    response = owner_client.post(url("settings_team_delete", cast.org.id, team.id), headers=htmx("team-delete"))
    assert response["HX-Redirect"] == url("settings_teams", cast.org.id)
    assert not Team.objects.filter(id=team.id).exists()


def test_team_fed_by_an_account_cannot_be_deleted(owner_client: Client, cast: Cast) -> None:
    response = owner_client.post(url("settings_team_delete", cast.org.id, cast.support.id), headers=htmx("team-delete"))
    assert response.status_code == 200
    assert "receives mail from support@acme.test" in response.content.decode()
    assert Team.objects.filter(id=cast.support.id).exists()


# --- Accounts ----------------------------------------------------------------------------------


def test_accounts_page_shows_accounts_with_delivery_and_disconnection_reason(owner_client: Client, cast: Cast) -> None:
    AccountFactory(
        organization=cast.org,
        owner=cast.owner,
        address="sales@acme.test",
        status=AccountStatus.DISCONNECTED,
        status_reason="Invalid credentials (AUTHENTICATIONFAILED).",
    )
    body = owner_client.get(url("settings_accounts", cast.org.id)).content.decode()
    assert "support@acme.test" in body
    assert "delivers to the ⛑️ Support team inbox" in body
    assert "olivia@acme.test" in body and "Personal" in body
    assert "s-banner-warning" in body
    assert "Invalid credentials (AUTHENTICATIONFAILED)." in body
    assert "help@globex.test" not in body
    assert "Add IMAP account" in body


def test_members_do_not_see_colleagues_personal_accounts(client: Client, cast: Cast) -> None:
    login(client, cast.teammate)
    body = client.get(url("settings_accounts", cast.org.id)).content.decode()
    assert "support@acme.test" in body
    assert "olivia@acme.test" not in body


# --- Personal ----------------------------------------------------------------------------------


def test_any_member_sets_their_own_close_option(client: Client, cast: Cast) -> None:
    login(client, cast.guest)
    response = client.post(
        url("settings_personal_update", cast.org.id),
        {"remove_from_inbox_on_close": "True"},
        headers=htmx("personal-options"),
        follow=True,
    )
    assert "Personal options saved." in response.content.decode()
    assert Membership.objects.get(organization=cast.org, user=cast.guest).remove_from_inbox_on_close is True
    assert Membership.objects.get(organization=cast.org, user=cast.owner).remove_from_inbox_on_close is False


def test_profile_changes_name_and_links_to_security(owner_client: Client, cast: Cast) -> None:
    body = owner_client.get(url("settings_profile")).content.decode()
    assert reverse("mfa_index") in body
    assert reverse("account_change_password") in body
    owner_client.post(url("settings_profile_update"), {"name": "Olivia O."})
    cast.owner.refresh_from_db()
    assert cast.owner.name == "Olivia O."


SEARCH_SETTINGS = {
    "in_inbox": "inbox",
    "in_team_inbox": "all",
    "elsewhere": "all",
    "date_range": "4w",
    "recent_searches_shown": "3",
}


def test_search_preferences_are_saved(owner_client: Client, cast: Cast) -> None:
    body = owner_client.get(url("settings_profile")).content.decode()
    assert "Searching from the Inbox covers" in body and "support@acme.test" in body
    assert "help@globex.test" not in body  # another organization's account
    data = {**SEARCH_SETTINGS, "excluded_accounts": [str(cast.support_account.id)]}
    assert owner_client.post(url("settings_search_update"), data).status_code == 302
    cast.owner.refresh_from_db()
    assert cast.owner.search_preferences == {
        "in_inbox": "inbox",
        "in_team_inbox": "all",
        "elsewhere": "all",
        "date_range": "4w",
        "excluded_accounts": [str(cast.support_account.id)],
    }
    assert cast.owner.recent_searches_shown == 3


def test_search_preferences_refuse_bad_values(owner_client: Client, cast: Cast) -> None:
    data = {**SEARCH_SETTINGS, "recent_searches_shown": "99", "excluded_accounts": [str(cast.outsider_account.id)]}
    body = owner_client.post(url("settings_search_update"), data).content.decode()
    assert "less than or equal to 20" in body
    assert "Select a valid choice" in body
    cast.owner.refresh_from_db()
    assert cast.owner.search_preferences == {} and cast.owner.recent_searches_shown == 5


def test_personal_options_page_shows_the_current_choice(client: Client, cast: Cast) -> None:
    Membership.objects.filter(user=cast.teammate).update(remove_from_inbox_on_close=True)
    login(client, cast.teammate)
    body = client.get(url("settings_personal", cast.org.id)).content.decode()
    assert checked_value(body, "remove_from_inbox_on_close") == "True"
    assert "Keep in my Inbox" in body
