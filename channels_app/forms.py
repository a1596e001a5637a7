"""Forms of the email account settings: connecting an IMAP/SMTP account, then its general,
history, mailbox and reconnection panels."""

from __future__ import annotations

from typing import Any, cast

from django import forms
from django.core.exceptions import PermissionDenied

from channels_app.imap.accounts import ImapAccountDetails
from channels_app.models import FolderRole, ImapConfig, ImapFolder, Security
from inboxes.models import Account, AccountKind, Membership, NewMessages, Team, User

# The seed's import choices: No history, 1 month to 10 years, All. Values are history_days;
# "all" stands for None (everything), "0" for no history (only mail arriving after connecting).
HISTORY_CHOICES = [
    ("0", "No history"),
    ("30", "1 month"),
    ("90", "3 months"),
    ("180", "6 months"),
    ("365", "1 year"),
    ("730", "2 years"),
    ("1825", "5 years"),
    ("3650", "10 years"),
    ("all", "All history"),
]


def history_value(days: int | None) -> str:
    return "all" if days is None else str(days)


def history_days(value: str) -> int | None:
    return None if value == "all" else int(value)


class HistoryField(forms.TypedChoiceField):
    def __init__(self, *, current: int | None = 30, **kwargs: Any) -> None:
        choices = list(HISTORY_CHOICES)
        if history_value(current) not in dict(choices):  # a window set by a command, e.g. 45 days
            choices.append((history_value(current), f"{current} days"))
        kwargs.setdefault("label", "History to import")
        super().__init__(choices=choices, coerce=history_days, initial=history_value(current), **kwargs)


class Sharing:
    PERSONAL = "personal"
    TEAM_INBOX = "team_inbox"
    INBOX = "inbox"
    CHOICES = [
        (PERSONAL, "Personal: only I see its messages"),
        (TEAM_INBOX, "Shared with a team: new messages go to the team inbox"),
        (INBOX, "Shared with people: new messages go to their own inboxes"),
    ]


ACCESS_CHOICES = [("", "No access"), (NewMessages.INBOX, "Inbox"), (NewMessages.AUTO_ARCHIVE, "Auto-archive")]


class SharingForm(forms.Form):
    """The sharing step every Add account form has: personal, a team inbox, or chosen people's
    inboxes (one row per colleague: no access, their Inbox, or auto-archived; the owner always
    has access). Subclasses may word the errors for what they connect."""

    team_error = "Choose the team whose inbox receives this account's mail."
    people_error = "Choose at least one person to share the account with."

    sharing = forms.ChoiceField(
        label="Who sees its messages", choices=Sharing.CHOICES, initial=Sharing.PERSONAL, widget=forms.RadioSelect
    )
    team = forms.ModelChoiceField(
        queryset=Team.objects.none(), required=False, empty_label="Choose a team", label="Team inbox"
    )

    def __init__(self, *args: Any, acting: Membership, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.acting = acting
        team = cast(forms.ModelChoiceField, self.fields["team"])
        team.queryset = Team.objects.filter(organization_id=acting.organization_id, has_inbox=True)
        colleagues = (
            Membership.objects.filter(organization_id=acting.organization_id)
            .exclude(user_id=acting.user_id)
            .select_related("user")
            .order_by("user__name", "user__email")
        )
        self.access_rows = []
        for membership in colleagues:
            name = f"access_{membership.user_id}"
            self.fields[name] = forms.ChoiceField(
                label=membership.user.display_name, choices=ACCESS_CHOICES, required=False
            )
            self.access_rows.append((membership, self[name]))

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        sharing = cleaned.get("sharing")
        if sharing == Sharing.TEAM_INBOX and not cleaned.get("team"):
            self.add_error("team", self.team_error)
        if sharing == Sharing.INBOX and not self.shared_with():
            self.add_error(None, self.people_error)
        return cleaned

    def check_may_share(self) -> None:
        """A shared account (team inbox or colleagues' inboxes) is for owners and admins to connect."""
        if self.is_shared and not self.acting.can_manage:
            raise PermissionDenied("Only owners and admins can connect shared accounts.")

    @property
    def is_shared(self) -> bool:
        return self.cleaned_data["sharing"] != Sharing.PERSONAL

    @property
    def delivery_team(self) -> Team | None:
        return self.cleaned_data["team"] if self.cleaned_data["sharing"] == Sharing.TEAM_INBOX else None

    def shared_with(self) -> list[tuple[User, str]]:
        """(user, NewMessages) for Inbox delivery."""
        if self.cleaned_data.get("sharing") != Sharing.INBOX:
            return []
        return [(m.user, self.cleaned_data[f.name]) for m, f in self.access_rows if self.cleaned_data.get(f.name)]


class ImapAccountForm(SharingForm):
    """Settings > Accounts > Add account > IMAP."""

    display_name = forms.CharField(
        max_length=120, required=False, help_text="The name recipients see, e.g. Acme Support."
    )
    email = forms.EmailField(label="Email address", widget=forms.EmailInput(attrs={"placeholder": "you@company.com"}))
    password = forms.CharField(
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text="Your email password, or an app-specific password if your provider uses two-factor sign-in.",
    )
    imap_host = forms.CharField(
        label="IMAP hostname", max_length=255, widget=forms.TextInput(attrs={"placeholder": "imap.provider.com"})
    )
    imap_port = forms.IntegerField(label="Port", min_value=1, max_value=65535, initial=993)
    imap_security = forms.ChoiceField(label="Encryption", choices=Security.choices, initial=Security.SSL)
    username = forms.CharField(max_length=255, required=False, help_text="Leave blank to use the email address.")
    smtp_host = forms.CharField(
        label="SMTP hostname",
        max_length=255,
        required=False,
        widget=forms.TextInput(attrs={"placeholder": "smtp.provider.com"}),
        help_text="Leave blank to use the IMAP hostname.",
    )
    smtp_port = forms.IntegerField(label="Port", min_value=1, max_value=65535, initial=587)
    smtp_security = forms.ChoiceField(label="Encryption", choices=Security.choices, initial=Security.STARTTLS)
    smtp_username = forms.CharField(
        label="SMTP username", max_length=255, required=False, help_text="Leave blank to use the IMAP username."
    )
    smtp_password = forms.CharField(
        label="SMTP password",
        strip=False,
        required=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text="Leave blank to use the IMAP password.",
    )
    history = HistoryField()

    def clean_email(self) -> str:
        email = self.cleaned_data["email"].strip().lower()
        existing = Account.objects.filter(
            organization_id=self.acting.organization_id, kind=AccountKind.IMAP, address=email
        ).first()
        # Adding an address again refreshes that account: only someone who may change it can.
        if existing and existing.owner_id != self.acting.user_id and not self.acting.can_manage:
            raise forms.ValidationError(f"{email} is already connected by {existing.owner.display_name}.")
        return email

    def details(self) -> ImapAccountDetails:
        data = self.cleaned_data
        return ImapAccountDetails(
            email=data["email"],
            display_name=data["display_name"].strip(),
            imap_host=data["imap_host"].strip(),
            imap_port=data["imap_port"],
            imap_security=data["imap_security"],
            username=data["username"].strip() or data["email"],
            password=data["password"],
            smtp_host=data["smtp_host"].strip(),
            smtp_port=data["smtp_port"],
            smtp_security=data["smtp_security"],
            smtp_username=data["smtp_username"].strip(),
            smtp_password=data["smtp_password"],
            history_days=data["history"],
        )


class AccountGeneralForm(forms.Form):
    """What may change after connecting. Hostnames are deliberately absent: a new hostname could
    point to another mailbox and mix its mail into these conversations."""

    display_name = forms.CharField(max_length=120, required=False, help_text="The name recipients see.")
    description = forms.CharField(max_length=120, help_text="Shown in the sidebar; accounts are sorted by it.")

    def __init__(self, *args: Any, account: Account, **kwargs: Any) -> None:
        kwargs.setdefault("initial", {"display_name": account.display_name, "description": account.description})
        super().__init__(*args, **kwargs)


class HistoryForm(forms.Form):
    def __init__(self, *args: Any, config: ImapConfig, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["history"] = HistoryField(
            current=config.history_days,
            help_text="A longer window imports the older mail in the background, starting with the next sync. "
            "A shorter one keeps what was already imported.",
        )


# The roles the owner maps by hand when detection fails (IMAP FAQ, "Mailboxes not configured").
MAPPED_ROLES: list[str] = [FolderRole.ARCHIVE, FolderRole.SENT, FolderRole.TRASH, FolderRole.SPAM]


class MailboxesForm(forms.Form):
    """One select per role. A role that has a folder must keep one; an unmapped one may stay so."""

    def __init__(self, *args: Any, folders: list[ImapFolder], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.folders = folders
        choosable = [f for f in folders if f.role != FolderRole.INBOX]
        self.current = {role: next((f for f in folders if f.role == role), None) for role in MAPPED_ROLES}
        for role in MAPPED_ROLES:
            mapped = self.current[role]
            self.fields[role] = forms.TypedChoiceField(
                label=FolderRole(role).label,
                choices=([] if mapped else [("", "Not configured")]) + [(str(f.pk), f.name) for f in choosable],
                coerce=int,
                empty_value=None,
                required=mapped is not None,
                initial=str(mapped.pk) if mapped else "",
            )
        self.rows = [(self[role], self.current[role]) for role in MAPPED_ROLES]

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        seen: dict[int, str] = {}
        for role in MAPPED_ROLES:
            pk = cleaned.get(role)
            if pk is None:
                continue
            if pk in seen:
                self.add_error(role, f"This mailbox is already the {FolderRole(seen[pk]).label} mailbox.")
            seen[pk] = role
        return cleaned

    def changes(self) -> dict[str, ImapFolder]:
        """Role -> newly picked folder, for the roles whose folder changed."""
        by_pk = {f.pk: f for f in self.folders}
        changed = {}
        for role in MAPPED_ROLES:
            pk = self.cleaned_data.get(role)
            current = self.current[role]
            if pk is not None and (current is None or current.pk != pk):
                changed[role] = by_pk[pk]
        return changed


class ReconnectForm(forms.Form):
    password = forms.CharField(
        label="New password",
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text="After a password change at your provider, enter the new password (or a new app password).",
    )
