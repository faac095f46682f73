from __future__ import annotations

from django.conf import settings
from django.contrib.postgres.indexes import BrinIndex
from django.db import models
from django.utils import timezone

from console.models import Organization
from projects.models import Project
from userdb.encryption import EncryptedTextField


class PulseConfig(models.Model):
    """Pulse for one project: the user's database, the publication and replication slot in it.

    The row stays when Pulse is disabled (``enabled`` False, connection string cleared), so
    the region and tables are offered again. The capture worker (issue 8) reports its
    progress in the ``last_*`` and ``confirmed_lsn`` fields.
    """

    project = models.OneToOneField(Project, on_delete=models.CASCADE, related_name="pulse_config")
    enabled = models.BooleanField(default=False)
    # A Fernet token (userdb.encryption); empty while disabled.
    connection_string = EncryptedTextField(blank=True)
    database_label = models.CharField(
        max_length=300, blank=True, help_text="The connection string, redacted: safe to show."
    )
    region = models.CharField(max_length=32)
    slot_name = models.CharField(max_length=63)
    publication_name = models.CharField(max_length=63)
    tables = models.JSONField(
        default=list, blank=True, help_text='Tables covered, as "schema.table"; empty means all tables.'
    )
    created = models.DateTimeField(default=timezone.now)
    updated = models.DateTimeField(default=timezone.now)
    enabled_at = models.DateTimeField(null=True, blank=True)
    enabled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Written by the capture worker.
    last_captured_at = models.DateTimeField(null=True, blank=True)
    confirmed_lsn = models.BigIntegerField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    last_error_at = models.DateTimeField(null=True, blank=True)
    # The tables the publication covers, as model names ("orders", "sales.orders"), as the
    # worker last read them; the stream endpoint checks ``model`` against this list.
    captured_models = models.JSONField(default=list, blank=True)
    # The number of the project's last logged event (PulseEvent.seq): the worker takes the next
    # ones in the transaction that logs them. Kept here, not read back from the log, so numbers
    # are never reused after retention pruned the log empty, nor after Pulse is enabled again.
    last_event_seq = models.BigIntegerField(default=0)

    class Meta:
        verbose_name = "Pulse configuration"

    def __str__(self) -> str:
        return f"Pulse for {self.project}"

    @property
    def all_tables(self) -> bool:
        return not self.tables


class PulseLeftoverSlot(models.Model):
    """A replication slot Pulse created that may still exist: disabling could not reach the database.

    A slot nobody reads keeps WAL until the disk fills, so the project shows a warning with
    the SQL to drop it until the console confirms it is gone. Kept when the project is
    deleted (``project`` becomes NULL) so the organization still sees it.
    """

    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="pulse_leftover_slots"
    )
    project = models.ForeignKey(
        Project, null=True, blank=True, on_delete=models.SET_NULL, related_name="pulse_leftover_slots"
    )
    project_name = models.CharField(max_length=100)
    slot_name = models.CharField(max_length=63)
    publication_name = models.CharField(max_length=63)
    database_label = models.CharField(max_length=300, help_text="The connection string, redacted.")
    # Kept so the console can drop the slot, or confirm it is gone, once the database answers.
    connection_string = EncryptedTextField()
    since = models.DateTimeField(default=timezone.now)
    last_checked_at = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ("since", "id")

    def __str__(self) -> str:
        return f"Replication slot {self.slot_name} on {self.database_label}"


class PulseEvent(models.Model):
    """One captured change: the durable event log that streams read (docs/pulse.md).

    ``seq`` is the event's id on the wire (SSE ``id:``, ``Last-Event-ID``, acknowledgements):
    the project's own numbering, 1, 2, 3, … in commit order, and within a transaction in the
    order of its changes. ``id`` is only the row's key: it counts every tenant's events, so it
    never leaves the console. (project, lsn, position) is unique, so writing a batch again
    after a crash adds nothing.
    """

    class Action(models.TextChoices):
        CREATE = "create"
        UPDATE = "update"
        DELETE = "delete"
        TRUNCATE = "truncate"

    id = models.BigAutoField(primary_key=True)
    project = models.ForeignKey(
        Project, on_delete=models.CASCADE, related_name="pulse_events", db_index=False
    )
    model_name = models.CharField(max_length=127)
    action = models.CharField(max_length=8, choices=Action.choices)
    # {"created": row} | {"before": row|null, "after": row[, "unchanged": [...]]} | {"deleted": row} | {}
    payload = models.JSONField()
    lsn = models.BigIntegerField(help_text="The commit LSN of the event's transaction.")
    position = models.IntegerField(help_text="The change's place in its transaction, from 0.")
    seq = models.BigIntegerField(help_text="The event's number within its project: its id in streams.")
    committed_at = models.DateTimeField()
    captured_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["project", "lsn", "position"], name="pulse_event_once"),
            models.UniqueConstraint(fields=["project", "seq"], name="pulse_event_seq"),
        ]
        indexes = [
            models.Index(fields=["project", "model_name", "seq"], name="pulse_event_stream"),
            # Retention prunes by capture time; ids grow with it, so a BRIN index is tiny and enough.
            BrinIndex(fields=["captured_at"], name="pulse_event_captured"),
        ]

    def __str__(self) -> str:
        return f"{self.action} {self.model_name} #{self.seq}"


class PulseStream(models.Model):
    """A named stream of a project: where its application last acknowledged (at least once delivery).
    ``acknowledged_id`` is an event's ``seq``, the project's own numbering."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="pulse_streams")
    name = models.CharField(max_length=100)
    acknowledged_id = models.BigIntegerField(default=0)
    created = models.DateTimeField(default=timezone.now)
    updated = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["project", "name"], name="pulse_stream_name")]

    def __str__(self) -> str:
        return f"Pulse stream {self.name}"
