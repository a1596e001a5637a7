"""Which signature a draft gets, and its rendering for the sender at send time.

A signature is a Liquid template rendered per sender, never copied into the draft: updating a
managed signature updates everyone's at once, and date logic runs when the email goes out."""

from __future__ import annotations

from conversations import templating
from conversations.models import Draft, SignatureChoice
from inboxes.models import AliasUserSetting, Membership, Signature, SignatureInsert, User


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
