"""Create an organization and its first owner, for a fresh installation."""

import os
from typing import Any

from django.contrib.auth import password_validation
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from inboxes.actions import do_create_organization
from inboxes.models import Membership, Role, User


class Command(BaseCommand):
    help = (
        "Create an organization with an owner. The owner's password is read from the OWNER_PASSWORD "
        "environment variable so that it never appears in the shell history or the process list. "
        "An existing user with that email is reused and keeps their password; running it again "
        "for an organization they already own changes nothing."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--name", required=True, help="Name of the organization.")
        parser.add_argument("--owner-email", required=True, help="Email the owner signs in with.")
        parser.add_argument("--owner-name", default="", help="The owner's display name.")

    def handle(self, *args: Any, name: str, owner_email: str, owner_name: str, **options: Any) -> None:
        password = os.environ.get("OWNER_PASSWORD", "")
        if not password:
            raise CommandError(
                "Set the owner's password in the OWNER_PASSWORD environment variable, e.g. "
                "OWNER_PASSWORD='...' manage.py create_organization --name Acme --owner-email you@acme.com"
            )
        email = User.objects.normalize_email(owner_email.strip()).lower()
        with transaction.atomic():
            owner = User.objects.filter(email=email).first()
            if owner is None:
                candidate = User(email=email, name=owner_name)
                try:
                    password_validation.validate_password(password, user=candidate)
                except ValidationError as error:
                    raise CommandError("OWNER_PASSWORD is too weak: " + " ".join(error.messages)) from None
                owner = User.objects.create_user(email, password, name=owner_name)
                self.stdout.write(f"Created user {email}.")
            else:
                self.stdout.write(f"Using the existing user {email} (password unchanged).")
            existing = Membership.objects.filter(user=owner, role=Role.OWNER, organization__name=name).first()
            if existing is not None:
                organization = existing.organization
                self.stdout.write(f"{email} already owns {name} ({organization.id}); nothing to do.")
                return
            organization = do_create_organization(name=name, owner=owner)
        self.stdout.write(self.style.SUCCESS(f"Created organization {name} ({organization.id}) owned by {email}."))
