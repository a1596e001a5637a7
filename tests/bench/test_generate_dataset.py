"""The benchmark dataset looks like what the actions produce, and the harness measures real requests."""

from __future__ import annotations

import io

import pytest
from django.core.management import CommandError, call_command
from django.db.models import Count, Exists, F, ForeignKey, Max, OuterRef

from bench.run import Bench, PlanCheck, Result, check_indexes, comparison, measure, pick_cast, size_label, table
from bench.searches import run_searches
from conversations.delivery import make_preview
from conversations.management.commands.generate_dataset import Rows, dataset_organizations
from conversations.models import (
    Assignment,
    Comment,
    Conversation,
    ConversationEvent,
    ConversationState,
    Location,
    Message,
    Status,
)
from inboxes.models import Membership, Role, Team, TeamMembership

pytestmark = pytest.mark.django_db


def generate(conversations: int = 200, **options) -> str:
    out = io.StringIO()
    call_command("generate_dataset", conversations=conversations, users=12, teams=3, seed=7, stdout=out, **options)
    return out.getvalue()


@pytest.fixture
def dataset() -> None:
    generate()


def test_counts_are_as_requested(dataset):
    organizations = dataset_organizations()
    assert organizations.count() == 2
    assert Conversation.objects.filter(organization__in=organizations).count() == 200
    assert Message.objects.filter(organization__in=organizations).count() == 1000
    assert Membership.objects.filter(organization__in=organizations).count() == 12
    assert Team.objects.filter(organization__in=organizations).count() == 3
    assert ConversationEvent.objects.exists()
    assert Assignment.objects.exists()


def test_every_reference_points_at_a_row(dataset):
    """The generator may skip the per-row foreign key triggers, so check the references here."""
    for model in Rows.FIELDS:
        for field in model._meta.concrete_fields:
            if isinstance(field, ForeignKey):
                parent = field.related_model.objects.filter(pk=OuterRef(field.attname))
                orphans = model.objects.filter(**{f"{field.attname}__isnull": False}).exclude(Exists(parent))
                assert not orphans.exists(), f"{model.__name__}.{field.name}"


def test_every_state_copies_its_conversations_last_activity(dataset):
    assert ConversationState.objects.count() > 200
    assert not ConversationState.objects.exclude(last_activity_at=F("conversation__last_activity_at")).exists()


def test_in_team_inbox_holds_exactly_for_open_unassigned_team_conversations(dataset):
    has_assignee = Exists(Assignment.objects.filter(conversation=OuterRef("pk")))
    for conversation in Conversation.objects.annotate(has_assignee=has_assignee):
        assert conversation.assigned == conversation.has_assignee, conversation.id
        waiting = (
            conversation.team_id is not None
            and conversation.status == Status.OPEN
            and not conversation.has_assignee
            and not conversation.is_spam
            and conversation.snoozed_until is None
        )
        assert conversation.in_team_inbox == waiting, conversation.id
        copies = {(conversation.status == Status.OPEN, conversation.team_id if waiting else None)}
        assert set(conversation.states.values_list("conversation_open", "team_inbox")) == copies, conversation.id
    assert Conversation.objects.filter(in_team_inbox=True).exists()
    assert Conversation.objects.filter(team__isnull=False, in_team_inbox=False).exists()


def test_summaries_match_the_messages(dataset):
    conversations = Conversation.objects.annotate(n=Count("messages"), last_sent=Max("messages__sent_at"))
    for conversation in conversations:
        assert conversation.message_count == conversation.n
        assert conversation.last_activity_at >= conversation.last_sent
        latest = conversation.messages.order_by("-sent_at").first()
        assert conversation.preview == make_preview(latest.body_text)
        assert conversation.participants[0]["address"] == latest.from_address


def test_access_follows_the_delivery_rules(dataset):
    for conversation in Conversation.objects.filter(team__isnull=False):
        members = set(TeamMembership.objects.filter(team=conversation.team_id).values_list("user_id", flat=True))
        assert members <= set(conversation.states.values_list("user_id", flat=True))
    for assignment in Assignment.objects.all():
        state = ConversationState.objects.get(conversation=assignment.conversation_id, user=assignment.user_id)
        assert state.watching
    assert not ConversationState.objects.filter(location=Location.SNOOZED, snoozed_until__isnull=True).exists()
    assert ConversationState.objects.filter(location=Location.NONE).exists()
    assert ConversationState.objects.filter(location=Location.INBOX).exists()


def test_messages_are_shared_out_as_requested():
    generate(conversations=100, messages=700)
    assert Message.objects.count() == 700
    assert Conversation.objects.count() == 100


def test_comments_are_written_by_people_who_see_the_conversation(dataset):
    comments = list(Comment.objects.select_related("conversation"))
    commented = {comment.conversation_id for comment in comments}
    assert 0.1 * 200 <= len(commented) <= 0.35 * 200  # a share of the conversations, not all
    for comment in comments:
        assert comment.organization_id == comment.conversation.organization_id
        assert ConversationState.objects.filter(conversation=comment.conversation_id, user=comment.author_id).exists()
        assert not Membership.objects.filter(user=comment.author_id, role=Role.GUEST).exists()
        assert comment.conversation.created_at <= comment.created_at <= comment.conversation.last_activity_at
    mentions = [comment for comment in comments if "@" in comment.body]
    assert mentions
    for comment in mentions:
        # "@Full Name" of someone else who can see the conversation.
        names = ConversationState.objects.filter(conversation=comment.conversation_id).exclude(user=comment.author_id)
        assert any(f"@{name}" in comment.body for name in names.values_list("user__name", flat=True)), comment.body


def test_deleting_the_dataset_deletes_its_comments(dataset):
    assert Comment.objects.exists()
    generate(conversations=50, reset=True)
    assert not Comment.objects.exclude(conversation__in=Conversation.objects.all()).exists()
    assert Conversation.objects.count() == 50


def test_refuses_to_run_twice_unless_reset(dataset):
    with pytest.raises(CommandError, match="--reset"):
        generate()
    generate(conversations=50, reset=True)
    assert Conversation.objects.count() == 50
    assert dataset_organizations().count() == 2


def test_the_harness_times_pages_and_actions():
    generate(conversations=60)
    bench = Bench(pick_cast(), runs=2)
    page = bench.page("Inbox list", "/m/inbox/")
    assert len(page.seconds) == 2
    assert min(page.queries) > 0
    assert page.p95 >= page.p50 > 0
    ids = bench.take(bench.states().filter(location__in=[Location.NONE, Location.ARCHIVED]))
    bench.action("star", "star", ids, "/m/all/")
    assert ConversationState.objects.filter(user=bench.cast.user, conversation_id__in=ids, starred=True).count() == 3
    slow = measure("slow", [1], lambda _: None, target_ms=0)
    assert slow.verdict == "FAIL"
    lines = table([page, slow])
    assert "Inbox list" in lines[2]
    assert lines[3].endswith("FAIL")


def test_the_harness_registers_the_list_query_for_the_plan_check():
    generate(conversations=60)
    bench = Bench(pick_cast(), runs=2)
    page = bench.page("Inbox list", "/m/inbox/")
    assert "conversations_conversationstate" in page.plan_sql and "LIMIT 51" in page.plan_sql
    check = check_indexes(page.name, page.plan_sql)
    assert any("conversations_conversationstate" in read for read in check.reads)


def test_a_sequential_scan_of_a_big_table_fails_the_plan_check():
    check = check_indexes("everything", "SELECT * FROM conversations_message")
    assert check.reads == ["Seq Scan on conversations_message"]
    assert check.verdict == "FAIL"
    assert PlanCheck("small table", ["Seq Scan on inboxes_team"]).verdict == "PASS"
    indexed = PlanCheck("list", ["Index Scan using state_mailbox on conversations_conversationstate"])
    assert indexed.verdict == "PASS"


def test_the_comparison_fails_a_figure_more_than_twice_as_slow_at_the_larger_size():
    def result(name, ms):
        return Result(name, target_ms=50, seconds=[ms / 1000] * 3)

    small = [result("Inbox list", 20), result("Team inbox list", 20)]
    large = [result("Inbox list", 39), result("Team inbox list", 41)]
    lines = comparison([(100_000, small), (1_000_000, large)])
    assert "100k" in lines[0] and "1m" in lines[0]
    assert lines[2].startswith("Inbox list") and lines[2].endswith("PASS")
    assert lines[3].startswith("Team inbox list") and lines[3].endswith("FAIL")
    assert [size_label(n) for n in (100_000, 1_000_000, 250_000, 1234)] == ["100k", "1m", "250k", "1234"]


def test_the_harness_times_ten_valid_searches_and_checks_their_plans():
    generate(conversations=60)
    bench = Bench(pick_cast(), runs=1)
    run_searches(bench)
    assert len(bench.results) == 10
    for result in bench.results:
        assert len(result.seconds) == 1, result.name
        assert '"conversations_conversationstate"."id" AS "pk"' in result.plan_sql, result.name
        assert check_indexes(result.name, result.plan_sql).reads


def test_assignees_states_say_they_are_assigned(dataset):
    assignment = Assignment.objects.filter(conversation=OuterRef("conversation"), user=OuterRef("user"))
    states = ConversationState.objects.annotate(has=Exists(assignment))
    assert states.filter(assigned=True).exists()
    assert not states.exclude(assigned=F("has")).exists()
