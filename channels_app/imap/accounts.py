"""Connecting an IMAP/SMTP account: verified before it is saved, refreshed when added again."""

from __future__ import annotations

from dataclasses import dataclass

from django.db import transaction

from channels_app.imap.connection import ServerSettings, verify
from channels_app.models import ImapConfig, Security
from inboxes.actions import do_create_account
from inboxes.models import Account, AccountKind, AccountStatus, DeliveryMode, Organization, Team, User


@dataclass
class ImapAccountDetails:
    email: str
    display_name: str
    imap_host: str
    imap_port: int
    imap_security: str
    username: str
    password: str
    smtp_host: str = ""
    smtp_port: int = 587
    smtp_security: str = Security.STARTTLS
    smtp_username: str = ""
    smtp_password: str = ""
    history_days: int | None = 30

    @property
    def server(self) -> ServerSettings:
        return ServerSettings(self.imap_host, self.imap_port, self.imap_security, self.username, self.password)


def do_connect_imap_account(
    organization: Organization,
    details: ImapAccountDetails,
    *,
    owner: User,
    team: Team | None = None,
    shared: bool = False,
) -> tuple[Account, bool]:
    """Verify the credentials (raises ConnectionProblem), then create the account, or refresh the
    one already connected with this address in the organization. Returns (account, created)."""
    verify(details.server)
    with transaction.atomic():
        email = details.email.strip().lower()
        account = (
            Account.objects.select_for_update()
            .filter(organization=organization, kind=AccountKind.IMAP, address=email)
            .first()
        )
        created = account is None
        credentials = {"imap_password": details.password, "smtp_password": details.smtp_password or details.password}
        if account is None:
            account = do_create_account(
                organization,
                owner=owner,
                kind=AccountKind.IMAP,
                address=email,
                description=details.display_name or email,
                display_name=details.display_name,
                is_shared=shared,
                team=team,
                credentials=credentials,
            )
        else:
            # Re-adding refreshes the connection in place: same account, same conversations.
            account.credentials = credentials
            account.display_name = details.display_name or account.display_name
            account.status, account.status_reason = AccountStatus.CONNECTED, ""
            if team is not None:
                account.team, account.is_shared, account.delivery_mode = team, True, DeliveryMode.TEAM_INBOX
            account.save()
        settings = {
            "imap_host": details.imap_host,
            "imap_port": details.imap_port,
            "imap_security": details.imap_security,
            "imap_username": details.username,
            "smtp_host": details.smtp_host or details.imap_host,
            "smtp_port": details.smtp_port,
            "smtp_security": details.smtp_security,
            "smtp_username": details.smtp_username or details.username,
            "history_days": details.history_days,
        }
        # A refreshed account starts over with a clean connection record.
        ImapConfig.objects.update_or_create(
            account=account,
            defaults={**settings, "failing_since": None, "failure_count": 0, "next_attempt_at": None},
            create_defaults={**settings, "organization": organization},
        )
    return account, created
