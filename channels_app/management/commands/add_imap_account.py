import os
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from channels_app.imap.accounts import ImapAccountDetails, do_connect_imap_account
from channels_app.imap.connection import ConnectionProblem
from channels_app.models import Security
from inboxes.models import Membership, Organization, Team, User
from missive.ids import is_uuid


class Command(BaseCommand):
    help = "Connect an IMAP/SMTP account (verified first). The password is read from an environment variable."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--organization", required=True, help="Organization name or id.")
        parser.add_argument("--owner", required=True, help="Email of the member who connects the account.")
        parser.add_argument("--team", help="Deliver to this team's inbox (name or id); otherwise personal.")
        parser.add_argument("--email", required=True, help="The mailbox address.")
        parser.add_argument("--name", default="", help="Display name.")
        parser.add_argument("--host", required=True)
        parser.add_argument("--port", type=int, default=993)
        parser.add_argument("--security", choices=Security.values, default=Security.SSL)
        parser.add_argument("--username", help="Defaults to the email address.")
        parser.add_argument("--password-env", default="IMAP_PASSWORD", help="Variable holding the password.")
        parser.add_argument("--smtp-host", default="")
        parser.add_argument("--smtp-port", type=int, default=587)
        parser.add_argument("--smtp-security", choices=Security.values, default=Security.STARTTLS)
        parser.add_argument(
            "--history-days", default="30", help="Days of history to import; 0 for none, 'all' for everything."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        password = os.environ.get(options["password_env"], "")
        if not password:
            raise CommandError(f"Set the password in the environment variable {options['password_env']}.")
        organization = _organization(options["organization"])
        owner = User.objects.filter(email=options["owner"].lower()).first()
        if owner is None or not Membership.objects.filter(organization=organization, user=owner).exists():
            raise CommandError(f"{options['owner']} is not a member of {organization.name}.")
        team = _team(organization, options["team"]) if options["team"] else None
        details = ImapAccountDetails(
            email=options["email"],
            display_name=options["name"],
            imap_host=options["host"],
            imap_port=options["port"],
            imap_security=options["security"],
            username=options["username"] or options["email"],
            password=password,
            smtp_host=options["smtp_host"],
            smtp_port=options["smtp_port"],
            smtp_security=options["smtp_security"],
            history_days=_history_days(options["history_days"]),
        )
        try:
            account, created = do_connect_imap_account(organization, details, owner=owner, team=team, shared=bool(team))
        except ConnectionProblem as problem:
            raise CommandError(problem.message) from problem
        verb = "Connected" if created else "Refreshed"
        self.stdout.write(self.style.SUCCESS(f"{verb} {account.address} (account {account.id})."))


def _organization(value: str) -> Organization:
    found = Organization.objects.filter(name=value).first()
    if found is None and is_uuid(value):
        found = Organization.objects.filter(id=value).first()
    if found is None:
        raise CommandError(f"No organization named {value!r}.")
    return found


def _team(organization: Organization, value: str) -> Team:
    team = Team.objects.filter(organization=organization, name=value).first()
    if team is None:
        raise CommandError(f"No team named {value!r} in {organization.name}.")
    return team


def _history_days(value: str) -> int | None:
    if value == "all":
        return None
    try:
        days = int(value)
    except ValueError:
        raise CommandError("--history-days takes a number of days, 0, or 'all'.") from None
    if days < 0:
        raise CommandError("--history-days cannot be negative.")
    return days
