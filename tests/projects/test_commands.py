from __future__ import annotations

import io
import uuid

import pytest
from django.core.management import CommandError, call_command

from console.models import AuditEvent
from projects.models import ApiKey, Project
from projects.services import api_key_authenticate
from tests.factories import ApiKeyFactory, ProjectFactory

pytestmark = pytest.mark.django_db


def run(*args):
    out, err = io.StringIO(), io.StringIO()
    call_command(*args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_createproject_prints_only_the_id(organization):
    out, err = run("createproject", organization.slug, "Storefront")
    project = Project.objects.get(organization=organization)
    assert out == f"{project.pk}\n"
    assert project.name == "Storefront" and "Created" in err
    assert AuditEvent.objects.get(action="project.create").actor_label == "manage.py createproject"


@pytest.mark.parametrize(
    ("slug", "name", "message"),
    [
        ("nope", "X", "No organization"),
        ("{org}", "  ", "Enter a project name"),
        ("{org}", "x" * 101, "at most"),
    ],
)
def test_createproject_bad_input(organization, slug, name, message):
    with pytest.raises(CommandError, match=message):
        run("createproject", slug.replace("{org}", organization.slug), name)
    assert not Project.objects.exists()


def test_createapikey_prints_only_a_working_key(project):
    out, err = run("createapikey", str(project.pk), "Deploy", "--expires-in-days", "30")
    raw_key = out.strip()
    assert out == raw_key + "\n" and raw_key.startswith("dpk_")
    api_key = api_key_authenticate(raw_key)
    assert api_key is not None and api_key.name == "Deploy" and api_key.expires is not None
    assert raw_key not in err and api_key.masked in err


@pytest.mark.parametrize(
    ("project_id", "args", "message"),
    [
        ("not-a-uuid", ["K"], "No project with the id not-a-uuid"),
        (str(uuid.uuid4()), ["K"], "No project with the id"),
        ("{project}", [""], "Enter a name"),
        ("{project}", ["K", "--expires-in-days", "0"], "at least one day"),
        ("{project}", ["Taken"], "already has an API key"),
    ],
)
def test_createapikey_bad_input(project, project_id, args, message):
    ApiKeyFactory(project=project, name="Taken")
    with pytest.raises(CommandError, match=message):
        run("createapikey", project_id.replace("{project}", str(project.pk)), *args)
    assert ApiKey.objects.count() == 1


def test_deleteapikey_by_the_prefix_the_console_shows(project):
    out, _ = run("createapikey", str(project.pk), "Old")
    raw_key = out.strip()
    api_key = ApiKey.objects.get()
    out, _ = run("deleteapikey", str(project.pk), api_key.masked)
    assert "Deleted the API key “Old”" in out
    assert not ApiKey.objects.exists()
    assert api_key_authenticate(raw_key) is None
    assert AuditEvent.objects.get(action="api_key.delete").details["prefix"] == api_key.masked


def test_deleteapikey_accepts_the_bare_prefix(project):
    api_key = ApiKeyFactory(project=project)
    run("deleteapikey", str(project.pk), api_key.prefix)
    assert not ApiKey.objects.exists()


def test_deleteapikey_refuses_a_key_of_another_project_or_a_bad_prefix(project):
    foreign = ApiKeyFactory(project=ProjectFactory())
    with pytest.raises(CommandError, match="has no API key"):
        run("deleteapikey", str(project.pk), foreign.masked)
    with pytest.raises(CommandError, match="8 characters"):
        run("deleteapikey", str(project.pk), "dpk_abc")
    assert ApiKey.objects.filter(pk=foreign.pk).exists()


def test_deleteapikey_refuses_an_ambiguous_prefix(project):
    ApiKeyFactory(project=project, prefix="Ab3x9QpL")
    ApiKeyFactory(project=project, prefix="Ab3x9QpL")
    with pytest.raises(CommandError, match="2 keys"):
        run("deleteapikey", str(project.pk), "dpk_Ab3x9QpL")
    assert ApiKey.objects.count() == 2
