"""Canned responses: Settings › Responses (list, create, edit, delete, files), the responses
panel any page can open (search, preview, edit on the fly) and the insert endpoint the composer
calls."""

from __future__ import annotations

from typing import Any, cast
from uuid import UUID

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import FileResponse, Http404, HttpResponse, JsonResponse
from django.shortcuts import render
from django.template.loader import render_to_string
from django.urls import reverse
from django.views.decorators.http import require_POST, require_safe
from django_htmx.http import trigger_client_event

from conversations import canned, templating
from conversations.actions import ActionRefused
from conversations.drafts import get_draft_for_user
from conversations.labels import label_tree, labels_visible_to_user_q
from conversations.models import (
    CannedResponse,
    CannedResponseAttachment,
    CannedScope,
    Draft,
    DraftStatus,
    Label,
)
from conversations.sanitize import clean_outgoing_html
from conversations.sending import clean_recipients
from conversations.text import html_to_text
from inboxes.access import get_membership
from inboxes.models import Membership, Team
from inboxes.pages import settings_context
from missive.htmx import AuthenticatedRequest, leave_page, render_page
from missive.ids import is_uuid


class RecipientsField(forms.CharField):
    """Addresses separated by commas ("Ann <ann@x.test>, bob@y.test"), checked one by one."""

    def to_python(self, value: Any) -> list[dict[str, str]]:  # type: ignore[override]
        text = super().to_python(value) or ""
        parts = [part.strip() for part in text.replace(";", ",").split(",") if part.strip()]
        try:
            return clean_recipients(parts)
        except ActionRefused as error:
            raise ValidationError(error.messages[0]) from None

    def prepare_value(self, value: Any) -> Any:
        if isinstance(value, list):
            return ", ".join(
                f"{r['name']} <{r['address']}>" if r.get("name") else r.get("address", "")
                for r in value
                if isinstance(r, dict)
            )
        return value


class ResponseForm(forms.Form):
    visibility = forms.ChoiceField(label="Who can use it")
    title = forms.CharField(max_length=200, widget=forms.TextInput(attrs={"placeholder": "Refund policy"}))
    subject = forms.CharField(max_length=500, required=False, help_text="Used when the draft has no subject yet.")
    body = forms.CharField(required=False, widget=forms.Textarea(attrs={"hidden": True, "class": "rt-source"}))
    to = RecipientsField(label="To", required=False)
    cc = RecipientsField(label="Cc", required=False)
    bcc = RecipientsField(label="Bcc", required=False)
    labels = forms.ModelMultipleChoiceField(
        queryset=Label.objects.none(), required=False, widget=forms.CheckboxSelectMultiple
    )

    def __init__(self, *args: Any, membership: Membership, response: CannedResponse | None = None, **kwargs: Any):
        if response is not None:
            kwargs.setdefault(
                "initial",
                {
                    "visibility": canned.scope_value(response),
                    "title": response.title,
                    "subject": response.subject,
                    "body": response.body,
                    "to": response.to,
                    "cc": response.cc,
                    "bcc": response.bcc,
                    "labels": list(response.labels.all()),
                },
            )
        super().__init__(*args, **kwargs)
        if self.is_bound and "body" in self.data:
            # Re-shown in the editor when the form has errors: only what would be saved.
            data = self.data.copy()  # type: ignore[attr-defined]
            data["body"] = clean_outgoing_html(data["body"])
            self.data = data
        self.membership, self.response = membership, response
        choices = canned.scope_choices(membership)
        if response is not None and canned.scope_value(response) not in dict(choices):
            # A team the editor left (or a shared response an admin edits): keep where it is.
            choices.append((canned.scope_value(response), f"Team: {response.team}"))
        cast(forms.ChoiceField, self.fields["visibility"]).choices = choices
        visible = Label.objects.filter(labels_visible_to_user_q(membership.user_id, [membership]), owner__isnull=True)
        self.label_paths = {node.label.id: node.path for node in label_tree(visible)}
        field = cast(forms.ModelMultipleChoiceField, self.fields["labels"])
        field.queryset = visible
        field.label_from_instance = lambda label: self.label_paths.get(label.id, label.name)  # type: ignore[method-assign,assignment]

    @property
    def recipient_fields(self) -> list[forms.BoundField]:
        return [self["to"], self["cc"], self["bcc"]]

    def _template(self, name: str) -> str:
        value = self.cleaned_data.get(name, "")
        try:
            canned.check_template(value)
        except templating.TemplateProblem as problem:
            raise ValidationError(str(problem)) from None
        return value

    def clean_subject(self) -> str:
        return self._template("subject")

    def clean_body(self) -> str:
        return self._template("body")

    def fields_to_save(self) -> canned.ResponseFields:
        data = self.cleaned_data
        visibility: str = data["visibility"]
        team = None
        if visibility.startswith("team:"):
            team = Team.objects.get(
                id=visibility.removeprefix("team:"), organization_id=self.membership.organization_id
            )
        scope = CannedScope.TEAM if team is not None else visibility
        return canned.ResponseFields(
            scope=scope,
            team=team,
            title=data["title"],
            subject=data["subject"],
            body=data["body"],
            to=data["to"],
            cc=data["cc"],
            bcc=data["bcc"],
            labels=list(data["labels"]),
        )


# --- Settings › Responses ---------------------------------------------------------------------


def _membership(request: AuthenticatedRequest, org_id: UUID | str) -> Membership:
    membership = get_membership(request.user, org_id)
    membership.user = request.user
    return membership


def _response_in(request: AuthenticatedRequest, membership: Membership, response_id: UUID) -> CannedResponse:
    response, _ = canned.get_response_for_user(request.user, response_id)
    if response.organization_id != membership.organization_id:
        raise Http404("No such response.")
    return response


def _editable_response(request: AuthenticatedRequest, membership: Membership, response_id: UUID) -> CannedResponse:
    """A response of the organization the user may change; 403 for one they only use."""
    response = _response_in(request, membership, response_id)
    if not canned.can_edit_response(response, membership):
        raise PermissionDenied("You cannot change this response.")
    return response


def _groups(membership: Membership) -> list[dict[str, Any]]:
    """The settings list: personal first, then each of my teams', then the organization's."""
    responses = list(canned.responses_for(membership).select_related("team").prefetch_related("attachments"))
    groups = [
        {
            "title": "Personal",
            "note": "Only you see and use these.",
            "rows": [r for r in responses if r.scope == CannedScope.PERSONAL],
        }
    ]
    teams = sorted({r.team for r in responses if r.team is not None}, key=lambda t: t.name.lower())
    for team in teams:
        groups.append(
            {"title": str(team), "note": "Members of the team.", "rows": [r for r in responses if r.team == team]}
        )
    groups.append(
        {
            "title": membership.organization.name,
            "note": "Everyone in the organization.",
            "rows": [r for r in responses if r.scope == CannedScope.ORGANIZATION],
        }
    )
    for response in responses:
        response.preview_text = html_to_text(response.body)  # type: ignore[attr-defined]
    for group in groups:
        group["rows"] = [(r, canned.can_edit_response(r, membership)) for r in cast(list, group["rows"])]
    return groups


def _render_settings(
    request: AuthenticatedRequest, membership: Membership, form: ResponseForm, *, status: int = 200
) -> HttpResponse:
    context = settings_context(
        request,
        membership,
        "responses",
        form=form,
        editing=form.response,
        groups=_groups(membership),
        may_share=canned.may_share(membership),
        variables=VARIABLE_KEYS,
    )
    return render_page(
        request,
        "conversations/canned/settings.html",
        context,
        partials={"response-form": "response_form"},
        status=status,
    )


@require_safe
@login_required
def responses_settings(request: AuthenticatedRequest, org_id: UUID) -> HttpResponse:
    """Settings › Responses: mine, my teams' and the organization's, and a form for a new one."""
    membership = _membership(request, org_id)
    return _render_settings(request, membership, ResponseForm(membership=membership))


@require_POST
@login_required
def create_response(request: AuthenticatedRequest, org_id: UUID) -> HttpResponse:
    """Create a response (from Settings or from the panel's Create new response)."""
    membership = _membership(request, org_id)
    form = ResponseForm(request.POST, membership=membership)
    if form.is_valid():
        try:
            response = canned.do_create_response(membership, form.fields_to_save())
        except ActionRefused as error:
            form.add_error(None, error)
        else:
            if request.POST.get("panel"):
                return _panel_saved(request, response, membership)
            messages.success(request, f"Response “{response.title}” created.")
            return leave_page(request, reverse("settings_response", args=[org_id, response.id]))
    if request.POST.get("panel"):
        return _panel_form(request, membership, form)
    return _render_settings(request, membership, form)


@require_safe
@login_required
def edit_response(request: AuthenticatedRequest, org_id: UUID, response_id: UUID) -> HttpResponse:
    """The same page with the response's editor (and its files) in place of the new one."""
    membership = _membership(request, org_id)
    response = _editable_response(request, membership, response_id)
    return _render_settings(request, membership, ResponseForm(membership=membership, response=response))


@require_POST
@login_required
def update_response(request: AuthenticatedRequest, org_id: UUID, response_id: UUID) -> HttpResponse:
    """Save a response (Settings, or the panel's edit on the fly)."""
    membership = _membership(request, org_id)
    response = _editable_response(request, membership, response_id)
    form = ResponseForm(request.POST, membership=membership, response=response)
    if form.is_valid():
        try:
            canned.do_update_response(response, membership, form.fields_to_save())
        except ActionRefused as error:
            form.add_error(None, error)
        else:
            if request.POST.get("panel"):
                return _panel_saved(request, response, membership)
            messages.success(request, f"Response “{response.title}” saved.")
            return leave_page(request, reverse("settings_responses", args=[org_id]))
    if request.POST.get("panel"):
        return _panel_form(request, membership, form)
    return _render_settings(request, membership, form)


@require_POST
@login_required
def delete_response(request: AuthenticatedRequest, org_id: UUID, response_id: UUID) -> HttpResponse:
    """Delete a response and its files."""
    membership = _membership(request, org_id)
    response = _editable_response(request, membership, response_id)
    canned.do_delete_response(response, membership)
    messages.success(request, f"Response “{response.title}” deleted.")
    return leave_page(request, reverse("settings_responses", args=[org_id]))


@require_POST
@login_required
def add_response_file(request: AuthenticatedRequest, org_id: UUID, response_id: UUID) -> HttpResponse:
    """Attach uploaded files to a response: inline images, or files attached to the email."""
    membership = _membership(request, org_id)
    response = _editable_response(request, membership, response_id)
    uploads = request.FILES.getlist("files")
    if not uploads:
        messages.error(request, "Choose a file to attach.")
    for upload in uploads:
        try:
            canned.do_add_response_attachment(response, membership, upload, inline=bool(request.POST.get("inline")))
        except ActionRefused as error:
            messages.error(request, f"{upload.name}: {error.messages[0]}")
    return leave_page(request, reverse("settings_response", args=[org_id, response_id]))


@require_POST
@login_required
def remove_response_file(
    request: AuthenticatedRequest, org_id: UUID, response_id: UUID, response_file_id: UUID
) -> HttpResponse:
    """Remove a file from a response."""
    membership = _membership(request, org_id)
    response = _response_in(request, membership, response_id)
    attachment = CannedResponseAttachment.objects.filter(id=response_file_id, response=response).first()
    if attachment is None:
        raise Http404("No such file.")
    if not canned.can_edit_response(response, membership):
        raise PermissionDenied("You cannot edit this response.")
    canned.do_remove_response_attachment(attachment, membership)
    return leave_page(request, reverse("settings_response", args=[org_id, response_id]))


@require_safe
@login_required
def response_file(request: AuthenticatedRequest, response_file_id: UUID) -> FileResponse:
    """A response's file, for whoever may use the response; always downloaded, never rendered."""
    attachment = CannedResponseAttachment.objects.filter(id=response_file_id).first()
    if attachment is None:
        raise Http404("No such file.")
    canned.get_response_for_user(request.user, attachment.response_id)
    response = FileResponse(
        attachment.file.open("rb"),
        as_attachment=not attachment.is_inline,
        filename=attachment.filename,
        content_type=attachment.content_type if attachment.is_inline else "application/octet-stream",
    )
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response


@require_POST
@login_required
def responses_preferences(request: AuthenticatedRequest, org_id: UUID) -> HttpResponse:
    """My "Suggest responses while typing", and (owners and admins) "Only admins manage responses"."""
    membership = _membership(request, org_id)
    request.user.suggest_responses = bool(request.POST.get("suggest_responses"))
    request.user.save(update_fields=["suggest_responses"])
    if membership.can_manage:
        organization = membership.organization
        organization.responses_admins_only = bool(request.POST.get("responses_admins_only"))
        organization.save(update_fields=["responses_admins_only"])
    messages.success(request, "Preferences saved.")
    return leave_page(request, reverse("settings_responses", args=[org_id]))


# --- The responses panel ----------------------------------------------------------------------

# The `{{` variable builder's data points (the seed's lists).
VARIABLE_KEYS = {
    "user": ["first_name", "last_name", "name", "email", "avatar_url", "status", "status_emoji"],
    "recipient": [
        "first_name",
        "last_name",
        "name",
        "middle_name",
        "email",
        "handle",
        "phone_number",
        "url",
        "physical_address",
        "twitter",
        "facebook",
        "nickname",
        "prefix",
        "suffix",
        "gender",
        "file_as",
    ],
    "conversation": ["id"],
    "message": ["id", "from_handle", "from_email", "from_name", "from_first_name", "from_last_name"],
}


def _draft_for(request: AuthenticatedRequest, draft_id: UUID | str) -> Draft:
    """A draft of a conversation the user can open, whatever its status (inserting into a sent
    one is refused with a message, not a 404); 404 otherwise."""
    if not is_uuid(str(draft_id)):
        raise Http404("No such draft.")
    return get_draft_for_user(request.user, draft_id, statuses=tuple(DraftStatus))


def _panel_membership(request: AuthenticatedRequest, draft: Draft | None) -> Membership:
    if draft is not None:
        return _membership(request, draft.organization_id)
    org_id = request.GET.get("org", "")
    if is_uuid(org_id):
        return _membership(request, org_id)
    membership = (
        Membership.objects.filter(user=request.user).select_related("organization").order_by("created_at").first()
    )
    if membership is None:
        raise Http404("No organization.")
    membership.user = request.user
    return membership


def _panel_draft(request: AuthenticatedRequest) -> Draft | None:
    draft_id = request.GET.get("draft") or request.POST.get("draft") or ""
    return _draft_for(request, draft_id) if draft_id else None


@require_safe
@login_required
def responses_panel(request: AuthenticatedRequest) -> HttpResponse:
    """The responses panel (Mod+Shift+O): search, results, the selected response; its results
    alone when the search box asks."""
    draft = _panel_draft(request)
    membership = _panel_membership(request, draft)
    query = request.GET.get("q", "").strip()
    results = canned.search_responses(membership, query)
    for response in results:
        response.preview_text = html_to_text(response.body)  # type: ignore[attr-defined]
    context = {
        "draft": draft,
        "membership": membership,
        "organization": membership.organization,
        "query": query,
        "results": results,
        "selected": results[0] if results else None,
    }
    return render_page(request, "conversations/canned/_panel.html", context, partials={"responses-results": "results"})


@require_safe
@login_required
def response_suggestions(request: AuthenticatedRequest) -> JsonResponse:
    """The `#` dropdown's matches: a few titles, for the composer's body."""
    draft = _panel_draft(request)
    membership = _panel_membership(request, draft)
    results = canned.search_responses(membership, request.GET.get("q", ""), limit=8)
    return JsonResponse({"results": [{"id": str(r.id), "title": r.title, "scope": _scope_label(r)} for r in results]})


def _scope_label(response: CannedResponse) -> str:
    if response.scope == CannedScope.TEAM:
        return str(response.team)
    return "Personal" if response.scope == CannedScope.PERSONAL else "Organization"


@require_safe
@login_required
def response_preview(request: AuthenticatedRequest, response_id: UUID) -> HttpResponse:
    """The panel's second column: one response as it reads, with Insert and Edit."""
    response, membership = canned.get_response_for_user(request.user, response_id)
    return _render_preview(request, response, membership, _panel_draft(request))


def _render_preview(
    request: AuthenticatedRequest, response: CannedResponse, membership: Membership, draft: Draft | None
) -> HttpResponse:
    context = {
        "response": response,
        "draft": draft,
        "can_edit": canned.can_edit_response(response, membership),
        "scope_label": _scope_label(response),
        "organization": membership.organization,
    }
    return render(request, "conversations/canned/_preview.html", context)


@require_safe
@login_required
def response_panel_form(request: AuthenticatedRequest) -> HttpResponse:
    """The editor inside the panel: a new response (Mod+N), or ?response= to edit one on the fly."""
    draft = _panel_draft(request)
    response_id = request.GET.get("response", "")
    if response_id:
        response, membership = canned.get_response_for_user(request.user, response_id)
        if not canned.can_edit_response(response, membership):
            raise PermissionDenied("You cannot edit this response.")
        form = ResponseForm(membership=membership, response=response)
    else:
        membership = _panel_membership(request, draft)
        form = ResponseForm(membership=membership)
    return _panel_form(request, membership, form, draft=draft)


def _panel_form(
    request: AuthenticatedRequest, membership: Membership, form: ResponseForm, *, draft: Draft | None = None
) -> HttpResponse:
    if draft is None and request.method == "POST":
        draft = _panel_draft(request)
    context = {
        "form": form,
        "editing": form.response,
        "organization": membership.organization,
        "draft": draft,
        "variables": VARIABLE_KEYS,
        "in_panel": True,
    }
    return render(request, "conversations/canned/_panel_form.html", context)


def _panel_saved(request: AuthenticatedRequest, response: CannedResponse, membership: Membership) -> HttpResponse:
    """After saving in the panel: the response's preview, and an event the panel's script uses to
    refresh the results and, for Save & insert (Mod+Return), to insert it."""
    reply = _render_preview(request, response, membership, _panel_draft(request))
    detail = {"id": str(response.id), "insert": bool(request.POST.get("then_insert"))}
    return trigger_client_event(reply, "responses:saved", detail)


# --- Inserting --------------------------------------------------------------------------------


@require_POST
@login_required
def insert_response(request: AuthenticatedRequest, draft_id: UUID, response_id: UUID) -> JsonResponse:
    """Render a response into a draft: JSON with the HTML for the editor, the draft's recipients
    and subject after the merge, and its new files; or the form asking for the form variables;
    or the template's error, never a 500."""
    draft = _draft_for(request, draft_id)
    response, _ = canned.get_response_for_user(request.user, response_id)
    if response.organization_id != draft.organization_id:
        raise Http404("No such response.")
    values = {key.removeprefix("var:"): str(value) for key, value in request.POST.items() if key.startswith("var:")}
    try:
        inserted = canned.do_insert_response(draft, response, acting_user=request.user, values=values)
    except canned.ValuesNeeded as needed:
        form = render_to_string(
            "conversations/canned/_values_form.html",
            {
                "response": response,
                "draft": draft,
                "fields": [(name, needed.given.get(name, "")) for name in needed.names],
                "submitted": bool(values),
            },
            request=request,
        )
        return JsonResponse({"status": "values_needed", "fields": needed.names, "form": form})
    except (templating.TemplateProblem, ActionRefused) as problem:
        message = problem.messages[0] if isinstance(problem, ActionRefused) else str(problem)
        return JsonResponse({"status": "error", "error": message}, status=422)
    return JsonResponse(
        {
            "status": "inserted",
            "draftId": str(draft.id),
            "html": inserted.html,
            "subject": inserted.subject,
            "to": inserted.to,
            "cc": inserted.cc,
            "bcc": inserted.bcc,
            "attachments": [
                {
                    "id": str(a.id),
                    "filename": a.filename,
                    "size": a.size,
                    "inline": a.is_inline,
                    "contentId": a.content_id,
                }
                for a in inserted.attachments
            ],
        }
    )
