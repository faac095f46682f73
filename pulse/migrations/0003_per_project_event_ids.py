"""Event ids per project (issue 19): ``PulseEvent.seq`` numbers each project's events 1, 2, 3, …
and is what streams send as ids; ``PulseConfig.last_event_seq`` is where the numbering stands.

Existing events are numbered in their (global) id order, which within a project is their commit
order, and each named stream's acknowledgement is carried over to the new numbering: it becomes
the number of the last event it covered (0 when retention pruned them all). A client holding an
old global id as ``Last-Event-ID`` across the upgrade is refused with a P6005 if that id is past
the project's newest event (docs/pulse.md), rather than silently skipping events.
"""

from django.db import migrations, models

NUMBER = """
UPDATE pulse_pulseevent AS e SET seq = numbered.seq
FROM (
    SELECT id, row_number() OVER (PARTITION BY project_id ORDER BY id) AS seq FROM pulse_pulseevent
) AS numbered
WHERE e.id = numbered.id;
UPDATE pulse_pulsestream AS s SET acknowledged_id = COALESCE(
    (SELECT max(e.seq) FROM pulse_pulseevent AS e
     WHERE e.project_id = s.project_id AND e.id <= s.acknowledged_id),
    0
);
UPDATE pulse_pulseconfig AS c SET last_event_seq = COALESCE(
    (SELECT max(e.seq) FROM pulse_pulseevent AS e WHERE e.project_id = c.project_id), 0
);
"""

UNNUMBER = """
UPDATE pulse_pulsestream AS s SET acknowledged_id = COALESCE(
    (SELECT max(e.id) FROM pulse_pulseevent AS e
     WHERE e.project_id = s.project_id AND e.seq <= s.acknowledged_id),
    0
);
"""


class Migration(migrations.Migration):
    dependencies = [("pulse", "0002_event_log")]

    operations = [
        migrations.AddField(
            model_name="pulseconfig",
            name="last_event_seq",
            field=models.BigIntegerField(default=0),
        ),
        migrations.AddField(
            model_name="pulseevent",
            name="seq",
            field=models.BigIntegerField(
                null=True, help_text="The event's number within its project: its id in streams."
            ),
        ),
        migrations.RunSQL(NUMBER, UNNUMBER),
        migrations.AlterField(
            model_name="pulseevent",
            name="seq",
            field=models.BigIntegerField(
                help_text="The event's number within its project: its id in streams."
            ),
        ),
        migrations.RemoveIndex(model_name="pulseevent", name="pulse_event_stream"),
        migrations.AddIndex(
            model_name="pulseevent",
            index=models.Index(fields=["project", "model_name", "seq"], name="pulse_event_stream"),
        ),
        migrations.AddConstraint(
            model_name="pulseevent",
            constraint=models.UniqueConstraint(fields=("project", "seq"), name="pulse_event_seq"),
        ),
    ]
