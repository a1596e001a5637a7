"""Tenant isolation: every tenant-owned table carries organization_id, and every URL refuses
the objects of another organization."""

import re

import pytest
from django.apps import apps
from django.urls import URLPattern, URLResolver, get_resolver

from channels_app.api.tokens import create_token
from conversations.incoming import IncomingAttachment
from rules.models import Rule
from tests.conftest import login
from tests.factories import LabelFactory, receive

OUR_APPS = {"inboxes", "conversations", "rules", "channels_app", "contacts"}
# An API token is a person's, like the User it acts as (who may belong to several organizations):
# each request it makes is checked per organization.
NOT_TENANT_OWNED = {"inboxes.User", "inboxes.Organization", "channels_app.ApiToken"}


def test_every_tenant_owned_table_carries_organization_id():
    missing = [
        model._meta.label
        for model in apps.get_models(include_auto_created=True)
        if model._meta.app_label in OUR_APPS
        and model._meta.label not in NOT_TENANT_OWNED
        and "organization_id" not in {f.attname for f in model._meta.concrete_fields}
    ]
    assert missing == []


def _routes(resolver: URLResolver, prefix: str = ""):
    for entry in resolver.url_patterns:
        if isinstance(entry, URLResolver):
            yield from _routes(entry, prefix + str(entry.pattern))
        elif isinstance(entry, URLPattern):
            yield prefix + str(entry.pattern)


# Authentication pages belong to django-allauth and carry no tenant objects.
# allauth's pages; the /v1 API authenticates by token, and tests/api/test_isolation.py walks its routes.
EXTERNAL_PREFIXES = ("accounts/", "v1/")


@pytest.fixture
def first_org_objects(cast, tmp_storage):
    """One object of the first organization for every kind of id a URL can carry."""
    message = receive(
        cast.support_account,
        attachments=[
            IncomingAttachment(filename="a.txt", content_type="text/plain", content=b"x", content_id="part@acme.test")
        ],
    )
    from inboxes.actions import do_invite_user
    from inboxes.models import Membership

    invitation = do_invite_user(cast.org, email="new@acme.test", role="member", teams=[], invited_by=cast.owner)
    return {
        "conversation_id": message.conversation_id,
        "message_id": message.id,
        "attachment_id": message.attachments.get().id,
        "team_id": cast.support.id,
        "label_id": LabelFactory(organization=cast.org).id,
        "org_id": cast.org.id,
        "organization_id": cast.org.id,
        "account_id": cast.support_account.id,
        "membership_id": Membership.objects.get(organization=cast.org, user=cast.teammate).id,
        "user_id": cast.teammate.id,
        "invitation_id": invitation.id,
        "imap_message_id": _failed_import(cast).id,
        "saved_search_id": _saved_search(cast.owner),
        "rule_id": Rule.objects.create(organization=cast.org, description="Acme rule", trigger="incoming").id,
        "activity_id": _activity_item(cast, message.conversation),
        **_comment_extras(cast, message.conversation),
        "task_id": _subtask(cast, message.conversation),
        **_canned_response(cast, message.conversation),
        "alias_id": _alias(cast),
        "signature_id": _signature(cast),
        "token_id": create_token(cast.owner, "Acme script")[0].id,
        "template_id": _whatsapp_template(cast),
        # Last: its draft_id (a reply draft with a file) is the one the draft URLs get.
        **_draft(cast, message.conversation),
        **_contacts(cast),
    }


def _contacts(cast):
    from contacts.actions import do_create_contact, do_create_contact_book

    book = do_create_contact_book(cast.org, owner=cast.owner, name="Acme book", share_with_organization=True)
    return {"book_id": book.id, "contact_id": do_create_contact(book, acting_user=None, data={"first_name": "A"}).id}


def _canned_response(cast, conversation):
    """An organization response with a file, and a draft to insert it into."""
    from django.core.files.base import ContentFile

    from conversations.models import CannedResponse, CannedResponseAttachment, CannedScope, Draft

    response = CannedResponse.objects.create(organization=cast.org, scope=CannedScope.ORGANIZATION, title="Hi")
    attachment = CannedResponseAttachment(organization=cast.org, response=response, filename="a.txt")
    attachment.file.save("a.txt", ContentFile(b"x"), save=True)
    draft = Draft.objects.create(organization=cast.org, conversation=conversation, creator=cast.owner)
    return {"response_id": response.id, "response_file_id": attachment.id, "draft_id": draft.id}


def _alias(cast):
    from inboxes.models import Alias

    return Alias.objects.get(account=cast.support_account, is_default=True).id


def _whatsapp_template(cast):
    from channels_app.models import WhatsAppTemplate
    from inboxes.models import AccountKind
    from tests.factories import AccountFactory

    account = AccountFactory(organization=cast.org, owner=cast.owner, kind=AccountKind.WHATSAPP, address="+15550001111")
    return WhatsAppTemplate.objects.create(
        organization=cast.org, account=account, name="hi", content_sid="HX1", body="Hi {{1}}"
    ).id


def _signature(cast):
    from inboxes.models import Signature

    return Signature.objects.create(organization=cast.org, name="Team", body="<p>Acme</p>").id


def _draft(cast, conversation):
    """A reply draft with a file."""
    from django.core.files.uploadedfile import SimpleUploadedFile

    from conversations.drafts import do_add_draft_attachment, do_start_draft

    draft = do_start_draft(conversation, acting_user=cast.owner, kind="reply")
    upload = SimpleUploadedFile("a.txt", b"x", content_type="text/plain")
    attachment = do_add_draft_attachment(draft, acting_user=cast.owner, upload=upload, inline=False)
    return {"draft_id": draft.id, "draft_attachment_id": attachment.id}


def _subtask(cast, conversation):
    from conversations.task_actions import do_create_subtask

    return do_create_subtask(conversation, acting_user=cast.owner, title="Call back").id


def _comment_extras(cast, conversation):
    """A comment with a file, and a mention group."""
    from django.core.files.uploadedfile import SimpleUploadedFile

    from conversations.actions import do_post_comment
    from inboxes.mention_groups import do_add_to_mention_group
    from inboxes.models import Membership

    png = SimpleUploadedFile("a.png", b"\x89PNG\r\n\x1a\n", content_type="image/png")
    comment = do_post_comment(conversation, author=cast.owner, body="x", files=[png])
    member = Membership.objects.select_related("user").get(organization=cast.org, user=cast.teammate)
    return {
        "item_id": comment.id,
        "file_id": comment.files.get().id,
        "group_id": do_add_to_mention_group(member, name="apollo").id,
    }


def _activity_item(cast, conversation):
    from conversations.actions import do_post_comment
    from conversations.models import ActivityItem

    do_post_comment(conversation, author=cast.owner, body="@teammate look")
    return ActivityItem.objects.get(recipient=cast.teammate).id


def _saved_search(user):
    """Saved searches belong to a person: only they can remove one."""
    user.saved_searches = [{"id": "a1b2c3", "name": "Acme", "query": "from:acme", "mailbox_url": "/m/all/"}]
    user.save()
    return "a1b2c3"


def _failed_import(cast):
    from channels_app.models import ImapFolder, ImapMessage, ImapMessageState

    folder = ImapFolder.objects.create(organization=cast.org, account=cast.support_account, name="INBOX")
    return ImapMessage.objects.create(
        organization=cast.org,
        account=cast.support_account,
        folder=folder,
        uidvalidity=1,
        uid=1,
        raw_path="raw/00/none.eml",
        state=ImapMessageState.FAILED,
    )


# Parameters that name no object: any value is fine.
FREE_PARAMETERS = {
    "key": "inbox",
    "token": "no-such-invitation-token",
    "action": "archive",
    "content_id": "part@acme.test",
    "kind": "comment",
    # With a subtask's id (task_id): "s" is the Tasks views' name for subtasks.
    "task_kind": "s",
    # A signed download link (channels_app/api/files.py): a forged one is a 404.
    "signed": "m.forged:1:abc",
    # Add account › Others: "sms" or "whatsapp" (by Twilio).
    "slug": "sms",
}


def test_every_url_refuses_another_organizations_objects(client, cast, first_org_objects):
    login(client, cast.outsider)
    checked, unknown = 0, []
    for route in _routes(get_resolver()):
        if route.startswith(EXTERNAL_PREFIXES):
            continue
        names = re.findall(r"<(?:\w+:)?(\w+)>", route)
        object_names = [n for n in names if n not in FREE_PARAMETERS]
        if not object_names:
            continue
        if any(n not in first_org_objects for n in object_names):
            unknown.append(route)
            continue
        path = "/" + re.sub(
            r"<(?:\w+:)?(\w+)>",
            lambda m: str(first_org_objects.get(m.group(1), FREE_PARAMETERS.get(m.group(1)))),
            route,
        )
        for method in ("get", "post"):
            response = getattr(client, method)(path)
            assert response.status_code in (403, 404, 405), f"{method.upper()} {path} -> {response.status_code}"
        checked += 1
    assert unknown == [], "add these URL parameters to first_org_objects"
    assert checked >= 5
