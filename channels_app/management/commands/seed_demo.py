from typing import Any

from django.core.management.base import BaseCommand

from channels_app.demo import DEMO_PASSWORD, PEOPLE, create_demo, demo_exists


class Command(BaseCommand):
    help = "Create the demo organization, teams, users and conversations (from bundled .eml files), once."

    def handle(self, *args: Any, **options: Any) -> None:
        if demo_exists():
            self.stdout.write("Demo data already present; keeping it.")
            return
        organization = create_demo()
        self.stdout.write(
            self.style.SUCCESS(f"Created {organization.name}. Log in as {PEOPLE[0][0]} / {DEMO_PASSWORD}.")
        )
