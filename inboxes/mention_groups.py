"""Custom @mention groups (seed: Collaboration › Custom mention groups).

A group is a name set on people in Settings › Users › a member's profile, "@mention group"
field; a person can be in several. `@design-leads` in a comment mentions every member, with the
same effects as mentioning each one. Groups belong to one organization and exist while someone
is in them.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Iterable
from typing import Any
from uuid import UUID

from django import forms
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Count
from django.dispatch import receiver

from inboxes.models import Membership, MentionGroup, MentionGroupMember, Team, User
from inboxes.signals import member_removed

# What comment_format.MENTION reads as one handle: letters, digits, "_", "-" and inner dots.
NAME = re.compile(r"^[\w][\w.\-]*[\w]$|^[\w]$")
# @all mentions everyone with access to the conversation: no group can be called so.
MENTION_ALL = "all"


def mention_handle(name: str) -> str:
    """A person's display name or a team's name as a handle: what the suggestions insert."""
    return "-".join(name.lower().split())


def clean_group_name(organization_id: UUID, value: str) -> str:
    """The group name as typed (an @ in front is dropped), or why it cannot be one."""
    name = value.strip().removeprefix("@").strip()
    if not name:
        raise ValidationError("Type the name of a group, such as design-leads.")
    if len(name) > 40:
        raise ValidationError("A group name has at most 40 characters.")
    if not NAME.match(name):
        raise ValidationError(
            "Use letters, digits, hyphens and underscores only (no spaces), "
            "so that @%(name)s can be typed in a comment.",
            params={"name": re.sub(r"\s+", "-", name)},
        )
    if name.lower() == MENTION_ALL:
        raise ValidationError("@all already mentions everyone with access: pick another name.")
    teams = Team.objects.filter(organization_id=organization_id).values_list("name", flat=True)
    if any(mention_handle(team) == name.lower() for team in teams):
        raise ValidationError("A team already answers to @%(name)s: pick another name.", params={"name": name})
    return name


class MentionGroupForm(forms.Form):
    group = forms.CharField(
        label="@mention group",
        max_length=41,
        widget=forms.TextInput(attrs={"placeholder": "design-leads", "list": "mention-group-names"}),
        help_text="Type an existing group to add them to it, or a new name to create one.",
    )

    def __init__(self, *args: Any, organization_id: UUID, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.organization_id = organization_id

    def clean_group(self) -> str:
        return clean_group_name(self.organization_id, self.cleaned_data["group"])


@transaction.atomic
def do_add_to_mention_group(member: Membership, *, name: str) -> MentionGroup:
    """Put a member of the organization in a group, creating it with this spelling if new."""
    name = clean_group_name(member.organization_id, name)
    group = MentionGroup.objects.filter(organization_id=member.organization_id, name__iexact=name).first()
    if group is None:
        group = MentionGroup.objects.create(organization_id=member.organization_id, name=name)
    _, created = MentionGroupMember.objects.get_or_create(
        group=group, user_id=member.user_id, defaults={"organization_id": member.organization_id}
    )
    if not created:
        raise ValidationError(
            "%(person)s is already in @%(group)s.", params={"person": member.user.display_name, "group": group.name}
        )
    return group


@transaction.atomic
def do_remove_from_mention_group(member: Membership, group: MentionGroup) -> None:
    """Take a member out of a group; a group nobody is left in goes."""
    MentionGroupMember.objects.filter(group=group, user_id=member.user_id).delete()
    if not group.memberships.exists():
        group.delete()


def groups_of(organization_id: UUID, user_ids: Iterable[UUID]) -> dict[UUID, list[MentionGroup]]:
    """Each person's groups in the organization, by name."""
    found: dict[UUID, list[MentionGroup]] = defaultdict(list)
    rows = MentionGroupMember.objects.filter(organization_id=organization_id, user_id__in=list(user_ids))
    for row in rows.select_related("group").order_by("group__name"):
        found[row.user_id].append(row.group)
    return found


def members_mentioned(organization_id: UUID, handles: set[str]) -> set[UUID]:
    """Everyone in the groups these handles name (current members of the organization only)."""
    if not handles:
        return set()
    groups = [g for g in MentionGroup.objects.filter(organization_id=organization_id) if g.handle in handles]
    if not groups:
        return set()
    return set(
        User.objects.filter(mention_groups__group__in=groups, memberships__organization_id=organization_id).values_list(
            "id", flat=True
        )
    )


def matching_groups(organization_id: UUID, typed: str) -> list[tuple[MentionGroup, int]]:
    """Groups whose name starts with what was typed after @ (any part between hyphens), with
    how many people are in each."""
    found: list[tuple[MentionGroup, int]] = []
    groups = MentionGroup.objects.filter(organization_id=organization_id).annotate(size=Count("memberships"))
    for group in groups.order_by("name"):  # (a grouped query drops Meta.ordering)
        words = [group.handle, *re.split(r"[-_.]", group.handle)]
        if any(word.startswith(typed) for word in words):
            found.append((group, group.size))
    return found


def mention_group_suggestions(
    organization_id: UUID, typed: str, people: list[dict[str, Any]], members: list[User]
) -> list[dict[str, Any]]:
    """For the chat's @ suggestions: the groups matching what was typed; and, on the people
    suggested, their groups (which tell apart people with the same name), with a handle of
    their own (their email's name) when their name's handle is somebody else's too."""
    by_user = groups_of(organization_id, [p["user"].id for p in people])
    name_handles = Counter(mention_handle(user.display_name) for user in members)
    local_parts = Counter(user.email.split("@")[0].lower() for user in members)
    for person in people:
        user = person["user"]
        person["groups"] = [group.name for group in by_user[user.id]]
        local = user.email.split("@")[0].lower()
        if name_handles[person["handle"]] > 1 and local_parts[local] == 1:
            person["handle"] = local
    return [
        {
            "handle": group.handle,
            "label": f"@{group.name}",
            "group": True,
            "hint": _people(count),
        }
        for group, count in matching_groups(organization_id, typed)
    ]


def _people(count: int) -> str:
    return f"{count} {'person' if count == 1 else 'people'}"


@receiver(member_removed)
def _forget_removed_member(sender: Any, *, organization: Any, user: Any, **_: Any) -> None:
    """Someone who leaves the organization leaves its groups; groups left empty go."""
    MentionGroupMember.objects.filter(organization_id=organization.id, user_id=user.id).delete()
    MentionGroup.objects.filter(organization_id=organization.id, memberships__isnull=True).delete()
