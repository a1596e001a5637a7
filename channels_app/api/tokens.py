"""Personal API tokens: created in the settings (shown once), stored as a SHA-256 digest, revoked
by their owner. A token is opaque to the server: the current `missive_pat-…` form and the legacy
bare UUID form are looked up the same way."""

from __future__ import annotations

import hashlib
import secrets
from uuid import UUID

from django.utils import timezone

from channels_app.models import ApiToken
from inboxes.models import User

PREFIX = "missive_pat-"
# last_used_at is a hint for its owner, not an audit log: written at most this often.
LAST_USED_PRECISION_SECONDS = 60


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(user: User, name: str) -> tuple[ApiToken, str]:
    """The new token's row and the token itself, which is never stored and never shown again."""
    token = PREFIX + secrets.token_urlsafe(32)
    row = ApiToken.objects.create(user=user, name=name.strip()[:100], digest=digest(token), prefix=token[:16])
    return row, token


def revoke_token(user: User, token_id: UUID | str) -> bool:
    return bool(
        ApiToken.objects.filter(id=token_id, user=user, revoked_at__isnull=True).update(revoked_at=timezone.now())
    )


def user_for_token(token: str) -> User | None:
    """The active user a live token acts as, or None."""
    row = (
        ApiToken.objects.select_related("user")
        .filter(digest=digest(token), revoked_at__isnull=True, user__is_active=True)
        .first()
    )
    if row is None:
        return None
    now = timezone.now()
    if row.last_used_at is None or (now - row.last_used_at).total_seconds() > LAST_USED_PRECISION_SECONDS:
        ApiToken.objects.filter(id=row.id).update(last_used_at=now)
    return row.user
