"""Twilio's pages: connecting a number (Settings › Accounts › Add account › Others), a WhatsApp
number's templates, and the endpoints Twilio calls: incoming messages, status callbacks, and the
signed links of our outgoing media.

The webhooks are csrf-exempt and unauthenticated; they answer 403 and store nothing unless
X-Twilio-Signature matches the account's Auth Token over the URL Twilio requested."""

from __future__ import annotations

import contextlib
import json
from uuid import UUID

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, HttpResponseForbidden
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST, require_safe
from twilio.request_validator import RequestValidator

from channels_app.models import WhatsAppTemplate
from channels_app.twilio.accounts import KIND_NAMES, ConnectProblem, do_connect_twilio_account
from channels_app.twilio.forms import TwilioAccountForm, WhatsAppTemplateForm
from channels_app.twilio.inbound import WHATSAPP_PREFIX, apply_status, receive_inbound, strip_channel
from channels_app.twilio.sender import attachment_for_token
from channels_app.twilio.whatsapp import do_send_whatsapp_template, placeholders, window_open
from channels_app.views import _get_account, _get_changeable_account, _get_connecting_membership
from conversations.actions import ActionRefused
from conversations.draft_views import _composer_error, _pane
from conversations.drafts import get_draft_for_user
from conversations.models import Attachment, Message
from inboxes.models import Account, AccountKind, Membership
from inboxes.pages import settings_context
from missive.htmx import AuthenticatedRequest, leave_page, render_page

KINDS = {"sms": AccountKind.TWILIO_SMS, "whatsapp": AccountKind.WHATSAPP}
EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response/>'


# --- Connecting ------------------------------------------------------------------------------------


def _kind(slug: str) -> str:
    if slug not in KINDS:
        raise Http404("No such channel.")
    return KINDS[slug]


def _render_add(
    request: AuthenticatedRequest, membership: Membership, form: TwilioAccountForm, slug: str
) -> HttpResponse:
    context = settings_context(
        request,
        membership,
        "accounts",
        form=form,
        slug=slug,
        kind_name=KIND_NAMES[form.kind],
        can_manage=membership.can_manage,
    )
    return render_page(request, "channels_app/add_twilio.html", context, partials={"add-twilio": "twilio_form"})


@require_safe
@login_required
def add_twilio_account(request: AuthenticatedRequest, org_id: UUID, slug: str) -> HttpResponse:
    """The SMS / WhatsApp by Twilio connection form."""
    membership = _get_connecting_membership(request, org_id)
    return _render_add(request, membership, TwilioAccountForm(acting=membership, kind=_kind(slug)), slug)


@require_POST
@login_required
def connect_twilio_account(request: AuthenticatedRequest, org_id: UUID, slug: str) -> HttpResponse:
    """Check the credentials and number with Twilio, connect, and point the number at us."""
    membership = _get_connecting_membership(request, org_id)
    form = TwilioAccountForm(request.POST, acting=membership, kind=_kind(slug))
    if not form.is_valid():
        return _render_add(request, membership, form, slug)
    form.check_may_share()
    try:
        account, created = do_connect_twilio_account(
            membership.organization,
            form.details(),
            owner=request.user,
            team=form.delivery_team,
            shared=form.is_shared,
            shared_with=form.shared_with(),
        )
    except ConnectProblem as problem:
        form.add_error(problem.field, problem.message)
        return _render_add(request, membership, form, slug)
    verb = "Connected" if created else "Reconnected"
    messages.success(request, f"{verb} {account.address}. Its new messages will arrive here.")
    return leave_page(request, reverse("settings_account", args=[org_id, account.id]))


# --- WhatsApp templates ----------------------------------------------------------------------------


def _whatsapp_account(account: Account) -> Account:
    if account.kind != AccountKind.WHATSAPP:
        raise Http404("Not a WhatsApp number.")
    return account


def _render_templates(
    request: AuthenticatedRequest,
    membership: Membership,
    account: Account,
    form: WhatsAppTemplateForm,
    status: int = 200,
) -> HttpResponse:
    context = settings_context(
        request,
        membership,
        "accounts",
        account=account,
        form=form,
        templates=WhatsAppTemplate.objects.filter(account=account),
        can_change=membership.can_manage or account.owner_id == membership.user_id,
    )
    return render_page(
        request,
        "channels_app/whatsapp_templates.html",
        context,
        partials={"whatsapp-templates": "templates"},
        status=status,
    )


@require_safe
@login_required
def whatsapp_templates(request: AuthenticatedRequest, org_id: UUID, account_id: UUID) -> HttpResponse:
    """The approved templates a WhatsApp number may send outside the 24-hour window."""
    membership, account = _get_account(request, org_id, account_id)
    account = _whatsapp_account(account)
    return _render_templates(request, membership, account, WhatsAppTemplateForm(account=account))


@require_POST
@login_required
def add_whatsapp_template(request: AuthenticatedRequest, org_id: UUID, account_id: UUID) -> HttpResponse:
    """Add a template approved at Twilio/Meta (its Content SID and text)."""
    membership, account = _get_changeable_account(request, org_id, account_id)
    account = _whatsapp_account(account)
    form = WhatsAppTemplateForm(request.POST, account=account)
    if not form.is_valid():
        return _render_templates(request, membership, account, form)
    template = form.save(commit=False)
    template.organization_id, template.account = account.organization_id, account
    template.save()
    return _render_templates(request, membership, account, WhatsAppTemplateForm(account=account))


@require_POST
@login_required
def delete_whatsapp_template(
    request: AuthenticatedRequest, org_id: UUID, account_id: UUID, template_id: UUID
) -> HttpResponse:
    """Remove a template from the picker."""
    membership, account = _get_changeable_account(request, org_id, account_id)
    get_object_or_404(WhatsAppTemplate, account=_whatsapp_account(account), id=template_id).delete()
    if not request.htmx:
        return redirect("settings_whatsapp_templates", org_id, account_id)
    return _render_templates(request, membership, account, WhatsAppTemplateForm(account=account))


# --- What Twilio calls -----------------------------------------------------------------------------


def _public_url(request: HttpRequest) -> str:
    """The URL as Twilio requested it, through any proxy in front of us."""
    proto = request.headers.get("X-Forwarded-Proto", "").split(",")[0].strip() or request.scheme
    host = request.headers.get("X-Forwarded-Host", "").split(",")[0].strip() or request.META.get("HTTP_HOST", "")
    return f"{proto}://{host}{request.get_full_path()}"


def _signed_params(request: HttpRequest, account: Account) -> dict[str, str] | None:
    """The request's parameters if Twilio signed them with this account's Auth Token, else None.
    A JSON body (a Studio flow) is signed through its bodySHA256 query parameter."""
    signature = request.headers.get("X-Twilio-Signature", "")
    token = account.credentials.get("auth_token", "")
    if not signature or not token:
        return None
    validator, url = RequestValidator(token), _public_url(request)
    if request.content_type == "application/json":
        body = request.body.decode("utf-8", "replace")
        if "bodySHA256" not in request.GET or not validator.validate(url, body, signature):
            return None
        try:
            payload = json.loads(body)
        except ValueError:
            return None
        return {str(k): str(v) for k, v in payload.items()} if isinstance(payload, dict) else None
    if not validator.validate(url, request.POST, signature):
        return None
    return {key: request.POST[key] for key in request.POST}


def _phone_account(account_id: UUID) -> Account:
    account = Account.objects.filter(id=account_id, kind__in=list(KINDS.values())).first()
    if account is None:
        raise Http404("No such number.")
    return account


def _twiml() -> HttpResponse:
    return HttpResponse(EMPTY_TWIML, content_type="text/xml")


@csrf_exempt
@require_POST
def twilio_inbound(request: HttpRequest, account_id: UUID) -> HttpResponse:
    """An incoming SMS or WhatsApp message (the number's SmsUrl, or a Studio flow's HTTP widget)."""
    account = _phone_account(account_id)
    params = _signed_params(request, account)
    if params is None:
        return HttpResponseForbidden("Invalid Twilio signature.")
    if params.get("AccountSid") != account.credentials.get("account_sid"):
        return HttpResponseForbidden("This message is for another Twilio account.")
    receive_inbound(account, params)
    return _twiml()


def _posted_params(request: HttpRequest) -> dict[str, str]:
    """The webhook's fields, unverified: only to find which account's token must verify them."""
    if request.content_type == "application/json":
        try:
            payload = json.loads(request.body)
        except ValueError:
            return {}
        return {str(k): str(v) for k, v in payload.items()} if isinstance(payload, dict) else {}
    return {key: request.POST[key] for key in request.POST}


@csrf_exempt
@require_POST
def twilio_inbound_routed(request: HttpRequest) -> HttpResponse:
    """The seed's single callback URL (…/twilio, as in its Studio example): routed by AccountSid
    and To to the account of that number whose Auth Token signed the request."""
    claimed = _posted_params(request)
    to = claimed.get("To", "")
    kind = AccountKind.WHATSAPP if to.startswith(WHATSAPP_PREFIX) else AccountKind.TWILIO_SMS
    for account in Account.objects.filter(kind=kind, address=strip_channel(to)):
        if account.credentials.get("account_sid") != claimed.get("AccountSid"):
            continue
        params = _signed_params(request, account)
        if params is not None:
            receive_inbound(account, params)
            return _twiml()
    return HttpResponseForbidden("Invalid Twilio signature, or no such number.")


@csrf_exempt
@require_POST
def twilio_status(request: HttpRequest, account_id: UUID) -> HttpResponse:
    """A status callback of a message we sent: queued → sent → delivered (or failed)."""
    account = _phone_account(account_id)
    params = _signed_params(request, account)
    if params is None:
        return HttpResponseForbidden("Invalid Twilio signature.")
    messages_of_account = Message.objects.filter(account=account)
    message = None
    with contextlib.suppress(ValueError):
        message = messages_of_account.filter(id=UUID(request.GET.get("message", ""))).first()
    if message is None and params.get("MessageSid"):
        message = messages_of_account.filter(external_id=params["MessageSid"]).first()
    if message is not None:
        apply_status(message, params)
    return _twiml()


@require_safe
def twilio_media(request: HttpRequest, token: str) -> FileResponse:
    """An outgoing attachment, for Twilio to fetch: the signed token is the only key."""
    attachment_id = attachment_for_token(token)
    if attachment_id is None:
        raise Http404("This link expired.")
    attachment = get_object_or_404(Attachment, id=attachment_id)
    response = FileResponse(
        attachment.file.open("rb"), content_type=attachment.content_type, filename=attachment.filename
    )
    response["X-Content-Type-Options"] = "nosniff"
    return response


# --- The composer's WhatsApp templates ------------------------------------------------------------


@require_safe
@login_required
def whatsapp_template_picker(request: AuthenticatedRequest, draft_id: UUID) -> HttpResponse:
    """Under a WhatsApp draft: whether free-form is allowed now, and the templates to send otherwise."""
    draft = get_draft_for_user(request.user, draft_id)
    if draft.account is None or draft.account.kind != AccountKind.WHATSAPP:
        return HttpResponse("")
    templates = [
        (template, placeholders(template.body))
        for template in WhatsAppTemplate.objects.filter(account=draft.account, status="approved")
    ]
    context = {"draft": draft, "window_open": window_open(draft.conversation), "templates": templates}
    return render(request, "channels_app/_whatsapp_picker.html", context)


@require_POST
@login_required
def send_whatsapp_template(request: AuthenticatedRequest, draft_id: UUID, template_id: UUID) -> HttpResponse:
    """Send Template: the draft goes as the chosen template with its variables filled in."""
    draft = get_draft_for_user(request.user, draft_id)
    template = get_object_or_404(WhatsAppTemplate, id=template_id, account_id=draft.account_id)
    variables = {key: request.POST.get(f"var_{key}", "") for key in placeholders(template.body)}
    try:
        do_send_whatsapp_template(draft, template=template, variables=variables, acting_user=request.user)
    except ActionRefused as refusal:
        return _composer_error(draft.id, " ".join(refusal.messages))
    return _pane(request, draft.conversation)
