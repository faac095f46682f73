"""Tenant isolation and roles on every URL of the console, found by walking Django's URL resolver.

A view added tomorrow is covered the day it is added, with no test to write:
- a signed-in outsider (member of another organization only) gets 404 for GET and POST on every
  URL that has an ``organization_slug`` (405 is fine: a method the view never accepts says nothing
  about the organization), and nothing is written;
- a member of another organization gets 404 for organization A's objects put under their own
  organization's slug (scoping covers the pair, not just the slug);
- a viewer gets 403 on every POST in their own organization (or 405), and nothing is written,
  except the few URLs in ``VIEWER_MAY_POST``;
- a visitor who is not signed in is sent to the login page.

A URL with a keyword argument this file does not know FAILS, saying which mapping to add to
``KWARG_VALUES``; a URL without an organization that is not in ``EXEMPT`` fails too.
``test_the_matrix_catches_a_view_that_forgets_scoping`` shows the checks failing on purpose.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from console.models import AuditEvent, Invitation, Membership, Organization, Role
from tests.factories import ApiKeyFactory, MembershipFactory, ProjectFactory

pytestmark = pytest.mark.django_db


@dataclass
class Objects:
    """Organization A and one object of each kind in it, for filling in URL kwargs.

    ``extra`` is a cache that KWARG_VALUES callables may use for objects they create lazily
    (e.g. ``lambda o: o.make("key", lambda: ApiKeyFactory(project=o.project)).pk``).
    """

    organization: Organization
    owner: Membership
    member: Membership  # a developer: the target of member URLs
    invitation: Invitation
    project: Any
    extra: dict[str, Any] = field(default_factory=dict)

    def make(self, name: str, create: Callable[[], Any]) -> Any:
        if name not in self.extra:
            self.extra[name] = create()
        return self.extra[name]


# URL kwarg name -> its value for an object of organization A. Add one line per new kwarg.
KWARG_VALUES: dict[str, Callable[[Objects], object]] = {
    "organization_slug": lambda o: o.organization.slug,
    "project_id": lambda o: o.project.pk,
    "membership_id": lambda o: o.member.pk,
    "invitation_id": lambda o: o.invitation.pk,
    "api_key_id": lambda o: o.make("api_key", lambda: ApiKeyFactory(project=o.project)).pk,
    "product": lambda o: "accelerate",  # a product key: the project is what is scoped
}

# URLs without an organization in them, by name, and why the matrix does not apply.
EXEMPT: dict[str, str] = {
    "home": "redirects to one of the user's own organizations",
    "login": "the sign-in form, before there is a user",
    "logout": "ends the session of whoever is signed in",
    "password_change": "the signed-in user's own password",
    "password_change_done": "the signed-in user's own password",
    "organization_create": "creates a new organization owned by the user",
    "password_reset": "asks for a reset link by email (tests/console/test_password_reset.py)",
    "password_reset_done": "says to check the mail",
    "password_reset_confirm": "the emailed token is the credential (tests/console/test_password_reset.py)",
    "password_reset_complete": "says the password is set",
    "signup": "asks for a sign-up link; off unless ALLOW_SIGNUP (tests/console/test_invitations.py)",
    "signup_sent": "says to check the mail",
    "signup_finish": "the emailed signed token is the credential (tests/console/test_invitations.py)",
    "invitation_accept": "the link's token is the credential (tests/console/test_invitations.py)",
}
EXEMPT_NAMESPACES: dict[str, str] = {
    "admin": "Django admin: staff only, behind admin's own login and model permissions",
}

# Organization URLs a viewer may POST to, and why.
VIEWER_MAY_POST: dict[str, str] = {
    "organization_leave": "every member may leave an organization (the last owner excepted)",
}


@dataclass(frozen=True)
class Route:
    name: str  # namespaced, as reverse() takes it
    route: str  # as written in the URLconf, for messages
    kwargs: tuple[str, ...]
    namespace: str

    @property
    def organization_scoped(self) -> bool:
        return "organization_slug" in self.kwargs


def walk(
    patterns: list[Any] | None = None, prefix: str = "", namespace: str = "", kwargs: tuple[str, ...] = ()
) -> Iterator[Route]:
    """Every URL pattern, through includes, with its full route, namespaced name and kwargs."""
    if patterns is None:
        patterns = get_resolver().url_patterns
    for pattern in patterns:
        route = prefix + str(pattern.pattern)
        # Route and regex patterns both compile to a regex whose named groups are the kwargs.
        names = kwargs + tuple(pattern.pattern.regex.groupindex)
        if isinstance(pattern, URLResolver):
            inner = ":".join(part for part in (namespace, pattern.namespace) if part)
            yield from walk(pattern.url_patterns, route, inner, names)
        elif isinstance(pattern, URLPattern):
            name = f"{namespace}:{pattern.name}" if namespace and pattern.name else (pattern.name or "")
            yield Route(name=name, route=route, kwargs=names, namespace=namespace)


def covered_routes() -> list[Route]:
    """The routes the matrix checks; raises for a route that is neither covered nor exempt."""
    routes, problems = [], []
    for route in walk():
        top_namespace = route.namespace.split(":")[0]
        if top_namespace in EXEMPT_NAMESPACES or route.name in EXEMPT:
            continue
        if not route.name:
            problems.append(f"/{route.route} has no name: name it so the URL matrix can reverse it.")
        elif not route.organization_scoped:
            problems.append(
                f"/{route.route} ({route.name}) has no organization_slug: put it under "
                "/o/<slug:organization_slug>/, or add it to EXEMPT in tests/console/test_url_matrix.py "
                "with the reason it needs no tenant scoping."
            )
        else:
            routes.append(route)
    assert not problems, "\n".join(problems)
    return routes


def url_for(route: Route, objects: Objects, **overrides: object) -> str:
    unknown = [name for name in route.kwargs if name not in KWARG_VALUES and name not in overrides]
    assert not unknown, (
        f"/{route.route} ({route.name}) takes {', '.join(unknown)}, which the URL matrix cannot fill in. "
        f"Add to KWARG_VALUES in tests/console/test_url_matrix.py a line like "
        f'"{unknown[0]}": lambda o: <an object of o.organization>.pk'
    )
    kwargs = {
        name: overrides[name] if name in overrides else KWARG_VALUES[name](objects) for name in route.kwargs
    }
    return reverse(route.name, kwargs=kwargs)


# The checks, as functions returning what is wrong (so the self-test below can run them too) ------


def _not_found_problem(client: Client, route: Route, url: str, who: str) -> str | None:
    """404 for GET and POST (405 for a method the view never takes), at least one of them 404."""
    statuses = {method: getattr(client, method)(url).status_code for method in ("get", "post")}
    if all(status in (404, 405) for status in statuses.values()) and 404 in statuses.values():
        return None
    return f"{route.name} {url}: {who} got GET {statuses['get']}, POST {statuses['post']}, expected 404"


def outsider_problems(client: Client, routes: list[Route], objects: Objects) -> list[str]:
    found = (_not_found_problem(client, route, url_for(route, objects), "an outsider") for route in routes)
    return [problem for problem in found if problem]


def cross_organization_problems(
    client: Client, routes: list[Route], objects: Objects, own_slug: str
) -> list[str]:
    """A member of B asks for A's objects under B's slug."""
    found = (
        _not_found_problem(
            client, route, url_for(route, objects, organization_slug=own_slug), "A's object under B's slug"
        )
        for route in routes
        if set(route.kwargs) != {"organization_slug"}
    )
    return [problem for problem in found if problem]


def viewer_problems(client: Client, routes: list[Route], objects: Objects) -> list[str]:
    problems = []
    for route in routes:
        if route.name in VIEWER_MAY_POST:
            continue
        url = url_for(route, objects)
        status = client.post(url).status_code
        if status not in (403, 405):
            problems.append(f"{route.name} {url}: viewer POST got {status}, expected 403")
    return problems


# The tests -------------------------------------------------------------------------------------


@pytest.fixture
def objects(organization) -> Objects:
    owner = MembershipFactory(organization=organization, role=Role.OWNER)
    return Objects(
        organization=organization,
        owner=owner,
        member=MembershipFactory(organization=organization, role=Role.DEVELOPER),
        invitation=Invitation.objects.create(
            organization=organization,
            email="invited@example.com",
            role=Role.DEVELOPER,
            token_digest="0" * 64,
            invited_by=owner.user,
            expires=organization.created.replace(year=organization.created.year + 1),
        ),
        project=ProjectFactory(organization=organization),
    )


def signed_in(membership: Membership) -> Client:
    client = Client()
    client.force_login(membership.user)
    return client


def test_every_url_is_organization_scoped_or_exempt_with_a_reason():
    routes = covered_routes()
    names = {route.name for route in routes}
    # The walk reaches included URLconfs too.
    assert {"organization_overview", "organization_settings", "projects:dashboard"} <= names
    assert set(VIEWER_MAY_POST) <= names, "VIEWER_MAY_POST names a URL that no longer exists"


def test_an_outsider_gets_404_everywhere_and_changes_nothing(objects):
    outsider = MembershipFactory(role=Role.OWNER)
    before = AuditEvent.objects.count()
    problems = outsider_problems(signed_in(outsider), covered_routes(), objects)
    assert not problems, "\n".join(problems)
    assert AuditEvent.objects.count() == before


def test_another_organizations_objects_are_not_found_under_ones_own_slug(objects):
    other_owner = MembershipFactory(role=Role.OWNER)
    before = AuditEvent.objects.count()
    problems = cross_organization_problems(
        signed_in(other_owner), covered_routes(), objects, other_owner.organization.slug
    )
    assert not problems, "\n".join(problems)
    assert AuditEvent.objects.count() == before


def test_a_viewer_gets_403_on_every_mutating_request_and_changes_nothing(objects):
    viewer = MembershipFactory(organization=objects.organization, role=Role.VIEWER)
    before = AuditEvent.objects.count()
    problems = viewer_problems(signed_in(viewer), covered_routes(), objects)
    assert not problems, "\n".join(problems)
    assert AuditEvent.objects.count() == before
    assert Organization.objects.filter(pk=objects.organization.pk).exists()
    assert Membership.objects.filter(pk=viewer.pk, role=Role.VIEWER).exists()


def test_a_visitor_who_is_not_signed_in_is_sent_to_log_in(objects, client):
    for route in covered_routes():
        url = url_for(route, objects)
        for method in ("get", "post"):
            response = getattr(client, method)(url)
            assert response.status_code in (302, 405), (route.name, method, response.status_code)
            if response.status_code == 302:
                assert response["Location"].startswith(reverse("login")), (route.name, method)


# The matrix can fail: a URLconf with views that forget scoping and role checks ----------------


@pytest.mark.urls("tests.console.leaky_urls")
def test_the_matrix_catches_a_view_that_forgets_scoping(objects):
    routes = [route for route in walk() if route.name.startswith("leaky")]
    with pytest.raises(AssertionError, match="takes widget_id, which the URL matrix cannot fill in"):
        [url_for(route, objects) for route in routes]
    routes = [route for route in routes if "widget_id" not in route.kwargs]
    outsider = MembershipFactory(role=Role.OWNER)
    found = outsider_problems(signed_in(outsider), routes, objects)
    assert any(problem.startswith("leaky_overview ") for problem in found)
    assert any(
        problem.startswith("leaky_member ")
        for problem in cross_organization_problems(
            signed_in(outsider), routes, objects, outsider.organization.slug
        )
    )
    viewer = MembershipFactory(organization=objects.organization, role=Role.VIEWER)
    assert any(
        problem.startswith("leaky_rename ") for problem in viewer_problems(signed_in(viewer), routes, objects)
    )
