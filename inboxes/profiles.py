"""Member profiles: what signatures and templates read as `user.*` beyond the name and email.

Stored in Membership.profile: {"avatar_url": ..., "custom": {key: value}, "phones": [{"label",
"number"}]}. A custom field's label becomes its key the way templates normalise keys ("Job title"
is `user.custom.job_title`); a phone's label scopes it (`user.work.phone_number`)."""

from __future__ import annotations

import re
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db import transaction
from django.http import QueryDict

from inboxes.models import Membership

MAX_FIELDS = 50
MAX_VALUE = 500
BLANK_ROWS = 2
PHONE_LABELS = ("work", "mobile", "home")
_KEY = re.compile(r"^\w+$")


def profile_key(label: str) -> str:
    """ "Job title" → "job_title": the same rule as conversations.templating.normalise_key."""
    return "_".join(label.strip().lower().split())


def may_edit_profile(acting: Membership, member: Membership) -> bool:
    """Members edit their own profile; owners and admins edit everyone's."""
    return acting.can_manage or acting.user_id == member.user_id


def _pairs(data: QueryDict, label_name: str, value_name: str) -> list[tuple[str, str]]:
    labels, values = data.getlist(label_name), data.getlist(value_name)
    pairs = [(label.strip(), value.strip()) for label, value in zip(labels, values, strict=False)]
    return [(label, value) for label, value in pairs if label or value]


def clean_profile(data: QueryDict) -> tuple[dict[str, Any], list[str]]:
    """The profile a submitted form describes, and the problems with it (none: it can be saved)."""
    errors: list[str] = []
    custom: dict[str, str] = {}
    for label, value in _pairs(data, "custom_label", "custom_value"):
        key = profile_key(label)
        if not key or not _KEY.match(key):
            errors.append(f"“{label or value}” needs a label of letters, digits and spaces.")
        elif key in custom:
            errors.append(f"There are two fields named “{key}”.")
        else:
            custom[key] = value[:MAX_VALUE]
    phones: list[dict[str, str]] = []
    for label, number in _pairs(data, "phone_label", "phone_number"):
        key = profile_key(label)
        if not key or not _KEY.match(key):
            errors.append(f"The phone number {number} needs a label such as work or mobile.")
        elif any(phone["label"] == key for phone in phones):
            errors.append(f"There are two phone numbers labelled “{key}”.")
        else:
            phones.append({"label": key, "number": number[:40]})
    avatar_url = (data.get("avatar_url") or "").strip()
    if avatar_url:
        try:
            URLValidator(schemes=["http", "https"])(avatar_url)
        except ValidationError:
            errors.append("The avatar URL must be a web address starting with https://.")
    if len(custom) + len(phones) > MAX_FIELDS:
        errors.append(f"A profile can have at most {MAX_FIELDS} fields.")
    return {"avatar_url": avatar_url, "custom": custom, "phones": phones}, errors


@transaction.atomic
def do_update_member_profile(member: Membership, *, profile: dict[str, Any]) -> None:
    """Replace the member's profile fields (other keys of Membership.profile are kept)."""
    member = Membership.objects.select_for_update().get(id=member.id)
    member.profile = {**(member.profile or {}), **profile}
    member.save(update_fields=["profile"])


def profile_context(acting: Membership, member: Membership, profile: dict[str, Any] | None = None) -> dict[str, Any]:
    """What the Profile card shows: the rows to edit, with blank ones to add to."""
    profile = profile if profile is not None else (member.profile or {})
    custom = [(key, value) for key, value in (profile.get("custom") or {}).items()]
    phones = [(phone.get("label", ""), phone.get("number", "")) for phone in profile.get("phones") or []]
    return {
        "can_edit_profile": may_edit_profile(acting, member),
        "custom_rows": custom + [("", "")] * BLANK_ROWS,
        "phone_rows": phones + [("", "")] * BLANK_ROWS,
        "avatar_url": profile.get("avatar_url", ""),
        "phone_labels": PHONE_LABELS,
    }
