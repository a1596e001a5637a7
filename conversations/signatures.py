"""Which signature a draft gets, and its rendering for the sender at send time.

A signature is a Liquid template rendered per sender, never copied into the draft: updating a
managed signature updates everyone's at once, and date logic runs when the email goes out."""

from __future__ import annotations

import re
import uuid
from typing import Any
from uuid import UUID

import nh3
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from conversations import templating
from conversations.models import Draft, SignatureChoice
from conversations.sanitize import (
    ATTRIBUTES,
    DROPPED_WITH_CONTENT,
    STYLE_PROPERTIES,
    TAGS,
    URL_SCHEMES,
    _clean_style,
    frame_document,
    sanitize_email_html,
)
from inboxes.models import Alias, AliasUserSetting, Membership, Organization, Signature, SignatureInsert, User


def signature_of(draft: Draft, user: User) -> Signature | None:
    """The draft's own choice, else the sender's own signature on the alias, else the alias's."""
    if draft.signature_choice == SignatureChoice.NONE:
        return None
    if draft.signature_choice == SignatureChoice.CHOSEN:
        return draft.signature
    if draft.alias_id is None:
        return None
    setting = AliasUserSetting.objects.filter(alias_id=draft.alias_id, user=user).select_related("signature").first()
    if setting is not None and setting.signature_id:
        return setting.signature
    return _alias_signature(draft)


def _alias_signature(draft: Draft) -> Signature | None:
    alias = draft.alias
    return alias.signature if alias is not None and alias.signature_id else None


def signature_source(signature: Signature, *, first_email: bool) -> str:
    """The template the insert mode gives: replies get none, or the alternative, or the same."""
    if signature.insert_in == SignatureInsert.ALL or first_email:
        return signature.body
    if signature.insert_in == SignatureInsert.FIRST_THEN_ALTERNATIVE:
        return signature.alternative_body
    return ""


def render_signature(draft: Draft, user: User, *, first_email: bool, context: dict) -> str:
    """The signature's HTML for this draft and sender ("" for none). Raises TemplateProblem."""
    signature = signature_of(draft, user)
    if signature is None:
        return ""
    source = signature_source(signature, first_email=first_email)
    return templating.render(source, context) if source.strip() else ""


def sender_membership(draft: Draft, user: User) -> Membership | None:
    return Membership.objects.filter(organization_id=draft.organization_id, user=user).first()


# --- Settings › Signatures -----------------------------------------------------------------------

PERSONAL_LIMIT = 100
ORGANIZATION_LIMIT = 500

# Liquid markup is not HTML: it is held aside while the sanitiser runs, so that `{% if a > b %}`
# is not escaped and `<img src="{{ user.avatar_url }}">` keeps its variable.
_LIQUID = re.compile(r"\{\{.*?\}\}|\{%.*?%\}", re.DOTALL)
_HELD = re.compile(r"liquidmark(\d+)x")
# Properties that could move a signature over the app, or make it unclickable, even if allowed
# elsewhere; and negative margins, which pull it out of its box. Other styling stays.
_BANNED_PROPERTIES = frozenset({"position", "pointer-events"})
_NEGATIVE = re.compile(r"(^|\s)-\s*\d")


def _clean_signature_style(value: str) -> str | None:
    kept = []
    for declaration in (_clean_style(value) or "").split(";"):
        name, _, rest = declaration.partition(":")
        name = name.strip().lower()
        if name in _BANNED_PROPERTIES or (name.startswith("margin") and _NEGATIVE.search(rest)):
            continue
        kept.append(declaration)
    return ";".join(kept) or None


def _signature_attribute(tag: str, attribute: str, value: str) -> str | None:
    return _clean_signature_style(value) if attribute == "style" else value


_SIGNATURE = nh3.Cleaner(
    tags=set(TAGS),
    clean_content_tags=set(DROPPED_WITH_CONTENT),
    attributes=ATTRIBUTES,
    attribute_filter=_signature_attribute,
    url_schemes=set(URL_SCHEMES),
    filter_style_properties=set(STYLE_PROPERTIES) - _BANNED_PROPERTIES,
    link_rel=None,
)


def clean_signature_html(source: str) -> str:
    """The signature as saved: tags most email clients do not support are removed (the outgoing
    mail allow-list), and so are `position`, `pointer-events` and negative margins."""
    held: list[str] = []

    def hold(match: re.Match[str]) -> str:
        held.append(match.group(0))
        return f"liquidmark{len(held) - 1}x"

    cleaned = _SIGNATURE.clean(_LIQUID.sub(hold, source))
    return _HELD.sub(lambda match: held[int(match.group(1))] if int(match.group(1)) < len(held) else "", cleaned)


def check_template(source: str, *, context: dict[str, Any]) -> None:
    """Parse and try the template with real variables; raises TemplateProblem."""
    templating.variable_paths(source)
    templating.render(source, context)


def sender_context(user: User, membership: Membership | None) -> dict[str, Any]:
    """What a signature reads when rendered for `user`, without a draft (settings, preview)."""
    return {
        "user": templating.user_variables(user, membership),
        "recipient": {},
        "conversation": {},
        "message": {},
    }


def preview_document(signature: Signature, membership: Membership) -> str:
    """The signature rendered for a member, as a sandboxed frame's document (remote images go
    through our proxy, as in a message). Raises TemplateProblem."""
    rendered = templating.render(signature.body, sender_context(membership.user, membership))
    shown = sanitize_email_html(clean_signature_html(rendered), message_id=uuid.UUID(int=0), allow_remote_images=True)
    return frame_document(shown.html)


@transaction.atomic
def do_save_signature(
    signature: Signature | None,
    *,
    organization_id: UUID,
    owner: User | None,
    name: str,
    format: str,
    body: str,
    insert_in: str,
    alternative_body: str,
) -> Signature:
    """Create (signature None; `owner` None for an organization signature) or change a signature,
    its HTML sanitised. Raises ValidationError past the limits (100 personal signatures per
    person, 500 organization signatures per organization)."""
    if signature is None:
        _check_limit(organization_id, owner)
        signature = Signature(organization_id=organization_id, owner=owner)
    signature.name = name
    signature.format = format
    signature.body = clean_signature_html(body)
    signature.insert_in = insert_in
    # The reply signature is rich text only, and only used by its insert mode.
    signature.alternative_body = (
        clean_signature_html(alternative_body) if insert_in == SignatureInsert.FIRST_THEN_ALTERNATIVE else ""
    )
    signature.updated_at = timezone.now()
    signature.save()
    return signature


def _check_limit(organization_id: UUID, owner: User | None) -> None:
    # Counted under a lock on the organization's row, so two requests cannot both pass at the limit.
    Organization.objects.select_for_update().filter(id=organization_id).first()
    existing = Signature.objects.filter(organization_id=organization_id, owner=owner)
    if owner is None and existing.count() >= ORGANIZATION_LIMIT:
        raise ValidationError(
            f"An organization can have at most {ORGANIZATION_LIMIT} organization signatures. Delete one first."
        )
    if owner is not None and existing.count() >= PERSONAL_LIMIT:
        raise ValidationError(f"You can have at most {PERSONAL_LIMIT} personal signatures. Delete one first.")


@transaction.atomic
def do_delete_signature(signature: Signature) -> None:
    """Aliases and drafts that used it fall back to no signature (their links are set null)."""
    signature.delete()


@transaction.atomic
def do_link_signature(signature: Signature, *, user: User, aliases: list[Alias]) -> None:
    """Make `signature` the user's own signature on exactly these aliases (among those where it
    was); their other aliases keep theirs."""
    chosen = {alias.id for alias in aliases}
    AliasUserSetting.objects.filter(user=user, signature=signature).exclude(alias_id__in=chosen).update(signature=None)
    for alias in aliases:
        AliasUserSetting.objects.update_or_create(
            alias=alias, user=user, defaults={"organization_id": alias.organization_id, "signature": signature}
        )
