"""The demo data of `make run`, delivered from bundled .eml files through the ingestion code."""

from django.core.management import call_command

from conversations.models import Conversation, ConversationKind, ConversationState, Location, Message
from inboxes.models import Organization, Team, User


def test_seed_demo_builds_a_lived_in_organization_once(db, capsys):
    call_command("seed_demo")
    call_command("seed_demo")

    assert Organization.objects.count() == 1
    assert Team.objects.count() == 2 and User.objects.count() == 5
    threads = Conversation.objects.filter(kind=ConversationKind.THREAD)
    assert threads.count() == 15 and Message.objects.count() == 18
    assert Conversation.objects.filter(kind=ConversationKind.ORG_ROOM).count() == 1, "the General room"
    assert not Message.objects.exclude(parse_error="").exists()
    assert not Message.objects.filter(raw_file="").exists(), "every message keeps its original bytes"
    anna = User.objects.get(email="anna@demo.example")
    assert ConversationState.objects.filter(user=anna, location=Location.INBOX).count() == 3
    assert Conversation.objects.filter(in_team_inbox=True).count() > 5
    output = capsys.readouterr().out
    assert "anna@demo.example / demo-password" in output and "already present" in output
