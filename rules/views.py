"""Settings › Rules: the organization's rules (owners and admins) and my personal rules, in the
seed's order, with the editor (HTMX re-renders of one server-side form), enable / disable,
duplicate, export / import, delete and each rule's run log."""

from __future__ import annotations

import copy
from typing import Any
from uuid import UUID

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db import transaction
from django.http import Http404, HttpResponse
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST, require_safe

from conversations.models import ConversationState
from inboxes.access import get_membership
from inboxes.models import Membership
from inboxes.pages import settings_context
from missive.htmx import AuthenticatedRequest, leave_page, render_page
from missive.ids import is_uuid
from rules import forms, portability
from rules.models import Channel, Rule, RuleRun, Trigger
from rules.validation import type_label, validate_rule

PERSONAL, ORGANIZATION = forms.SCOPE_PERSONAL, forms.SCOPE_ORGANIZATION


def _membership(request: AuthenticatedRequest, org_id: UUID | str, scope: str) -> Membership:
    """My membership; organization rules need an owner or admin (403), any other org is a 404."""
    membership = get_membership(request.user, org_id)
    membership.user = request.user
    if scope == ORGANIZATION and not membership.can_manage:
        raise PermissionDenied("Only owners and admins manage organization rules.")
    return membership


def _rule(request: AuthenticatedRequest, org_id: UUID, rule_id: UUID | str) -> tuple[Rule, Membership]:
    """A rule I may manage: my personal rule, or an organization rule if I manage the organization."""
    membership = get_membership(request.user, org_id)
    membership.user = request.user
    if not is_uuid(str(rule_id)):
        raise Http404("No such rule.")
    rule = Rule.objects.filter(id=rule_id, organization_id=org_id).select_related("organization").first()
    if rule is None or (rule.owner_id is not None and rule.owner_id != request.user.id):
        raise Http404("No such rule.")
    if rule.owner_id is None and not membership.can_manage:
        raise PermissionDenied("Only owners and admins manage organization rules.")
    return rule, membership


def _scope_of(rule: Rule) -> str:
    return PERSONAL if rule.is_personal else ORGANIZATION


def _list_url(org_id: Any, scope: str) -> str:
    return reverse("settings_rules_personal" if scope == PERSONAL else "settings_rules", args=[org_id])


def _targets(request: AuthenticatedRequest) -> list[Membership]:
    """Organizations where I manage rules (Duplicate's destinations and the scope switch)."""
    return [
        m
        for m in Membership.objects.filter(user=request.user)
        .select_related("organization")
        .order_by("organization__name")
        if m.can_manage
    ]


# --- The list ---------------------------------------------------------------------------------


def _render_list(request: AuthenticatedRequest, membership: Membership, scope: str) -> HttpResponse:
    query = Rule.objects.filter(organization_id=membership.organization_id)
    query = query.filter(owner=request.user) if scope == PERSONAL else query.filter(owner__isnull=True)
    rules = list(query.in_order())
    targets = _targets(request)
    rows = [
        {
            "rule": rule,
            "type": _type_text(rule),
            "condition_count": _count_conditions(rule.conditions),
            "personal_allowed": portability.allows_personal(rule.trigger, rule.user_action),
        }
        for rule in rules
    ]
    context = settings_context(
        request,
        membership,
        "rules",
        scope=scope,
        rows=rows,
        targets=targets,
        scope_label=_scope_label(scope, membership),
    )
    return render_page(request, "rules/list.html", context, partials={"rule-list": "rule_list"})


def _count_conditions(group: Any) -> int:
    if not isinstance(group, dict):
        return 0
    return sum(
        _count_conditions(item) if isinstance(item, dict) and "items" in item else 1
        for item in group.get("items") or []
    )


def _scope_label(scope: str, membership: Membership) -> str:
    return "You" if scope == PERSONAL else membership.organization.name


def _type_text(rule: Rule) -> str:
    if rule.trigger == Trigger.USER_ACTION:
        return f"User action · {rule.get_user_action_display()}"
    direction = "Incoming" if rule.trigger == Trigger.INCOMING else "Outgoing"
    return f"{direction} {Channel(rule.channel).label if rule.channel in Channel.values else rule.channel}"


@require_safe
@login_required
def rules_settings(request: AuthenticatedRequest, org_id: UUID) -> HttpResponse:
    """The organization's rules (owners and admins)."""
    return _render_list(request, _membership(request, org_id, ORGANIZATION), ORGANIZATION)


@require_safe
@login_required
def personal_rules_settings(request: AuthenticatedRequest, org_id: UUID) -> HttpResponse:
    """My personal rules in this organization (they run on my private conversations)."""
    return _render_list(request, _membership(request, org_id, PERSONAL), PERSONAL)


@require_POST
@login_required
def toggle_rule(request: AuthenticatedRequest, org_id: UUID, rule_id: UUID) -> HttpResponse:
    """Enable or disable; re-enabling forgets why the rule was switched off and its failures."""
    rule, membership = _rule(request, org_id, rule_id)
    with transaction.atomic():
        rule = Rule.objects.select_for_update().get(id=rule.id)
        rule.enabled = not rule.enabled
        fields = ["enabled", "updated_at"]
        if rule.enabled:
            rule.disabled_reason, rule.consecutive_failures = "", 0
            fields += ["disabled_reason", "consecutive_failures"]
        rule.updated_at = timezone.now()
        rule.save(update_fields=fields)
    if request.htmx:
        return _render_list(request, membership, _scope_of(rule))
    return leave_page(request, _list_url(org_id, _scope_of(rule)))


@require_POST
@login_required
def delete_rule(request: AuthenticatedRequest, org_id: UUID, rule_id: UUID) -> HttpResponse:
    rule, _ = _rule(request, org_id, rule_id)
    scope = _scope_of(rule)
    rule.delete()
    messages.success(request, f"Rule {rule.description} deleted.")
    return leave_page(request, _list_url(org_id, scope))


@require_safe
@login_required
def export_rule(request: AuthenticatedRequest, org_id: UUID, rule_id: UUID) -> HttpResponse:
    """The rule's definition as a JSON file, to import elsewhere."""
    rule, _ = _rule(request, org_id, rule_id)
    response = HttpResponse(portability.export_json(rule), content_type="application/json")
    slug = "".join(c if c.isalnum() else "-" for c in rule.description.lower()).strip("-")[:60] or "rule"
    response["Content-Disposition"] = f'attachment; filename="rule-{slug}.json"'
    return response


@require_POST
@login_required
def duplicate_rule(request: AuthenticatedRequest, org_id: UUID, rule_id: UUID) -> HttpResponse:
    """Open the editor, unsaved, with a copy in the chosen scope: "personal" (mine, in this
    organization) or an organization where I manage rules."""
    rule, membership = _rule(request, org_id, rule_id)
    target = request.POST.get("target", "")
    if target == PERSONAL:
        target_membership, owner = membership, request.user
    else:
        target_membership = next((m for m in _targets(request) if str(m.organization_id) == target), None)  # type: ignore[assignment]
        if target_membership is None:
            raise Http404("No such organization.")
        target_membership.user = request.user
        owner = None
    try:
        copy_, dropped = portability.duplicate(rule, target_membership.organization, owner, created_by=request.user)
    except ValueError as error:
        messages.error(request, str(error))
        return leave_page(request, _list_url(org_id, _scope_of(rule)))
    notes = [f"Copied from {rule.description}. Review it and save."]
    return _render_editor(request, target_membership, copy_, dropped=dropped, notes=notes)


# --- The editor -------------------------------------------------------------------------------


def _render_editor(
    request: AuthenticatedRequest,
    membership: Membership,
    rule: Rule,
    *,
    errors: list[str] | None = None,
    dropped: list[str] | None = None,
    notes: list[str] | None = None,
    import_error: str = "",
) -> HttpResponse:
    choices = forms.Choices(membership.organization, rule.owner if rule.is_personal else None)
    context = settings_context(
        request,
        membership,
        "rules",
        scope=_scope_of(rule),
        scope_label=_scope_label(_scope_of(rule), membership),
        errors=errors or [],
        description_error=next((e for e in errors or [] if "description" in e), ""),
        dropped=dropped or [],
        notes=notes or [],
        import_error=import_error,
        is_new=rule._state.adding,
        type_text=type_label(rule.trigger, rule.channel, rule.user_action) if rule.trigger else "",
        **forms.editor_context(rule, choices, errors),
    )
    return render_page(request, "rules/editor.html", context, partials={"rule-editor": "rule_editor"})


def _new_rule(request: AuthenticatedRequest, membership: Membership, scope: str) -> Rule:
    return Rule(
        organization=membership.organization,
        owner=request.user if scope == PERSONAL else None,
        trigger=Trigger.INCOMING,
        channel=Channel.EMAIL,
        conditions={"mode": "all", "items": [{"field": ""}]},
        actions=[{"type": ""}],
        created_by=request.user,
    )


@require_safe
@login_required
def new_rule(request: AuthenticatedRequest, org_id: UUID) -> HttpResponse:
    scope = PERSONAL if request.GET.get("scope") == PERSONAL else ORGANIZATION
    membership = _membership(request, org_id, scope)
    return _render_editor(request, membership, _new_rule(request, membership, scope))


@require_safe
@login_required
def edit_rule(request: AuthenticatedRequest, org_id: UUID, rule_id: UUID) -> HttpResponse:
    rule, membership = _rule(request, org_id, rule_id)
    return _render_editor(request, membership, rule)


@require_POST
@login_required
def editor(request: AuthenticatedRequest, org_id: UUID) -> HttpResponse:
    """Every editor change: re-render with the posted state (a type or field changed), apply an
    editing button ("op"), import a definition, or save when valid."""
    rule_id = request.POST.get("rule_id", "")
    if rule_id:
        stored, membership = _rule(request, org_id, rule_id)
        rule = copy.copy(stored)
    else:
        scope = PERSONAL if request.POST.get("scope") == PERSONAL else ORGANIZATION
        membership = _membership(request, org_id, scope)
        rule = _new_rule(request, membership, scope)
    forms.rule_from_post(request.POST, rule)
    op = request.POST.get("op", "")
    if op == "import":
        try:
            data = portability.parse_import(request.POST.get("import_json", ""))
            imported, dropped = portability.adapt(
                data, membership.organization, rule.owner if rule.is_personal else None, created_by=request.user
            )
        except ValueError as error:
            return _render_editor(request, membership, rule, import_error=str(error))
        for name in ("description", "trigger", "channel", "user_action", "hours_basis", "hours_team_id"):
            setattr(rule, name, getattr(imported, name))
        rule.conditions, rule.actions = imported.conditions, imported.actions
        return _render_editor(request, membership, rule, dropped=dropped, notes=["Rule imported. Review it and save."])
    if op != "save":
        forms.apply_op(rule, op)
        return _render_editor(request, membership, rule)
    errors = validate_rule(rule)
    if errors:
        return _render_editor(request, membership, rule, errors=errors)
    rule.updated_at = timezone.now()
    rule.save()
    messages.success(request, f"Rule {rule.description} saved.")
    return leave_page(request, _list_url(org_id, _scope_of(rule)))


# --- The run log ------------------------------------------------------------------------------


@require_safe
@login_required
def rule_runs(request: AuthenticatedRequest, org_id: UUID, rule_id: UUID) -> HttpResponse:
    """The rule's runs, newest first: when, the conversation (a link if I can see it), the
    outcome, what each action did and the error."""
    rule, membership = _rule(request, org_id, rule_id)
    runs = RuleRun.objects.filter(rule=rule).select_related("conversation").order_by("-created_at", "-id")
    page = Paginator(runs, 25).get_page(request.GET.get("page"))
    visible = set(
        ConversationState.objects.filter(
            user=request.user, conversation_id__in=[run.conversation_id for run in page if run.conversation_id]
        ).values_list("conversation_id", flat=True)
    )
    rows = [
        {
            "run": run,
            "visible": run.conversation_id in visible,
            "actions": [_log_text(rule, entry) for entry in run.log if isinstance(entry, dict)],
        }
        for run in page
    ]
    context = settings_context(request, membership, "rules", rule=rule, page=page, rows=rows, scope=_scope_of(rule))
    return render_page(request, "rules/runs.html", context, partials={"rule-runs": "rule_runs"})


def _log_text(rule: Rule, entry: dict[str, Any]) -> str:
    from rules import catalog

    action = catalog.ACTIONS.get(str(entry.get("type", "")))
    label = action.label if action else str(entry.get("type", "Action"))
    state = str(entry.get("state", ""))
    detail = str(entry.get("detail", ""))
    return " · ".join(part for part in (label, state, detail) if part)
