"""factory_boy factories and the standard cast used across the suite."""

from __future__ import annotations

import factory
from django.utils import timezone

from conversations.delivery import do_receive_message
from conversations.incoming import IncomingMessage
from conversations.models import ConversationState, Label
from inboxes.aliases import ensure_default_alias
from inboxes.models import Account, AccountKind, Membership, Organization, Role, Team, TeamMembership, TeamRole, User

PASSWORD = "correct-horse-battery-staple"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"user{n}@example.com")
    name = factory.Faker("name")
    password = factory.PostGenerationMethodCall("set_password", PASSWORD)

    @factory.post_generation
    def saved(obj, create, extracted, **kwargs):  # noqa: N805
        if create:
            obj.save()


class OrganizationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Organization

    name = factory.Sequence(lambda n: f"Organization {n}")


class MembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Membership

    organization = factory.SubFactory(OrganizationFactory)
    user = factory.SubFactory(UserFactory)
    role = Role.MEMBER


class TeamFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Team

    organization = factory.SubFactory(OrganizationFactory)
    name = factory.Sequence(lambda n: f"Team {n}")
    emoji = "⛑️"


def add_to_team(team: Team, user: User, role: str = TeamRole.ACTIVE) -> TeamMembership:
    return TeamMembership.objects.create(organization=team.organization, team=team, user=user, role=role)


class AccountFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Account
        skip_postgeneration_save = True

    organization = factory.SubFactory(OrganizationFactory)
    kind = AccountKind.IMAP
    address = factory.Sequence(lambda n: f"box{n}@example.com")
    description = factory.LazyAttribute(lambda o: o.address)
    owner = factory.SubFactory(UserFactory)

    @factory.post_generation
    def default_alias(obj, create, extracted, **kwargs):  # noqa: N805
        # As do_create_account does: an email account sends from its own address.
        if create:
            ensure_default_alias(obj)


class LabelFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Label

    organization = factory.SubFactory(OrganizationFactory)
    name = factory.Sequence(lambda n: f"Label {n}")


def receive(
    account: Account, *, subject: str = "Hello", body: str = "Hi there", sender: str = "customer@outside.test", **kwargs
):
    """Deliver one inbound message through the real action and return the Message."""
    incoming = IncomingMessage(
        from_address=sender,
        from_name=kwargs.pop("from_name", "A Customer"),
        subject=subject,
        body_text=body,
        to=[{"name": "", "address": account.address}],
        sent_at=kwargs.pop("sent_at", timezone.now()),
        **kwargs,
    )
    return do_receive_message(account, incoming)


def state_of(conversation, user):
    """The user's own state of the conversation, or None when they have no access."""
    return ConversationState.objects.filter(conversation=conversation, user=user).first()
