"""Attachment URLs in API objects: signed links that download the file without a session or a
token, for a limited time, as the vendor's pre-signed storage URLs do; API clients fetch them
with a plain GET. Only someone who could read the object that listed the file gets its link."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core import signing
from django.db.models import Model
from django.urls import reverse

from conversations.models import Attachment, CannedResponseAttachment, CommentAttachment, DraftAttachment

SALT = "channels_app.api.files"
MAX_AGE_SECONDS = 7 * 24 * 3600
KINDS: dict[str, type[Model]] = {
    "m": Attachment,
    "c": CommentAttachment,
    "d": DraftAttachment,
    "r": CannedResponseAttachment,
}
_KIND_OF = {model: kind for kind, model in KINDS.items()}


def signed_file_url(attachment: Any) -> str:
    value = signing.TimestampSigner(salt=SALT).sign(f"{_KIND_OF[type(attachment)]}.{attachment.id}")
    return settings.SITE_URL + reverse("api_file", args=[value])


def file_for_signature(value: str) -> Any | None:
    """The attachment a link names, or None when it is forged, expired or gone."""
    try:
        unsigned = signing.TimestampSigner(salt=SALT).unsign(value, max_age=MAX_AGE_SECONDS)
    except signing.BadSignature:
        return None
    kind, _, object_id = unsigned.partition(".")
    model = KINDS.get(kind)
    if model is None:
        return None
    return model._default_manager.filter(id=object_id).first()
