"""Labels in the inbox (the label menu of a conversation and of a selection, and the handlers the
triage endpoint runs for them) and Settings › Labels (list, create, edit, delete)."""

from __future__ import annotations

from typing import Any, cast
from uuid import UUID

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_POST, require_safe

from conversations import labels
from conversations.actions import ActionRefused
from conversations.labels import LabelNode, label_tree
from conversations.mailboxes import Mailbox
from conversations.models import Conversation, ConversationLabel, Label, LabelVisibility
from conversations.views import get_state_for_user
from inboxes.access import get_membership
from inboxes.forms import ColorField
from inboxes.models import Membership, Team, User
from inboxes.pages import settings_context
from missive.htmx import AuthenticatedRequest, leave_page, render_page
from missive.ids import is_uuid

# --- The triage endpoint's label actions (conversations.action_views.HANDLERS) ----------------


def _label_for(request: AuthenticatedRequest, conversation: Conversation) -> Label:
    """The posted label: one the user may see, of the conversation's organization. Anything else
    is a 404, except in a selection spanning organizations, where it is refused for the others."""
    label = labels.get_label_for_user(request.user, request.POST.get("label_id", ""))
    if label.organization_id != conversation.organization_id:
        match = request.resolver_match
        if match is not None and match.url_name == "bulk_action":
            raise ActionRefused(f"{label.name} is a label of another organization.")
        raise Http404("No such label.")
    return label


def add_label(request: AuthenticatedRequest, conversation: Conversation, mailbox: Mailbox) -> None:
    labels.do_add_label(conversation, _label_for(request, conversation), acting_user=request.user)


def remove_label(request: AuthenticatedRequest, conversation: Conversation, mailbox: Mailbox) -> None:
    labels.do_remove_label(conversation, _label_for(request, conversation), acting_user=request.user)


def set_labels(request: AuthenticatedRequest, conversation: Conversation, mailbox: Mailbox) -> None:
    """The label menu's Apply: the checked labels, and maybe a new one typed in its search."""
    ids = set(request.POST.getlist("label_ids"))
    wanted = list(
        Label.objects.visible_to(request.user).filter(
            id__in=[i for i in ids if is_uuid(i)], organization_id=conversation.organization_id
        )
    )
    if len(wanted) != len(ids):
        raise Http404("No such label.")
    labels.do_set_labels(
        conversation, wanted, acting_user=request.user, new_label_name=request.POST.get("new_label", "")
    )


# --- The label menus --------------------------------------------------------------------------


@require_safe
@login_required
def label_picker(request: AuthenticatedRequest, conversation_id: UUID) -> HttpResponse:
    """The label menu of an open conversation (Mod+Shift+L): recent labels first, then all the
    labels I may apply, checked when on the conversation."""
    conversation = get_state_for_user(request, conversation_id).conversation
    membership = get_membership(request.user, conversation.organization_id)
    nodes = label_tree(Label.objects.filter(labels.labels_visible_to_user_q(request.user.id, [membership])))
    applied = set(ConversationLabel.objects.filter(conversation=conversation).values_list("label_id", flat=True))
    recent_ids = labels.recent_labels(request.user, [conversation.organization_id])
    by_id = {node.label.id: node for node in nodes}
    context = {
        "conversation": conversation,
        "nodes": nodes,
        "recent": [by_id[i] for i in recent_ids if i in by_id],
        "applied": applied,
        "creates_personal": not labels.can_create_organization_labels(membership),
    }
    return render(request, "conversations/labels/_picker.html", context)


@require_safe
@login_required
def bulk_label_menu(request: AuthenticatedRequest) -> HttpResponse:
    """The label menu of the list's bulk bar: add or remove a label on every selected conversation."""
    memberships = list(Membership.objects.filter(user=request.user).select_related("organization"))
    organizations = {m.organization_id: m.organization for m in memberships}
    visible = list(Label.objects.filter(labels.labels_visible_to_user_q(request.user.id, memberships)))
    recent_ids = labels.recent_labels(request.user, list(organizations))
    groups = []
    for organization_id, organization in sorted(organizations.items(), key=lambda item: item[1].name.lower()):
        nodes = label_tree(label for label in visible if label.organization_id == organization_id)
        if nodes:
            groups.append((organization, nodes))
    by_id = {node.label.id: node for _, nodes in groups for node in nodes}
    context = {
        "groups": groups,
        "several": len(groups) > 1,
        "recent": [by_id[i] for i in recent_ids if i in by_id],
    }
    return render(request, "conversations/labels/_bulk_menu.html", context)


# --- Settings › Labels ------------------------------------------------------------------------

KIND_ORGANIZATION, KIND_PERSONAL = "organization", "personal"


class LabelForm(forms.Form):
    kind = forms.ChoiceField(
        label="Type",
        choices=[(KIND_ORGANIZATION, "Organization label"), (KIND_PERSONAL, "Personal label (only you see it)")],
        initial=KIND_ORGANIZATION,
        widget=forms.RadioSelect,
    )
    emoji = forms.CharField(max_length=16, required=False, label="Icon")
    name = forms.CharField(max_length=80, widget=forms.TextInput(attrs={"placeholder": "Requested"}))
    color = ColorField(initial="#64748b")
    parent = forms.ChoiceField(label="Nest under", required=False)
    description = forms.CharField(max_length=300, required=False, widget=forms.Textarea(attrs={"rows": 2}))
    visibility = forms.ChoiceField(
        label="Label is visible to",
        choices=LabelVisibility.choices,
        initial=LabelVisibility.EVERYONE,
        widget=forms.RadioSelect,
        help_text="Who sees the label, and can apply and remove it.",
    )
    auto_share_users = forms.ModelMultipleChoiceField(
        label="Auto-shared users",
        queryset=User.objects.none(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="Applying the label gives these people access to the conversation, without "
        "putting it in their Inbox.",
    )
    auto_share_teams = forms.ModelMultipleChoiceField(
        label="Auto-shared teams",
        queryset=Team.objects.none(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="Every member of these teams gets access the same way.",
    )

    def __init__(self, *args: Any, membership: Membership, label: Label | None = None, **kwargs: Any) -> None:
        if label is not None:
            kwargs.setdefault(
                "initial",
                {
                    "kind": KIND_PERSONAL if label.is_personal else KIND_ORGANIZATION,
                    "emoji": label.emoji,
                    "name": label.name,
                    "color": label.color,
                    "parent": str(label.parent_id or ""),
                    "description": label.description,
                    "visibility": label.visibility,
                    "auto_share_users": list(label.auto_share_users.all()),
                    "auto_share_teams": list(label.auto_share_teams.all()),
                },
            )
        super().__init__(*args, **kwargs)
        self.membership, self.label = membership, label
        organization_id = membership.organization_id
        user = membership.user
        users = cast(forms.ModelMultipleChoiceField, self.fields["auto_share_users"])
        users.queryset = User.objects.filter(memberships__organization_id=organization_id).order_by("name", "email")
        users.label_from_instance = lambda u: u.display_name  # type: ignore[method-assign,assignment]
        teams = cast(forms.ModelMultipleChoiceField, self.fields["auto_share_teams"])
        teams.queryset = Team.objects.filter(organization_id=organization_id).order_by("name")
        visible = Label.objects.filter(labels.labels_visible_to_user_q(user.id, [membership]))
        excluded = {label.id} | labels.descendant_ids(label) if label is not None else set()
        self.parents = {str(node.label.id): node for node in label_tree(visible) if node.label.id not in excluded}
        organization = [(key, node.path) for key, node in self.parents.items() if not node.label.is_personal]
        personal = [(key, node.path) for key, node in self.parents.items() if node.label.is_personal]
        if label is not None:
            organization, personal = ([], personal) if label.is_personal else (organization, [])
        choices: list[Any] = [("", "— Top level —")]
        if organization:
            choices.append(("Organization labels", organization))
        if personal:
            choices.append(("My labels", personal))
        cast(forms.ChoiceField, self.fields["parent"]).choices = choices
        kind = cast(forms.ChoiceField, self.fields["kind"])
        if label is not None:
            kind.disabled = True
        elif not labels.can_create_organization_labels(membership):
            kind.choices = [(KIND_PERSONAL, "Personal label (only you see it)")]
            kind.initial = KIND_PERSONAL
        if not labels.can_change_sharing(label, membership):
            for name in ("visibility", "auto_share_users", "auto_share_teams"):
                self.fields[name].disabled = True
                self.fields[name].help_text = "Only owners and admins change this on an existing label."

    @property
    def personal(self) -> bool:
        if self.label is not None:
            return self.label.is_personal
        return self.cleaned_data.get("kind") == KIND_PERSONAL

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        parent_key = data.get("parent") or ""
        parent = self.parents[parent_key].label if parent_key in self.parents else None
        if parent_key and parent is None:
            self.add_error("parent", "Pick a label you can see.")
            return data
        data["parent"] = parent
        if "name" in data and "kind" in data:
            organization = self.membership.organization
            owner = self.membership.user if self.personal else None
            try:
                data["name"] = labels.check_label(
                    organization, owner=owner, name=data["name"], parent=parent, label=self.label
                )
            except ValidationError as error:
                self.add_error(None, error)
        return data

    def sharing(self) -> dict[str, Any]:
        """The visibility and auto-sharing to save: none for personal labels, and only what
        this person may change."""
        if self.personal or not labels.can_change_sharing(self.label, self.membership):
            return {}
        return {name: self.cleaned_data[name] for name in ("visibility", "auto_share_users", "auto_share_teams")}


def _settings_membership(request: AuthenticatedRequest, org_id: UUID) -> Membership:
    membership = get_membership(request.user, org_id)
    membership.user = request.user
    return membership


def _label_in(request: AuthenticatedRequest, membership: Membership, label_id: UUID) -> Label:
    return labels.get_label_for_user(request.user, label_id, organization_id=membership.organization_id)


def _render_labels(
    request: AuthenticatedRequest,
    membership: Membership,
    form: LabelForm,
    *,
    status: int = 200,
) -> HttpResponse:
    visible = list(
        Label.objects.filter(labels.labels_visible_to_user_q(request.user.id, [membership])).prefetch_related(
            "auto_share_user_rows", "auto_share_team_rows"
        )
    )
    nodes = label_tree(visible)
    rows = [_row(node, membership, _sublabel_count(nodes, index)) for index, node in enumerate(nodes)]
    context = settings_context(
        request,
        membership,
        "labels",
        form=form,
        editing=form.label,
        organization_rows=[row for row in rows if not row["label"].is_personal],
        personal_rows=[row for row in rows if row["label"].is_personal],
        creates_organization_labels=labels.can_create_organization_labels(membership),
    )
    return render_page(
        request,
        "conversations/labels/settings.html",
        context,
        partials={"label-form": "label_form"},
        status=status,
    )


def _sublabel_count(nodes: list[LabelNode], index: int) -> int:
    """How many labels sit below nodes[index] in the tree (they follow it, deeper)."""
    depth, count = nodes[index].depth, 0
    for node in nodes[index + 1 :]:
        if node.depth <= depth:
            break
        count += 1
    return count


def _row(node: LabelNode, membership: Membership, sublabels: int) -> dict[str, Any]:
    label = node.label
    return {
        "node": node,
        "label": label,
        "auto_shared_users": len(label.auto_share_user_rows.all()),  # type: ignore[attr-defined]
        "auto_shared_teams": len(label.auto_share_team_rows.all()),  # type: ignore[attr-defined]
        "can_edit": labels.can_edit_label(label, membership),
        "can_delete": labels.can_delete_label(label, membership),
        "sublabels": sublabels,
    }


@require_safe
@login_required
def labels_settings(request: AuthenticatedRequest, org_id: UUID) -> HttpResponse:
    """Settings › Labels: the organization's labels and mine as trees, and a form to create one."""
    membership = _settings_membership(request, org_id)
    return _render_labels(request, membership, LabelForm(membership=membership))


@require_POST
@login_required
def create_label(request: AuthenticatedRequest, org_id: UUID) -> HttpResponse:
    """Create a label (organization labels: any member; personal ones: anyone)."""
    membership = _settings_membership(request, org_id)
    form = LabelForm(request.POST, membership=membership)
    if form.is_valid():
        try:
            label = labels.do_create_label(
                membership.organization,
                acting_user=request.user,
                personal=form.personal,
                **_fields(form),
                **form.sharing(),
            )
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(request, f"Label {labels.label_path(label)} created.")
            return leave_page(request, reverse("settings_labels", args=[org_id]))
    return _render_labels(request, membership, form)


def _fields(form: LabelForm) -> dict[str, Any]:
    return {name: form.cleaned_data[name] for name in ("name", "parent", "color", "emoji", "description")}


@require_safe
@login_required
def edit_label(request: AuthenticatedRequest, org_id: UUID, label_id: UUID) -> HttpResponse:
    """The same page with the label's edit form in place of the create form."""
    membership = _settings_membership(request, org_id)
    label = _label_in(request, membership, label_id)
    if not labels.can_edit_label(label, membership):
        raise PermissionDenied("You cannot edit this label.")
    return _render_labels(request, membership, LabelForm(membership=membership, label=label))


@require_POST
@login_required
def update_label(request: AuthenticatedRequest, org_id: UUID, label_id: UUID) -> HttpResponse:
    """Save a label's name, parent, look and (owners and admins) who sees it and is auto-shared."""
    membership = _settings_membership(request, org_id)
    label = _label_in(request, membership, label_id)
    if not labels.can_edit_label(label, membership):
        raise PermissionDenied("You cannot edit this label.")
    form = LabelForm(request.POST, membership=membership, label=label)
    if form.is_valid():
        try:
            labels.do_update_label(label, acting_user=request.user, **_fields(form), **form.sharing())
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(request, f"Label {labels.label_path(label)} saved.")
            return leave_page(request, reverse("settings_labels", args=[org_id]))
    return _render_labels(request, membership, form)


@require_POST
@login_required
def delete_label(request: AuthenticatedRequest, org_id: UUID, label_id: UUID) -> HttpResponse:
    """Delete a label and its sublabels; conversations only lose the label."""
    membership = _settings_membership(request, org_id)
    label = _label_in(request, membership, label_id)
    if not labels.can_delete_label(label, membership):
        raise PermissionDenied("Only owners and admins can delete organization labels.")
    path = labels.label_path(label)
    count = labels.do_delete_label(label, acting_user=request.user)
    more = f" and its {count - 1} sublabel{'s' if count > 2 else ''}" if count > 1 else ""
    messages.success(request, f"Label {path}{more} deleted.")
    return leave_page(request, reverse("settings_labels", args=[org_id]))
