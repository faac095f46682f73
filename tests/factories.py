from __future__ import annotations

import factory

from console.models import Membership, Organization, Role, User
from projects.keys import key_digest, key_display_prefix, key_generate
from projects.models import ApiKey, Project

PASSWORD = "correct horse battery staple"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"user{n}@example.com")
    name = factory.Faker("name")
    password = factory.PostGenerationMethodCall("set_password", PASSWORD)

    @factory.post_generation
    def _save(obj, create, extracted, **kwargs):  # noqa: N805
        if create:
            obj.save()


class OrganizationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Organization

    name = factory.Sequence(lambda n: f"Organization {n}")
    slug = factory.Sequence(lambda n: f"organization-{n}")


class MembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Membership

    user = factory.SubFactory(UserFactory)
    organization = factory.SubFactory(OrganizationFactory)
    role = Role.OWNER


class ProjectFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Project

    organization = factory.SubFactory(OrganizationFactory)
    name = factory.Sequence(lambda n: f"Project {n}")


class ApiKeyFactory(factory.django.DjangoModelFactory):
    """A key row with a real digest of a key nobody keeps; tests that need the key call api_key_create."""

    class Meta:
        model = ApiKey
        exclude = ("raw_key",)

    project = factory.SubFactory(ProjectFactory)
    name = factory.Sequence(lambda n: f"Key {n}")
    raw_key = factory.LazyFunction(key_generate)
    prefix = factory.LazyAttribute(lambda o: key_display_prefix(o.raw_key))
    digest = factory.LazyAttribute(lambda o: key_digest(o.raw_key))
