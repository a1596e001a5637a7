from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from channels_app.imap.connection import ConnectionProblem
from channels_app.imap.sync import sync_account
from inboxes.models import Account, AccountKind
from missive.ids import is_uuid


class Command(BaseCommand):
    help = "Run one full sync of an IMAP account in the foreground and print what it did."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("account", help="Account id or email address.")
        parser.add_argument("--once", action="store_true", help="One pass (the only mode; kept for scripts).")

    def handle(self, *args: Any, **options: Any) -> None:
        account = _account(options["account"])
        try:
            result = sync_account(account, wait=True)
        except ConnectionProblem as problem:
            raise CommandError(problem.message) from problem
        if result.locked_out:
            raise CommandError("Another sync of this account is running; try again when it ends.")
        self.stdout.write(
            f"{result.new} new, {result.updated} updated, {result.failed} failed in {result.seconds:.2f} s"
        )


def _account(value: str) -> Account:
    accounts = Account.objects.filter(kind=AccountKind.IMAP)
    found = accounts.filter(address=value.lower()).first()
    if found is None and is_uuid(value):
        found = accounts.filter(id=value).first()
    if found is None:
        raise CommandError(f"No IMAP account {value!r}.")
    return found
