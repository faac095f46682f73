from __future__ import annotations

import io

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse

from console.models import Membership, Organization, Role, User
from projects.models import Project
from tests.factories import MembershipFactory, UserFactory

pytestmark = pytest.mark.django_db


def run(*args, stdin: str | None = None, monkeypatch=None):
    out, err = io.StringIO(), io.StringIO()
    if stdin is not None:
        monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    call_command(*args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_createuser_reads_the_password_from_stdin(monkeypatch):
    out, _ = run(
        "createuser",
        "Ada@Example.com",
        "--password-stdin",
        stdin="a long enough passphrase\n",
        monkeypatch=monkeypatch,
    )
    assert out.strip() == "ada@example.com"
    assert User.objects.get(email="ada@example.com").check_password("a long enough passphrase")


def test_createuser_refuses_a_weak_password_and_creates_nothing(monkeypatch):
    with pytest.raises(CommandError, match="too short"):
        run("createuser", "bob@example.com", "--password-stdin", stdin="abc\n", monkeypatch=monkeypatch)
    assert not User.objects.filter(email="bob@example.com").exists()


def test_createuser_refuses_duplicates_and_bad_emails():
    UserFactory(email="taken@example.com")
    with pytest.raises(CommandError, match="already exists"):
        run("createuser", "TAKEN@example.com")
    with pytest.raises(CommandError, match="not a valid email"):
        run("createuser", "not-an-email")


def test_createuser_makes_staff_without_superuser_rights_unless_asked(client):
    _, staff_note = run("createuser", "support@example.com", "--staff")
    support = User.objects.get(email="support@example.com")
    assert (support.is_staff, support.is_superuser) == (True, False)
    assert "Staff without permissions yet" in staff_note
    _, super_note = run("createuser", "root@example.com", "--superuser")
    root = User.objects.get(email="root@example.com")
    assert (root.is_staff, root.is_superuser) == (True, True)
    assert "every permission" in super_note
    # In Django admin the staff member sees nothing to change until granted permissions.
    client.force_login(support)
    index = client.get(reverse("admin:index"))
    assert index.status_code == 200
    assert "You don’t have permission to view or edit anything." in index.content.decode()
    assert client.get(reverse("admin:console_user_changelist")).status_code == 403
    client.force_login(root)
    assert client.get(reverse("admin:console_user_changelist")).status_code == 200


def test_createuser_is_staff_or_superuser_not_both():
    with pytest.raises(CommandError, match="not allowed with argument"):
        run("createuser", "both@example.com", "--staff", "--superuser")
    assert not User.objects.filter(email="both@example.com").exists()


def test_createorganization_prints_only_the_slug():
    owner = UserFactory()
    out, err = run("createorganization", "Acme Corp", "--owner", owner.email)
    assert out == "acme-corp\n"
    assert "Created" in err
    assert Membership.objects.get(organization__slug="acme-corp", user=owner).role == Role.OWNER


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["", "--owner", "{owner}"], "Enter a name"),
        (["x" * 300, "--owner", "{owner}"], "at most 100 characters"),
        (["Acme", "--owner", "ghost@example.com"], "No user with the email"),
        (["Acme", "--owner", "{owner}", "--slug", "Bad Slug"], "lowercase letters"),
    ],
)
def test_createorganization_bad_input(args, message):
    owner = UserFactory()
    args = [a.replace("{owner}", owner.email) for a in args]
    with pytest.raises(CommandError, match=message):
        run("createorganization", *args)
    assert not Organization.objects.exists()


def test_createorganization_refuses_a_taken_slug():
    owner = UserFactory()
    run("createorganization", "Acme", "--owner", owner.email)
    with pytest.raises(CommandError, match="already taken"):
        run("createorganization", "Other", "--owner", owner.email, "--slug", "acme")
    assert Organization.objects.count() == 1


def test_addmember():
    membership = MembershipFactory()
    newcomer = UserFactory()
    out, _ = run("addmember", membership.organization.slug, newcomer.email, "--role", "viewer")
    assert "viewer" in out
    assert Membership.objects.get(user=newcomer).role == Role.VIEWER


@pytest.mark.parametrize(
    ("slug", "email", "role", "message"),
    [
        ("{org}", "{new}", "superhero", "not a role"),
        ("{org}", "ghost@example.com", "viewer", "No user"),
        ("nope", "{new}", "viewer", "No organization"),
        ("{org}", "{member}", "viewer", "already a member"),
    ],
)
def test_addmember_bad_input(slug, email, role, message):
    membership = MembershipFactory()
    newcomer = UserFactory()
    values = {
        "{org}": membership.organization.slug,
        "{new}": newcomer.email,
        "{member}": membership.user.email,
    }
    with pytest.raises(CommandError, match=message):
        run("addmember", values.get(slug, slug), values.get(email, email), "--role", role)
    assert Membership.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_seeddemo_is_idempotent_and_prints_a_working_login(monkeypatch, demo_sandbox):
    out, _ = run("seeddemo", "--password-stdin", stdin="demo-password-1\n", monkeypatch=monkeypatch)
    assert "Demo login: demo@example.com / demo-password-1" in out
    out_again, _ = run("seeddemo", "--password-stdin", stdin="demo-password-1\n", monkeypatch=monkeypatch)
    assert "Demo login: demo@example.com / demo-password-1" in out_again
    assert User.objects.filter(email="demo@example.com").count() == 1
    assert Organization.objects.filter(slug="demo").count() == 1
    assert Project.objects.filter(organization__slug="demo").count() == 1
    assert User.objects.get(email="demo@example.com").check_password("demo-password-1")
