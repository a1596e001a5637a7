"""Settings › Signatures: each person's own signatures and the organization's (managed) ones.

Personal signatures belong to their author (anyone else's is a 404). Organization signatures are
seen and used by every member, and only owners and admins create, change or delete them (403).
Linking a signature to aliases sets it as the person's own signature on each (any member may link
an organization signature to the aliases they send from)."""

from __future__ import annotations

from typing import Any, cast
from uuid import UUID

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpResponse
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.views.decorators.http import require_POST, require_safe
from django_htmx.http import trigger_client_event

from conversations.signatures import (
    ORGANIZATION_LIMIT,
    PERSONAL_LIMIT,
    check_template,
    do_delete_signature,
    do_link_signature,
    do_save_signature,
    preview_document,
    sender_context,
)
from conversations.templating import TemplateProblem
from inboxes.access import get_membership
from inboxes.aliases import signature_choices, usable_aliases
from inboxes.models import Alias, AliasUserSetting, Membership, Signature, SignatureFormat, SignatureInsert
from inboxes.pages import settings_context
from missive.htmx import AuthenticatedRequest, leave_page, render_page


class SignatureForm(forms.Form):
    name = forms.CharField(max_length=120, help_text="Only you and your teammates see it, in menus.")
    body = forms.CharField(
        label="Content",
        required=False,
        widget=forms.Textarea(attrs={"rows": 8, "spellcheck": "false"}),
        help_text="Liquid variables such as {{ user.first_name }} are filled in for the sender when the email is sent.",
    )
    format = forms.ChoiceField(choices=SignatureFormat.choices, widget=forms.RadioSelect, label="Editor")
    insert_in = forms.ChoiceField(choices=SignatureInsert.choices, widget=forms.RadioSelect, label="Insert in")
    alternative_body = forms.CharField(
        label="Signature for replies",
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Rich text only: a shorter sign-off, such as your name. Left empty, replies get no signature.",
    )

    def __init__(self, *args: Any, membership: Membership, signature: Signature | None = None, **kwargs: Any) -> None:
        if signature is not None and "initial" not in kwargs:
            kwargs["initial"] = {
                field: getattr(signature, field)
                for field in ("name", "body", "format", "insert_in", "alternative_body")
            }
        kwargs.setdefault("initial", {}).setdefault("format", SignatureFormat.RICH)
        kwargs["initial"].setdefault("insert_in", SignatureInsert.ALL)
        super().__init__(*args, **kwargs)
        self.context = sender_context(membership.user, membership)

    def _template(self, field: str) -> str:
        source = self.cleaned_data.get(field, "")
        try:
            check_template(source, context=self.context)
        except TemplateProblem as problem:
            raise ValidationError(str(problem)) from None
        return source

    def clean_body(self) -> str:
        return self._template("body")

    def clean_alternative_body(self) -> str:
        return self._template("alternative_body")


class _AliasChoice(forms.ModelMultipleChoiceField):
    def label_from_instance(self, obj: Any) -> str:
        label = f"{obj.name} <{obj.address}>" if obj.name else obj.address
        return f"{label} — {obj.description}" if obj.description else label


class LinkForm(forms.Form):
    aliases = _AliasChoice(
        queryset=Alias.objects.none(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        label="Use on these aliases",
        help_text="Your emails from these addresses get this signature. Each alias can have one.",
    )

    def __init__(self, *args: Any, membership: Membership, signature: Signature, **kwargs: Any) -> None:
        if "initial" not in kwargs:
            linked = AliasUserSetting.objects.filter(user=membership.user, signature=signature)
            kwargs["initial"] = {"aliases": list(linked.values_list("alias_id", flat=True))}
        super().__init__(*args, **kwargs)
        cast(forms.ModelChoiceField, self.fields["aliases"]).queryset = usable_aliases(
            membership.user, membership.organization_id
        )


def _get_signature(membership: Membership, signature_id: UUID) -> Signature:
    """The user's own signature or one of the organization's, or 404."""
    return get_object_or_404(signature_choices(membership.user, membership.organization_id), id=signature_id)


def _may_edit(membership: Membership, signature: Signature) -> bool:
    return membership.can_manage if signature.is_managed else signature.owner_id == membership.user_id


def _changeable(membership: Membership, signature: Signature) -> Signature:
    if not _may_edit(membership, signature):
        raise PermissionDenied("Only the organization's owners and admins can change organization signatures.")
    return signature


@require_safe
@login_required
def signatures_settings(request: AuthenticatedRequest, org_id: UUID) -> HttpResponse:
    """The user's signatures and the organization's."""
    membership = get_membership(request.user, org_id)
    signatures = list(signature_choices(request.user, org_id))
    context = settings_context(
        request,
        membership,
        "signatures",
        personal=[signature for signature in signatures if not signature.is_managed],
        managed=[signature for signature in signatures if signature.is_managed],
        personal_limit=PERSONAL_LIMIT,
        organization_limit=ORGANIZATION_LIMIT,
    )
    return render_page(request, "conversations/settings/signatures.html", context)


def _render_editor(
    request: AuthenticatedRequest,
    membership: Membership,
    *,
    signature: Signature | None,
    managed: bool,
    form: SignatureForm,
    link_form: LinkForm | None = None,
    status: int = 200,
) -> HttpResponse:
    members = (
        Membership.objects.filter(organization_id=membership.organization_id)
        .select_related("user")
        .order_by("user__name", "user__email")
    )
    if signature is not None and link_form is None:
        link_form = LinkForm(membership=membership, signature=signature)
    context = settings_context(
        request,
        membership,
        "signatures",
        signature=signature,
        managed=managed,
        may_edit=signature is None or _may_edit(membership, signature),
        form=form,
        link_form=link_form,
        members=members,
        profile_url=reverse("settings_member", args=[membership.organization_id, membership.user_id]),
    )
    return render_page(
        request,
        "conversations/settings/signature.html",
        context,
        partials={"signature-editor": "editor", "signature-links": "links"},
        status=status,
    )


@require_safe
@login_required
def new_signature(request: AuthenticatedRequest, org_id: UUID) -> HttpResponse:
    """The editor for a new personal signature, or (?managed=1, owners and admins) organization one."""
    membership = get_membership(request.user, org_id)
    managed = request.GET.get("managed") == "1"
    if managed and not membership.can_manage:
        raise PermissionDenied("Only the organization's owners and admins can create organization signatures.")
    return _render_editor(
        request, membership, signature=None, managed=managed, form=SignatureForm(membership=membership)
    )


@require_POST
@login_required
def create_signature(request: AuthenticatedRequest, org_id: UUID) -> HttpResponse:
    """Create the signature; a template that does not work is refused with its error inline."""
    membership = get_membership(request.user, org_id)
    managed = request.POST.get("managed") == "1"
    if managed and not membership.can_manage:
        raise PermissionDenied("Only the organization's owners and admins can create organization signatures.")
    form = SignatureForm(request.POST, membership=membership)
    if form.is_valid():
        try:
            signature = do_save_signature(
                None,
                organization_id=membership.organization_id,
                owner=None if managed else request.user,
                **form.cleaned_data,
            )
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(request, f"Created the signature {signature.name}.")
            return leave_page(request, reverse("settings_signature", args=[org_id, signature.id]))
    return _render_editor(request, membership, signature=None, managed=managed, form=form)


@require_safe
@login_required
def signature_settings(request: AuthenticatedRequest, org_id: UUID, signature_id: UUID) -> HttpResponse:
    """One signature: its editor (read-only for members on an organization signature), its
    preview and the aliases it is linked to."""
    membership = get_membership(request.user, org_id)
    signature = _get_signature(membership, signature_id)
    form = SignatureForm(membership=membership, signature=signature)
    return _render_editor(request, membership, signature=signature, managed=signature.is_managed, form=form)


@require_POST
@login_required
def update_signature(request: AuthenticatedRequest, org_id: UUID, signature_id: UUID) -> HttpResponse:
    """Save the signature's content; it is sanitised, and a Liquid error is shown, not saved."""
    membership = get_membership(request.user, org_id)
    signature = _changeable(membership, _get_signature(membership, signature_id))
    form = SignatureForm(request.POST, membership=membership, signature=signature)
    if not form.is_valid():
        return _render_editor(request, membership, signature=signature, managed=signature.is_managed, form=form)
    do_save_signature(signature, organization_id=signature.organization_id, owner=signature.owner, **form.cleaned_data)
    messages.success(request, "Signature saved.")
    form = SignatureForm(membership=membership, signature=signature)
    response = _render_editor(request, membership, signature=signature, managed=signature.is_managed, form=form)
    return trigger_client_event(response, "signature-saved")


@require_POST
@login_required
def delete_signature(request: AuthenticatedRequest, org_id: UUID, signature_id: UUID) -> HttpResponse:
    """Delete the signature; aliases that used it get none."""
    membership = get_membership(request.user, org_id)
    signature = _changeable(membership, _get_signature(membership, signature_id))
    do_delete_signature(signature)
    messages.success(request, f"Deleted the signature {signature.name}.")
    return leave_page(request, reverse("settings_signatures", args=[org_id]))


@require_POST
@login_required
def link_signature(request: AuthenticatedRequest, org_id: UUID, signature_id: UUID) -> HttpResponse:
    """Use the signature on the chosen aliases the user sends from."""
    membership = get_membership(request.user, org_id)
    signature = _get_signature(membership, signature_id)
    link_form = LinkForm(request.POST, membership=membership, signature=signature)
    if link_form.is_valid():
        do_link_signature(signature, user=request.user, aliases=list(link_form.cleaned_data["aliases"]))
        messages.success(request, "Aliases saved.")
        link_form = LinkForm(membership=membership, signature=signature)
    form = SignatureForm(membership=membership, signature=signature)
    return _render_editor(
        request, membership, signature=signature, managed=signature.is_managed, form=form, link_form=link_form
    )


@require_safe
@login_required
def preview_signature(request: AuthenticatedRequest, org_id: UUID, signature_id: UUID) -> HttpResponse:
    """The saved signature rendered for a member ("Preview as"), in a sandboxed frame."""
    membership = get_membership(request.user, org_id)
    signature = _get_signature(membership, signature_id)
    shown_for = membership
    if request.GET.get("as"):
        shown_for = get_object_or_404(
            Membership.objects.select_related("user"),
            organization_id=membership.organization_id,
            user_id=request.GET["as"],
        )
    try:
        document, problem = preview_document(signature, shown_for), ""
    except TemplateProblem as error:
        document, problem = "", str(error)
    context = {"document": document, "problem": problem, "shown_for": shown_for}
    return render_page(request, "conversations/settings/_signature_preview.html", context)
