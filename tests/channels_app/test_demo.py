"""The demo data of `make run`, delivered from bundled .eml files and Twilio webhook parameters
through the ingestion code."""

from django.core.management import call_command

from conversations.models import Conversation, ConversationKind, ConversationState, Location, Message
from inboxes.models import AccountKind, Organization, Team, User


def test_seed_demo_builds_a_lived_in_organization_once(db, capsys):
    call_command("seed_demo")
    call_command("seed_demo")

    assert Organization.objects.count() == 1
    assert Team.objects.count() == 2 and User.objects.count() == 5
    emails = Message.objects.exclude(account__kind=AccountKind.TWILIO_SMS)
    email_threads = Conversation.objects.filter(kind=ConversationKind.THREAD, messages__in=emails).distinct()
    assert email_threads.count() == 15 and emails.count() == 18
    assert Conversation.objects.filter(kind=ConversationKind.ORG_ROOM).count() == 1, "the General room"
    assert not Message.objects.exclude(parse_error="").exists()
    assert not emails.filter(raw_file="").exists(), "every email keeps its original bytes"
    texts = Message.objects.filter(account__kind=AccountKind.TWILIO_SMS, account__team__name="Support")
    assert texts.count() == 3
    by_conversation = sorted(texts.values_list("conversation_id", flat=True))
    assert len(set(by_conversation)) == 2, "one conversation per pair of numbers"
    assert all(c.in_team_inbox for c in Conversation.objects.filter(id__in=by_conversation))
    anna = User.objects.get(email="anna@demo.example")
    assert ConversationState.objects.filter(user=anna, location=Location.INBOX).count() == 3
    assert Conversation.objects.filter(in_team_inbox=True).count() > 5
    output = capsys.readouterr().out
    assert "anna@demo.example / demo-password" in output and "already present" in output
