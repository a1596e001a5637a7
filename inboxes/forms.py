"""Forms of the settings pages and of the invitation sign-up."""

from __future__ import annotations

from typing import Any, cast

from django import forms
from django.contrib.auth import password_validation
from django.core.validators import RegexValidator

from inboxes.models import (
    SEARCH_DATE_RANGES,
    SEARCH_DEFAULTS,
    Account,
    Invitation,
    Membership,
    Organization,
    Role,
    Team,
    TeamRole,
    User,
)


class ColorField(forms.CharField):
    widget = forms.TextInput(attrs={"type": "color"})
    default_validators = [RegexValidator(r"^#[0-9a-fA-F]{6}$", "Pick a color such as #2563eb.")]

    def to_python(self, value: Any) -> str:
        return (super().to_python(value) or "").lower()


def _bool_choice(label: str, *, true: str, false: str, help_text: str = "") -> forms.TypedChoiceField:
    """A two-option radio group that reads as sentences and stores a boolean."""
    return forms.TypedChoiceField(
        label=label,
        help_text=help_text,
        choices=[(False, false), (True, true)],
        coerce=lambda value: value == "True",
        widget=forms.RadioSelect,
    )


class OrganizationForm(forms.Form):
    name = forms.CharField(max_length=120)
    color = ColorField(label="Conversations color", help_text="The left border of this organization's conversations.")


class InviteForm(forms.Form):
    email = forms.EmailField(widget=forms.EmailInput(attrs={"placeholder": "name@company.com"}))
    role = forms.ChoiceField(choices=Role.choices, initial=Role.MEMBER)
    teams = forms.ModelMultipleChoiceField(
        queryset=Team.objects.none(), required=False, widget=forms.CheckboxSelectMultiple
    )

    def __init__(self, *args: Any, acting: Membership, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        teams = cast(forms.ModelMultipleChoiceField, self.fields["teams"])
        teams.queryset = Team.objects.filter(organization_id=acting.organization_id)
        if acting.role != Role.OWNER:
            role = cast(forms.ChoiceField, self.fields["role"])
            role.choices = [choice for choice in Role.choices if choice[0] != Role.OWNER]


class RoleForm(forms.Form):
    role = forms.ChoiceField(choices=Role.choices)


class TeamForm(forms.Form):
    name = forms.CharField(max_length=80, widget=forms.TextInput(attrs={"placeholder": "Support"}))
    emoji = forms.CharField(max_length=16, required=False)
    color = ColorField(initial="#2563eb")
    has_inbox = forms.BooleanField(
        label="Dedicated team inbox",
        required=False,
        initial=True,
        help_text="Turn off for a team used only for mentions and chat.",
    )

    def __init__(self, *args: Any, organization: Organization, team: Team | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.organization, self.team = organization, team

    def clean_name(self) -> str:
        name = self.cleaned_data["name"].strip()
        taken = Team.objects.filter(organization=self.organization, name__iexact=name)
        if self.team is not None:
            taken = taken.exclude(id=self.team.id)
        if taken.exists():
            raise forms.ValidationError(f"{self.organization.name} already has a team named {name}.")
        return name


class TeamSettingsForm(TeamForm):
    has_chat_room = forms.BooleanField(label="Dedicated chat room", required=False)
    show_team_space = _bool_choice(
        "In its members' sidebars",
        true="Show the team space: the team inbox, tasks and chat room",
        false="Show only the team inbox",
    )
    mention_adds_observers = _bool_choice(
        "When someone mentions the team",
        false="Add only active members to the conversation",
        true="Add both active members and observers to the conversation",
    )
    assign_on_reply = _bool_choice(
        "When a user replies to a message from the team inbox",
        true="Assign the conversation to that user",
        false="Leave the conversation in the team inbox",
    )
    reply_to_assigned_goes_to_team_inbox = _bool_choice(
        "When a reply arrives in an assigned conversation",
        false="Move the conversation to the assignee's Inbox",
        true="Move the conversation back to the team inbox",
    )
    inactivity_period = forms.TypedChoiceField(
        label="Inactivity period",
        choices=[
            ("", "Never split conversations"),
            (86400, "1 day"),
            (259200, "3 days"),
            (604800, "7 days"),
            (1209600, "14 days"),
            (2592000, "30 days"),
        ],
        coerce=int,
        empty_value=None,
        required=False,
        help_text="After this long without activity, a reused old thread counts as a new conversation in analytics.",
    )

    def __init__(self, *args: Any, team: Team, **kwargs: Any) -> None:
        kwargs.setdefault("initial", {name: getattr(team, name) for name in self.base_fields})
        super().__init__(*args, organization=team.organization, team=team, **kwargs)


class TeamMembersForm(forms.Form):
    """One choice per member of the organization: not in the team, active member or observer."""

    CHOICES = [("", "Not in team"), (TeamRole.ACTIVE, "Active member"), (TeamRole.OBSERVER, "Observer")]

    def __init__(self, *args: Any, team: Team, memberships: list[Membership], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        current = dict(team.memberships.values_list("user_id", "role"))
        self.rows = []
        for membership in memberships:
            name = f"member_{membership.user_id}"
            self.fields[name] = forms.ChoiceField(
                label=membership.user.display_name,
                choices=self.CHOICES,
                required=False,
                initial=current.get(membership.user_id, ""),
            )
            self.rows.append((membership, self[name]))

    def members(self, role: str) -> list[Any]:
        return [m.user_id for m, field in self.rows if self.cleaned_data[field.name] == role]


class PersonalOptionsForm(forms.Form):
    remove_from_inbox_on_close = _bool_choice(
        "When a conversation is closed",
        false="Keep in my Inbox",
        true="Remove from my Inbox",
        help_text="Closed conversations you are watching stay in your Inbox either way.",
    )

    def __init__(self, *args: Any, membership: Membership, **kwargs: Any) -> None:
        kwargs.setdefault("initial", {"remove_from_inbox_on_close": membership.remove_from_inbox_on_close})
        super().__init__(*args, **kwargs)


class ProfileForm(forms.Form):
    name = forms.CharField(max_length=150, required=False, help_text="Shown to your teammates.")


class SearchPreferencesForm(forms.Form):
    """Settings › Search: where a search runs, over which dates and accounts, and the sidebar."""

    in_inbox = forms.ChoiceField(
        label="Searching from the Inbox covers",
        choices=[("all", "All conversations"), ("inbox", "The Inbox only")],
        widget=forms.RadioSelect,
    )
    in_team_inbox = forms.ChoiceField(
        label="Searching from a team inbox covers",
        choices=[("all", "All of the team's conversations"), ("inbox", "The team inbox only")],
        widget=forms.RadioSelect,
    )
    elsewhere = forms.ChoiceField(
        label="Searching from any other mailbox covers",
        choices=[("mailbox", "That mailbox"), ("all", "All conversations")],
        widget=forms.RadioSelect,
    )
    date_range = forms.ChoiceField(
        label="Default date range",
        choices=SEARCH_DATE_RANGES,
        required=False,
        help_text="A search with its own dates (after:, newer_than:…) uses those.",
    )
    excluded_accounts = forms.ModelMultipleChoiceField(
        label="Accounts left out of search",
        queryset=Account.objects.none(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="Unless a search names them with account: or runs everywhere (in:anywhere).",
    )
    recent_searches_shown = forms.IntegerField(
        label="Show recent searches",
        min_value=0,
        max_value=20,
        help_text="How many of your recent searches the sidebar lists; 0 turns them off.",
    )

    def __init__(self, *args: Any, user: User, **kwargs: Any) -> None:
        preferences = {**SEARCH_DEFAULTS, **user.search_preferences}
        kwargs.setdefault("initial", {**preferences, "recent_searches_shown": user.recent_searches_shown})
        super().__init__(*args, **kwargs)
        accounts = Account.objects.filter(organization__memberships__user=user).order_by("address").distinct()
        cast(forms.ModelMultipleChoiceField, self.fields["excluded_accounts"]).queryset = accounts


class InvitationSignUpForm(forms.Form):
    name = forms.CharField(max_length=150, widget=forms.TextInput(attrs={"autocomplete": "name", "autofocus": True}))
    password1 = forms.CharField(
        label="Password",
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text=password_validation.password_validators_help_text_html(),
    )
    password2 = forms.CharField(
        label="Password (again)", strip=False, widget=forms.PasswordInput(attrs={"autocomplete": "new-password"})
    )

    def __init__(self, *args: Any, invitation: Invitation, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.invitation = invitation

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        password1, password2 = cleaned.get("password1"), cleaned.get("password2")
        if password1 and password2 and password1 != password2:
            self.add_error("password2", "The two passwords differ.")
        elif password1:
            candidate = User(email=self.invitation.email, name=cleaned.get("name", ""))
            try:
                password_validation.validate_password(password1, user=candidate)
            except forms.ValidationError as error:
                self.add_error("password1", error)
        return cleaned
