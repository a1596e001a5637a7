"""Contact books, their contacts, the ways to reach each one, and groups (companies and tags).

A book is seen by its owner, by the whole organization when shared with it, by a team's members,
and by the users it is shared with (`ContactBook.objects.visible_to(user)`). Contacts are deleted
softly so that API clients syncing with `modified_since` learn about deletions.
"""

from __future__ import annotations

import re
import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from inboxes.models import Membership, Organization, Team, TeamMembership, User

_PHONE_NOISE = re.compile(r"[\s\-().]")


def address_key(value: str) -> str:
    """What an email address or phone number is looked up by: addresses in lower case, numbers
    without spaces, dashes, dots or parentheses ("00" read as "+")."""
    value = (value or "").strip()
    if "@" in value:
        return value.lower()
    number = _PHONE_NOISE.sub("", value)
    return "+" + number[2:] if number.startswith("00") else number


class ContactBookQuerySet(models.QuerySet["ContactBook"]):
    def visible_to(self, user: User) -> ContactBookQuerySet:
        """Books of the user's organizations that they own or that are shared with them."""
        organizations = Membership.objects.filter(user=user).values("organization_id")
        teams = TeamMembership.objects.filter(user=user).values("team_id")
        shared = ContactBookUser.objects.filter(user=user).values("book_id")
        return self.filter(organization_id__in=organizations).filter(
            Q(owner=user) | Q(share_with_organization=True) | Q(share_with_team__in=teams) | Q(id__in=shared)
        )


class ContactBook(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="contact_books")
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="contact_books")
    name = models.CharField(max_length=120)
    description = models.CharField(max_length=300, blank=True)
    share_with_organization = models.BooleanField(default=False)
    share_with_team = models.ForeignKey(Team, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    share_with_users = models.ManyToManyField(
        settings.AUTH_USER_MODEL, through="ContactBookUser", blank=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    objects = ContactBookQuerySet.as_manager()

    class Meta:
        ordering = ["name", "id"]

    def __str__(self) -> str:
        return self.name


class ContactBookUser(models.Model):
    """A user a book is shared with."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    book = models.ForeignKey(ContactBook, on_delete=models.CASCADE, related_name="shared_users")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["book", "user"], name="unique_contact_book_user")]

    def __str__(self) -> str:
        return f"{self.book_id} shared with {self.user_id}"


# The optional strings of a contact (spec/rest-api.md §3.6), returned when set.
CONTACT_STRINGS = (
    "first_name",
    "last_name",
    "middle_name",
    "phonetic_first_name",
    "phonetic_last_name",
    "phonetic_middle_name",
    "prefix",
    "suffix",
    "nickname",
    "file_as",
    "notes",
    "gender",
)


class ContactQuerySet(models.QuerySet["Contact"]):
    def alive(self) -> ContactQuerySet:
        return self.filter(deleted=False)


class Contact(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    book = models.ForeignKey(ContactBook, on_delete=models.CASCADE, related_name="contacts")
    first_name = models.CharField(max_length=200, blank=True)
    last_name = models.CharField(max_length=200, blank=True)
    middle_name = models.CharField(max_length=200, blank=True)
    phonetic_first_name = models.CharField(max_length=200, blank=True)
    phonetic_last_name = models.CharField(max_length=200, blank=True)
    phonetic_middle_name = models.CharField(max_length=200, blank=True)
    prefix = models.CharField(max_length=50, blank=True)
    suffix = models.CharField(max_length=50, blank=True)
    nickname = models.CharField(max_length=200, blank=True)
    file_as = models.CharField(max_length=200, blank=True)
    gender = models.CharField(max_length=50, blank=True)
    notes = models.TextField(blank=True)
    starred = models.BooleanField(default=False)
    deleted = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now)
    modified_at = models.DateTimeField(default=timezone.now)

    objects = ContactQuerySet.as_manager()

    class Meta:
        indexes = [models.Index(fields=["organization", "book", "modified_at"])]

    def __str__(self) -> str:
        return self.display_name

    @property
    def display_name(self) -> str:
        name = " ".join(part for part in (self.first_name, self.middle_name, self.last_name) if part)
        if name:
            return name
        info = next(iter(self.infos.all()), None)
        return info.value if info is not None else "(no name)"


class InfoKind(models.TextChoices):
    EMAIL = "email", "Email"
    PHONE_NUMBER = "phone_number", "Phone number"
    TWITTER = "twitter", "Twitter"
    FACEBOOK = "facebook", "Facebook"
    PHYSICAL_ADDRESS = "physical_address", "Address"
    URL = "url", "URL"
    CUSTOM = "custom", "Custom"


# The labels each kind allows (spec/rest-api.md §3.6).
INFO_LABELS: dict[str, tuple[str, ...]] = {
    InfoKind.EMAIL: ("home", "work", "personal", "other"),
    InfoKind.PHONE_NUMBER: ("main", "mobile", "home", "work", "home_fax", "work_fax", "other_fax", "pager", "other"),
    InfoKind.TWITTER: ("work", "personal", "other"),
    InfoKind.FACEBOOK: ("work", "personal", "other"),
    InfoKind.PHYSICAL_ADDRESS: ("work", "home", "other"),
    InfoKind.URL: ("homepage", "profile", "blog", "work", "personal", "other"),
    InfoKind.CUSTOM: ("other",),
}
ADDRESS_PARTS = ("street", "extended_address", "city", "region", "postal_code", "po_box", "country")


class ContactInfo(models.Model):
    """One way to reach a contact; `key` is the email or phone number as looked up."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="infos")
    position = models.PositiveSmallIntegerField(default=0)
    kind = models.CharField(max_length=20, choices=InfoKind.choices)
    label = models.CharField(max_length=20)
    custom_label = models.CharField(max_length=120, blank=True)
    value = models.CharField(max_length=500, blank=True)
    name = models.CharField(max_length=200, blank=True)
    street = models.CharField(max_length=200, blank=True)
    extended_address = models.CharField(max_length=200, blank=True)
    city = models.CharField(max_length=120, blank=True)
    region = models.CharField(max_length=120, blank=True)
    postal_code = models.CharField(max_length=40, blank=True)
    po_box = models.CharField(max_length=40, blank=True)
    country = models.CharField(max_length=120, blank=True)
    key = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["position", "id"]
        indexes = [models.Index(fields=["organization", "key"])]

    def __str__(self) -> str:
        return f"{self.kind} {self.value or self.name}"


class GroupKind(models.TextChoices):
    ORGANIZATION = "organization", "Company"
    GROUP = "group", "Group"


class ContactGroup(models.Model):
    """A company ("organization") or a group of one book."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    book = models.ForeignKey(ContactBook, on_delete=models.CASCADE, related_name="groups")
    kind = models.CharField(max_length=12, choices=GroupKind.choices)
    name = models.CharField(max_length=200)

    class Meta:
        ordering = ["name", "id"]
        constraints = [models.UniqueConstraint(fields=["book", "kind", "name"], name="unique_contact_group")]

    def __str__(self) -> str:
        return self.name


class ContactMembership(models.Model):
    """A contact in a group; title, location, department and description describe a job at a company."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="memberships")
    group = models.ForeignKey(ContactGroup, on_delete=models.CASCADE, related_name="memberships")
    position = models.PositiveSmallIntegerField(default=0)
    title = models.CharField(max_length=200, blank=True)
    location = models.CharField(max_length=200, blank=True)
    department = models.CharField(max_length=200, blank=True)
    description = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["position", "id"]

    def __str__(self) -> str:
        return f"{self.contact_id} in {self.group_id}"
