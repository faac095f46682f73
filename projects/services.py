"""Writes of projects and project API keys, and the key check the data planes call."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from django.views.decorators.debug import sensitive_variables

from console.audit import Actor, audit_record
from console.models import Organization
from console.products import products_release_project
from projects.key_cache import ApiKeyLookupCache, arevocation_token_read, revocation_token_read
from projects.keys import key_digest, key_display_prefix, key_generate, key_is_well_formed
from projects.models import ApiKey, Project

PROJECT_NAME_MAX = 100
API_KEY_NAME_MAX = 64
API_KEY_EXPIRY_DAYS = (30, 90, 365)
# last_used is a hint for people ("is this key still in use?"), not a meter: at most one write a minute.
LAST_USED_RESOLUTION = timedelta(minutes=1)


def project_name_clean(name: str) -> str:
    """The name with runs of white space folded, or a ValidationError saying what is wrong."""
    name = " ".join(name.split())
    if not name:
        raise ValidationError({"name": "Enter a project name."})
    if len(name) > PROJECT_NAME_MAX:
        raise ValidationError(
            {"name": f"The name can have at most {PROJECT_NAME_MAX} characters (it has {len(name)})."}
        )
    return name


def _project_name_taken(organization: Organization, name: str) -> ValidationError:
    return ValidationError({"name": f"A project named “{name}” already exists in {organization.name}."})


@transaction.atomic
def project_create(*, organization: Organization, name: str, actor: Actor) -> Project:
    """Create a project in the organization; its name is unique there (ignoring case)."""
    name = project_name_clean(name)
    if Project.objects.filter(organization=organization, name__iexact=name).exists():
        raise _project_name_taken(organization, name)
    try:
        with transaction.atomic():
            project = Project.objects.create(organization=organization, name=name, created_by=actor.user)
    except IntegrityError:  # the same name created concurrently (a double-submitted form)
        raise _project_name_taken(organization, name) from None
    audit_record(actor=actor, organization=organization, action="project.create", target=project)
    return project


@transaction.atomic
def project_rename(*, project: Project, name: str, actor: Actor) -> Project:
    """Give the project a new name, unique in its organization; renaming to the same name is a no-op."""
    name = project_name_clean(name)
    old = project.name
    if name == old:
        return project
    organization = project.organization
    if Project.objects.filter(organization=organization, name__iexact=name).exclude(pk=project.pk).exists():
        raise _project_name_taken(organization, name)
    project.name = name
    try:
        with transaction.atomic():
            project.save(update_fields=["name"])
    except IntegrityError:
        project.name = old
        raise _project_name_taken(organization, name) from None
    audit_record(
        actor=actor,
        organization=organization,
        action="project.rename",
        target=project,
        details={"from": old, "to": name},
    )
    return project


def project_delete(*, project: Project, actor: Actor) -> list[str]:
    """Delete the project with everything stored for it: its API keys (revoked in every
    process within a second) and the products' configurations and connection strings.
    Irreversible.

    First each product undoes what it set up outside the console (Pulse drops its
    replication slot); that talks to the user's database, so it happens before, not inside,
    the deleting transaction. Returns what a product could not undo, for the person to
    finish by hand.
    """
    leftovers = products_release_project(project=project, actor=actor)
    _project_delete_row(project=project, actor=actor)
    return leftovers


@transaction.atomic
def _project_delete_row(*, project: Project, actor: Actor) -> None:
    key_count = project.api_keys.count()
    audit_record(
        actor=actor,
        organization=project.organization,
        action="project.delete",
        target=project,
        details={"name": project.name, "api_keys": key_count},
    )
    project.delete()


# Project API keys ----------------------------------------------------------------------------


def api_key_name_clean(name: str) -> str:
    name = " ".join(name.split())
    if not name:
        raise ValidationError({"name": "Enter a name for the API key."})
    if len(name) > API_KEY_NAME_MAX:
        raise ValidationError(
            {"name": f"The name can have at most {API_KEY_NAME_MAX} characters (it has {len(name)})."}
        )
    return name


def _api_key_name_taken(name: str) -> ValidationError:
    return ValidationError(
        {"name": f"This project already has an API key named “{name}”. Choose another name."}
    )


@sensitive_variables("raw_key")
@transaction.atomic
def api_key_create(
    *, project: Project, name: str, actor: Actor, expires_in_days: int | None = None
) -> tuple[ApiKey, str]:
    """Create a key for the project; return it and the plaintext key, which exists nowhere else.

    The name is unique within the project (ignoring case); ``expires_in_days`` (None:
    never) makes the key stop working after that many days.
    """
    name = api_key_name_clean(name)
    if expires_in_days is not None and expires_in_days < 1:
        raise ValidationError({"expires_in_days": "The expiry must be at least one day."})
    if project.api_keys.filter(name__iexact=name).exists():
        raise _api_key_name_taken(name)
    raw_key = key_generate()
    now = timezone.now()
    try:
        with transaction.atomic():
            api_key = ApiKey.objects.create(
                project=project,
                name=name,
                prefix=key_display_prefix(raw_key),
                digest=key_digest(raw_key),
                created_by=actor.user,
                created=now,
                expires=now + timedelta(days=expires_in_days) if expires_in_days else None,
            )
    except IntegrityError:  # the same name created concurrently (a double-submitted form)
        raise _api_key_name_taken(name) from None
    audit_record(
        actor=actor,
        organization=project.organization,
        action="api_key.create",
        target=api_key,
        target_label=name,
        details={"name": name, "prefix": api_key.masked, "project": project.name},
    )
    return api_key, raw_key


@sensitive_variables("raw_key")
def api_key_generate(*, project: Project, purpose: str, actor: Actor) -> tuple[ApiKey, str]:
    """A new key named after what it is for ("Accelerate key", or "Accelerate key 2" when that name
    is taken), never expiring: the products' "Generate API key" buttons. As ``api_key_create``."""
    taken = {name.lower() for name in project.api_keys.values_list("name", flat=True)}
    for number in range(1, len(taken) + 3):
        name = purpose if number == 1 else f"{purpose} {number}"
        if name.lower() in taken:
            continue
        try:
            return api_key_create(project=project, name=name, actor=actor)
        except ValidationError:  # taken meanwhile (a double click): try the next number
            taken.add(name.lower())
    raise ValidationError("Could not find a free name for the new API key: try again.")


@transaction.atomic
def api_key_delete(*, api_key: ApiKey, actor: Actor) -> None:
    """Delete the key. Irreversible; it stops authenticating in every process within a second."""
    project = api_key.project
    audit_record(
        actor=actor,
        organization=project.organization,
        action="api_key.delete",
        target=api_key,
        target_label=api_key.name,
        details={"name": api_key.name, "prefix": api_key.masked, "project": project.name},
    )
    api_key.delete()


_lookups = ApiKeyLookupCache()


def _digest_if_well_formed(raw_key: object) -> str | None:
    return key_digest(raw_key) if isinstance(raw_key, str) and key_is_well_formed(raw_key) else None


def _last_used_due(api_key: ApiKey, now: datetime) -> bool:
    return api_key.last_used is None or now - api_key.last_used >= LAST_USED_RESOLUTION


def _last_used_stale(api_key: ApiKey, now: datetime) -> Q:
    # Conditional, so that several processes together still write at most once a minute.
    return Q(pk=api_key.pk) & (Q(last_used__isnull=True) | Q(last_used__lt=now - LAST_USED_RESOLUTION))


@sensitive_variables("raw_key")
def api_key_authenticate(raw_key: str) -> ApiKey | None:
    """The key (with its project) that ``raw_key`` is, or None when it is not a valid key.

    For the data planes, so it is cheap: a malformed key or a bad checksum is refused
    before any query; a warm hit costs no query (see ``projects.key_cache`` for why that
    is safe: a deletion is effective in every process within a second); a miss costs
    one indexed lookup by digest. Expired and deleted keys are refused. ``last_used``
    is written at most once a minute per key (one conditional UPDATE, then).

    The returned object may be shared with other callers: read it, never change it.
    Synchronous; async code calls ``aapi_key_authenticate``.
    """
    digest = _digest_if_well_formed(raw_key)
    if digest is None:
        return None
    if _lookups.revocation_check_due():
        checked_at = _lookups.clock()
        _lookups.revocation_token_seen(revocation_token_read(), checked_at=checked_at)
    api_key, generation = _lookups.get(digest)
    if api_key is None:
        fetched = _lookups.clock()
        try:
            api_key = ApiKey.objects.select_related("project").get(digest=digest)
        except ApiKey.DoesNotExist:
            return None
        _lookups.put(digest, api_key, generation=generation, fetched=fetched)
    now = timezone.now()
    if api_key.is_expired(now):
        return None
    if _last_used_due(api_key, now):
        ApiKey.objects.filter(_last_used_stale(api_key, now)).update(last_used=now)
        api_key.last_used = now
    return api_key


@sensitive_variables("raw_key")
async def aapi_key_authenticate(raw_key: str) -> ApiKey | None:
    """``api_key_authenticate`` for async code (the Starlette data plane), with Django's async ORM.

    Same promises and the same per-process cache; a warm hit awaits nothing but, at
    most twice a second, a read of the revocation counter (one row).
    """
    digest = _digest_if_well_formed(raw_key)
    if digest is None:
        return None
    if _lookups.revocation_check_due():
        checked_at = _lookups.clock()
        _lookups.revocation_token_seen(await arevocation_token_read(), checked_at=checked_at)
    api_key, generation = _lookups.get(digest)
    if api_key is None:
        fetched = _lookups.clock()
        try:
            api_key = await ApiKey.objects.select_related("project").aget(digest=digest)
        except ApiKey.DoesNotExist:
            return None
        _lookups.put(digest, api_key, generation=generation, fetched=fetched)
    now = timezone.now()
    if api_key.is_expired(now):
        return None
    if _last_used_due(api_key, now):
        await ApiKey.objects.filter(_last_used_stale(api_key, now)).aupdate(last_used=now)
        api_key.last_used = now
    return api_key
