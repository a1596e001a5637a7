"""Labels: who sees which, the tree they form, creating, editing and deleting them, and applying
them to conversations.

An organization label is seen by everyone in its organization, or (visibility "restricted") by
its owners and admins and its auto-shared users and teams only. A personal label (`owner` set) is
seen by its owner alone, and applying it never shares anything. Applying an organization label
gives its auto-shared users and the members of its auto-shared teams access to the conversation,
without placing it in their Inbox (the "water cooler": read it when you like).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Exists, OuterRef, Q
from django.http import Http404
from django.utils import timezone

from conversations import live
from conversations.actions import ActionRefused, _event, _state_of, new_copy
from conversations.counts import invalidate_counts_now_and_after_commit
from conversations.models import (
    AccessSource,
    Conversation,
    ConversationLabel,
    ConversationState,
    EventKind,
    Label,
    LabelAutoShareTeam,
    LabelAutoShareUser,
    LabelPreference,
    LabelVisibility,
)
from conversations.search import label_path
from conversations.signals import label_changed
from inboxes.models import Membership, Organization, Role, Team, TeamMembership, User
from missive.ids import is_uuid

# The seed's limits.
MAX_ORGANIZATION_LABELS = 10_000  # per organization
MAX_SHARED_LABELS_PER_CONVERSATION = 100  # organization labels on one conversation
# Ours: the seed gives no number for personal labels; the organization's keeps them bounded.
MAX_PERSONAL_LABELS = 10_000  # per person and organization
RECENT_LABELS = 5  # how many recently used labels head the label menu
PATH_SEPARATOR = "/"


# --- Who sees which label ---------------------------------------------------------------------


def visible_label_q(user: OuterRef, prefix: str = "") -> Q:
    """The condition, in a subquery, for a label (reached through `prefix`, e.g. "label__") to
    be visible to the user that `user` refers to (labels_visible_to_user_q for a known one)."""
    inner = OuterRef(user)

    def field(name: str) -> str:
        return f"{prefix}{name}"

    member = Membership.objects.filter(organization_id=OuterRef(field("organization_id")), user_id=inner)
    manager = member.filter(role__in=[Role.OWNER, Role.ADMIN])
    shared_user = LabelAutoShareUser.objects.filter(label_id=OuterRef(field("id")), user_id=inner)
    shared_team = LabelAutoShareTeam.objects.filter(label_id=OuterRef(field("id")), team__memberships__user_id=inner)
    organization_label = Q(**{field("owner__isnull"): True}) & (
        Q(**{field("visibility"): LabelVisibility.EVERYONE})
        | Exists(manager)
        | Exists(shared_user)
        | Exists(shared_team)
    )
    return Exists(member) & (Q(**{field("owner_id"): user}) | organization_label)


def labels_visible_to_user_q(user_id: UUID, memberships: Iterable[Membership] | None = None) -> Q:
    """visible_label_q for one known person, built cheaply: their organizations and roles are
    read first (one small query, none when the caller has their `memberships`) and the
    auto-shares are plain `IN` lists. The sidebar and every label menu ask it, so the cost of
    building the query matters as much as running it."""
    if memberships is None:
        memberships = Membership.objects.filter(user_id=user_id).only("organization_id", "role")
    organizations, managed = [], []
    for membership in memberships:
        organizations.append(membership.organization_id)
        if membership.can_manage:
            managed.append(membership.organization_id)
    shared_with_user = LabelAutoShareUser.objects.filter(user_id=user_id).values("label_id")
    teams = TeamMembership.objects.filter(user_id=user_id).values("team_id")
    shared_with_team = LabelAutoShareTeam.objects.filter(team_id__in=teams).values("label_id")
    organization_label = Q(owner__isnull=True) & (
        Q(visibility=LabelVisibility.EVERYONE)
        | Q(organization_id__in=managed)
        | Q(id__in=shared_with_user)
        | Q(id__in=shared_with_team)
    )
    return Q(organization_id__in=organizations) & (Q(owner_id=user_id) | organization_label)


def get_label_for_user(user: User, label_id: UUID | str, *, organization_id: UUID | None = None) -> Label:
    """A label the user may see (and so apply), optionally of one organization; 404 otherwise."""
    label = None
    if is_uuid(str(label_id)):
        labels = Label.objects.visible_to(user).filter(id=label_id)
        if organization_id is not None:
            labels = labels.filter(organization_id=organization_id)
        label = labels.select_related("parent").first()
    if label is None:
        raise Http404("No such label.")
    return label


# --- The tree ---------------------------------------------------------------------------------


@dataclass
class LabelNode:
    """A label in tree order: its depth and its "Parent/Child" path."""

    label: Label
    depth: int
    path: str

    @property
    def parent_path(self) -> str:
        return self.path.rpartition(PATH_SEPARATOR)[0]


def label_tree(labels: Iterable[Label]) -> list[LabelNode]:
    """Labels depth-first, siblings by name. A label whose parent is not among them (a parent
    the reader may not see) is shown as a root."""
    labels = list(labels)
    ids = {label.id for label in labels}
    children: dict[Any, list[Label]] = defaultdict(list)
    for label in labels:
        children[label.parent_id if label.parent_id in ids else None].append(label)
    nodes: list[LabelNode] = []
    stack: list[tuple[Label, int, str]] = [
        (label, 0, "") for label in sorted(children[None], key=_sort_key, reverse=True)
    ]
    while stack:
        label, depth, above = stack.pop()
        path = f"{above}{PATH_SEPARATOR}{label.name}" if above else label.name
        nodes.append(LabelNode(label, depth, path))
        stack.extend((child, depth + 1, path) for child in sorted(children[label.id], key=_sort_key, reverse=True))
    return nodes


def _sort_key(label: Label) -> str:
    return label.name.lower()


def descendant_ids(label: Label) -> set[UUID]:
    """The ids of the label's children, their children, and so on."""
    found: set[UUID] = set()
    frontier = [label.id]
    while frontier:
        frontier = list(Label.objects.filter(parent_id__in=frontier).exclude(id__in=found).values_list("id", flat=True))
        found.update(frontier)
    return found


# --- Who may do what --------------------------------------------------------------------------


def can_create_organization_labels(membership: Membership) -> bool:
    """Any member creates organization labels (the seed); guests only personal ones."""
    return membership.role != Role.GUEST


def can_edit_label(label: Label, membership: Membership) -> bool:
    """Any member edits an organization label they can see; a personal label only its owner."""
    if label.is_personal:
        return label.owner_id == membership.user_id
    return membership.role != Role.GUEST


def can_change_sharing(label: Label | None, membership: Membership) -> bool:
    """Anyone creating a label sets its visibility and auto-shared users; on an existing label
    only owners and admins change them."""
    return label is None or membership.can_manage


def can_delete_label(label: Label, membership: Membership) -> bool:
    """Only owners and admins delete organization labels; a personal label its owner."""
    if label.is_personal:
        return label.owner_id == membership.user_id
    return membership.can_manage


# --- Settings: create, edit, delete -----------------------------------------------------------


def check_label(
    organization: Organization,
    *,
    owner: User | None,
    name: str,
    parent: Label | None,
    label: Label | None = None,
) -> str:
    """The cleaned name of a new or edited label, or a ValidationError keyed by field."""
    name = " ".join(name.split())
    if not name:
        raise ValidationError({"name": "Give the label a name."})
    if PATH_SEPARATOR in name:
        raise ValidationError({"name": "A name cannot contain “/”: pick a parent label to nest it instead."})
    if len(name) > Label._meta.get_field("name").max_length:  # type: ignore[operator]
        raise ValidationError({"name": "Keep the name under 80 characters."})
    owner_id = owner.id if owner else None
    if parent is not None:
        if parent.organization_id != organization.id or parent.owner_id != owner_id:
            kind = "your personal labels" if owner else "the organization's labels"
            raise ValidationError({"parent": f"Nest it under one of {kind}."})
        if label is not None and (parent.id == label.id or parent.id in descendant_ids(label)):
            raise ValidationError({"parent": "A label cannot be nested under itself or one of its sublabels."})
    siblings = Label.objects.filter(organization=organization, owner_id=owner_id, parent=parent, name__iexact=name)
    if label is not None:
        siblings = siblings.exclude(id=label.id)
    if siblings.exists():
        where = f"under {parent.name}" if parent else "at the top level"
        raise ValidationError({"name": f"There is already a label named {name} {where}."})
    if label is None:
        count = Label.objects.filter(organization=organization, owner_id=owner_id).count()
        limit = MAX_PERSONAL_LABELS if owner else MAX_ORGANIZATION_LABELS
        if count >= limit:
            raise ValidationError(f"You have reached the limit of {limit:,} labels.")
    return name


def _check_sharing(organization: Organization, users: list[User], teams: list[Team]) -> None:
    members = set(Membership.objects.filter(organization=organization).values_list("user_id", flat=True))
    if any(user.id not in members for user in users) or any(t.organization_id != organization.id for t in teams):
        raise ValidationError({"auto_share_users": "Share with people and teams of this organization."})


@transaction.atomic
def do_create_label(
    organization: Organization,
    *,
    acting_user: User,
    name: str,
    personal: bool = False,
    parent: Label | None = None,
    color: str = "#64748b",
    emoji: str = "",
    description: str = "",
    visibility: str = LabelVisibility.EVERYONE,
    auto_share_users: Iterable[User] = (),
    auto_share_teams: Iterable[Team] = (),
) -> Label:
    """A new organization label (any member), or a personal one (anyone). Auto-sharing and
    visibility belong to organization labels only."""
    membership = Membership.objects.filter(organization=organization, user=acting_user).first()
    if membership is None:
        raise ActionRefused("You are not a member of this organization.")
    if not personal and not can_create_organization_labels(membership):
        raise ActionRefused("Guests can only create personal labels.")
    owner = acting_user if personal else None
    name = check_label(organization, owner=owner, name=name, parent=parent)
    users, teams = ([], []) if personal else (list(auto_share_users), list(auto_share_teams))
    _check_sharing(organization, users, teams)
    label = Label.objects.create(
        organization=organization,
        owner=owner,
        name=name,
        parent=parent,
        color=color,
        emoji=emoji,
        description=description,
        visibility=LabelVisibility.EVERYONE if personal else visibility,
        created_by=acting_user,
    )
    _set_sharing(label, users, teams)
    return label


@transaction.atomic
def do_update_label(
    label: Label,
    *,
    acting_user: User,
    name: str,
    parent: Label | None,
    color: str,
    emoji: str = "",
    description: str = "",
    visibility: str | None = None,
    auto_share_users: Iterable[User] | None = None,
    auto_share_teams: Iterable[Team] | None = None,
) -> None:
    """Rename, recolor, move or describe a label. Visibility and auto-sharing (owners and admins
    only) change when given; people newly auto-shared get access to every conversation that
    already carries the label."""
    membership = Membership.objects.filter(organization_id=label.organization_id, user=acting_user).first()
    if membership is None or not can_edit_label(label, membership):
        raise ActionRefused("You cannot edit this label.")
    sharing = visibility is not None or auto_share_users is not None or auto_share_teams is not None
    if sharing and (label.is_personal or not can_change_sharing(label, membership)):
        raise ActionRefused("Only owners and admins change who sees and who is auto-shared on a label.")
    label.name = check_label(label.organization, owner=label.owner, name=name, parent=parent, label=label)
    label.parent, label.color, label.emoji, label.description = parent, color, emoji, description
    if visibility is not None:
        label.visibility = visibility
    label.save()
    if auto_share_users is not None or auto_share_teams is not None:
        users = list(auto_share_users if auto_share_users is not None else label.auto_share_users.all())
        teams = list(auto_share_teams if auto_share_teams is not None else label.auto_share_teams.all())
        _check_sharing(label.organization, users, teams)
        before = auto_share_recipients(label)
        _set_sharing(label, users, teams)
        newcomers = auto_share_recipients(label) - before
        if newcomers:
            conversations = Conversation.objects.filter(conversationlabel__label=label)
            _grant_label_access(label, list(conversations), newcomers, unread=False)


def _set_sharing(label: Label, users: list[User], teams: list[Team]) -> None:
    LabelAutoShareUser.objects.filter(label=label).exclude(user__in=users).delete()
    LabelAutoShareTeam.objects.filter(label=label).exclude(team__in=teams).delete()
    LabelAutoShareUser.objects.bulk_create(
        [LabelAutoShareUser(organization_id=label.organization_id, label=label, user=user) for user in users],
        ignore_conflicts=True,
    )
    LabelAutoShareTeam.objects.bulk_create(
        [LabelAutoShareTeam(organization_id=label.organization_id, label=label, team=team) for team in teams],
        ignore_conflicts=True,
    )


@transaction.atomic
def do_delete_label(label: Label, *, acting_user: User) -> int:
    """Delete a label and its sublabels (only owners and admins for organization labels). The
    conversations stay; they only lose the labels. Returns how many labels went."""
    membership = Membership.objects.filter(organization_id=label.organization_id, user=acting_user).first()
    if membership is None or not can_delete_label(label, membership):
        raise ActionRefused("Only owners and admins can delete organization labels.")
    doomed = {label.id} | descendant_ids(label)
    Label.objects.filter(id__in=doomed).delete()
    return len(doomed)


# --- Applying and removing --------------------------------------------------------------------


def auto_share_recipients(label: Label) -> set[UUID]:
    """Who gets access to a conversation when the label is applied: its auto-shared users and
    the members of its auto-shared teams, among the organization's members."""
    if label.is_personal:
        return set()
    members = Membership.objects.filter(organization_id=label.organization_id).values("user_id")
    users = set(LabelAutoShareUser.objects.filter(label=label, user_id__in=members).values_list("user_id", flat=True))
    teams = LabelAutoShareTeam.objects.filter(label=label).values("team_id")
    users |= set(
        TeamMembership.objects.filter(team_id__in=teams, user_id__in=members).values_list("user_id", flat=True)
    )
    return users


def _check_applicable(conversation: Conversation, label: Label, acting_user: User) -> None:
    _state_of(conversation, acting_user)
    visible = Label.objects.visible_to(acting_user).filter(id=label.id, organization_id=conversation.organization_id)
    if not visible.exists():
        raise ActionRefused("This label cannot be applied here.")


@transaction.atomic
def do_add_label(conversation: Conversation, label: Label, *, acting_user: User | None) -> bool:
    """Label the conversation ("Label as": it stays where it is). An organization label gives its
    auto-shared people access (not in their Inbox, unread); a personal label shares nothing and
    its event is shown to its owner only. Returns whether the label was new on it. A rule adds
    labels with no acting person: nothing is checked against a person, and no "label changed"
    rule hears of it."""
    if acting_user is not None:
        _check_applicable(conversation, label, acting_user)
    if ConversationLabel.objects.filter(conversation=conversation, label=label).exists():
        return False
    if not label.is_personal:
        shared = ConversationLabel.objects.filter(conversation=conversation, label__owner__isnull=True).count()
        if shared >= MAX_SHARED_LABELS_PER_CONVERSATION:
            raise ActionRefused(f"A conversation can have up to {MAX_SHARED_LABELS_PER_CONVERSATION} shared labels.")
    ConversationLabel.objects.create(
        organization_id=conversation.organization_id, conversation=conversation, label=label
    )
    path = label_path(label)
    _event(conversation, EventKind.LABELED, acting_user, private=label.is_personal, target=path, label_id=str(label.id))
    if acting_user is not None:
        LabelPreference.objects.update_or_create(
            user=acting_user,
            label=label,
            defaults={"last_used_at": timezone.now()},
            create_defaults={"organization_id": label.organization_id, "last_used_at": timezone.now()},
        )
    if not label.is_personal:
        _grant_label_access(label, [conversation], auto_share_recipients(label), unread=True, actor=acting_user)
        _announce(conversation, label, added=True, acting_user=acting_user)
    _publish(conversation, label, acting_user)
    return True


@transaction.atomic
def do_remove_label(conversation: Conversation, label: Label, *, acting_user: User | None) -> bool:
    """Take the label off. Access it gave stays: people keep what they could already read."""
    if acting_user is not None:
        _check_applicable(conversation, label, acting_user)
    removed, _ = ConversationLabel.objects.filter(conversation=conversation, label=label).delete()
    if not removed:
        return False
    _event(
        conversation,
        EventKind.UNLABELED,
        acting_user,
        private=label.is_personal,
        target=label_path(label),
        label_id=str(label.id),
    )
    if not label.is_personal:
        _announce(conversation, label, added=False, acting_user=acting_user)
    _publish(conversation, label, acting_user)
    return True


@transaction.atomic
def do_set_labels(
    conversation: Conversation, labels: Iterable[Label], *, acting_user: User, new_label_name: str = ""
) -> None:
    """The label menu's Apply: exactly these of the labels I can see are on the conversation
    (labels I cannot see are left alone). A typed name creates the label first: an
    organization label, or for a guest a personal one; "Parent/Child" nests it under an
    existing label."""
    wanted = {label.id: label for label in labels}
    if new_label_name.strip():
        created = _create_from_menu(conversation, acting_user, new_label_name)
        wanted[created.id] = created
    mine = list(Label.objects.visible_to(acting_user).filter(conversations=conversation))
    for label in mine:
        if label.id not in wanted:
            do_remove_label(conversation, label, acting_user=acting_user)
    current = {label.id for label in mine}
    for label_id, label in wanted.items():
        if label_id not in current:
            do_add_label(conversation, label, acting_user=acting_user)


def _create_from_menu(conversation: Conversation, acting_user: User, typed: str) -> Label:
    membership = Membership.objects.filter(organization_id=conversation.organization_id, user=acting_user).first()
    if membership is None:
        raise ActionRefused("You are not a member of this organization.")
    personal = not can_create_organization_labels(membership)
    above, _, name = " ".join(typed.split()).rpartition(PATH_SEPARATOR)
    parent = None
    if above.strip():
        owner_id = acting_user.id if personal else None
        candidates = Label.objects.visible_to(acting_user).filter(
            organization_id=conversation.organization_id, owner_id=owner_id
        )
        by_path = {node.path.lower(): node.label for node in label_tree(candidates)}
        parent = by_path.get(above.strip().lower())
        if parent is None:
            raise ActionRefused(f"There is no label {above.strip()} to nest it under: create that one first.")
    try:
        return do_create_label(
            conversation.organization, acting_user=acting_user, name=name, personal=personal, parent=parent
        )
    except ValidationError as error:
        raise ActionRefused(" ".join(error.messages)) from None


def _grant_label_access(
    label: Label,
    conversations: list[Conversation],
    user_ids: set[UUID],
    *,
    unread: bool,
    actor: User | None = None,
) -> None:
    """Auto-shared people get each conversation without it entering their Inbox: reachable in
    All, the label and search. Conversations someone joined become shared."""
    if not user_ids or not conversations:
        return
    having = set(
        ConversationState.objects.filter(conversation__in=conversations, user_id__in=user_ids).values_list(
            "conversation_id", "user_id"
        )
    )
    rows = [
        new_copy(conversation, user_id, source=AccessSource.LABEL, unread=unread)
        for conversation in conversations
        for user_id in user_ids
        if (conversation.id, user_id) not in having
    ]
    if not rows:
        return
    ConversationState.objects.bulk_create(rows, ignore_conflicts=True, batch_size=1000)
    joined = {row.conversation_id for row in rows}
    Conversation.objects.filter(id__in=joined, is_shared=False).update(is_shared=True)
    if len(conversations) == 1:
        conversation = conversations[0]
        conversation.is_shared = True
        newcomers = User.objects.filter(id__in=[row.user_id for row in rows]).order_by("name", "email")
        names = ", ".join(user.display_name for user in newcomers)
        _event(conversation, EventKind.SHARED, actor, target=names, label_id=str(label.id))
    invalidate_counts_now_and_after_commit({row.user_id for row in rows})


def grant_team_label_access(team: Team, user_ids: Iterable[UUID]) -> None:
    """New members of a team that labels auto-share with get the labelled conversations."""
    user_ids = set(user_ids)
    for row in LabelAutoShareTeam.objects.filter(team=team).select_related("label"):
        conversations = list(Conversation.objects.filter(conversationlabel__label=row.label))
        _grant_label_access(row.label, conversations, user_ids, unread=False)


def _announce(conversation: Conversation, label: Label, *, added: bool, acting_user: User | None) -> None:
    """Organization labels trigger "label changed" rules, after commit (a rule's change does not)."""
    if acting_user is None:
        return
    conversation_id, label_id, user_id = conversation.id, label.id, acting_user.id
    transaction.on_commit(
        lambda: label_changed.send(
            Conversation, conversation_id=conversation_id, label_id=label_id, added=added, acting_user_id=user_id
        )
    )


def _publish(conversation: Conversation, label: Label, acting_user: User | None) -> None:
    """Live updates: everyone with access sees an organization label come or go on the rows and
    the open conversation; a personal label only concerns its owner."""
    owner_only = [label.owner_id] if label.owner_id else None
    live.publish_after_commit(conversation_ids=[conversation.id], user_ids=owner_only, kind="label")


# --- What the pages show ----------------------------------------------------------------------


def header_labels(user: User, conversation: Conversation) -> list[LabelNode]:
    """The labels on a conversation that this user may see, each with its path."""
    on_it = list(
        Label.objects.visible_to(user).filter(conversations=conversation).select_related("parent__parent__parent")
    )
    nodes = [LabelNode(label, 0, label_path(label)) for label in on_it]
    return sorted(nodes, key=lambda node: node.path.lower())


def recent_labels(user: User, organization_ids: Iterable[Any]) -> list[UUID]:
    """The ids of the labels this user applied most recently, newest first."""
    return list(
        LabelPreference.objects.filter(user=user, organization_id__in=list(organization_ids))
        .order_by("-last_used_at")
        .values_list("label_id", flat=True)[:RECENT_LABELS]
    )
