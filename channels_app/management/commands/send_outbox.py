from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from channels_app.outbox import dispatch_due, reap_expired


class Command(BaseCommand):
    help = "Send the outbox's due messages in the foreground (as the worker does) and print what it did."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--reap", action="store_true", help="First take back rows of dispatchers that died.")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["reap"]:
            requeued, uncertain = reap_expired()
            self.stdout.write(f"Reaped: {requeued} back to pending, {uncertain} failed as uncertain")
        result = dispatch_due()
        self.stdout.write(
            f"{result.sent} sent, {result.retrying} to retry, {result.failed} failed, {result.released} released"
        )
