# The usage counters moved here from the core app: the tables stay where they are
# (console_usagecounter, console_usagedailycounter), only Django's idea of their owner changes.

import django.db.models.deletion
from django.db import migrations, models


def _fields(time_field: tuple[str, models.Field], related_name: str) -> list[tuple[str, models.Field]]:
    return [
        ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
        ("project_id", models.UUIDField()),
        ("product", models.CharField(max_length=16)),
        ("metric", models.CharField(max_length=32)),
        time_field,
        ("value", models.BigIntegerField(default=0)),
        (
            "organization",
            models.ForeignKey(
                on_delete=django.db.models.deletion.CASCADE,
                related_name=related_name,
                to="console.organization",
            ),
        ),
    ]


class Migration(migrations.Migration):
    initial = True

    dependencies = [
        ("console", "0005_usage_daily_counter"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="UsageCounter",
                    fields=_fields(
                        ("hour", models.DateTimeField(help_text="The start of the hour, UTC.")),
                        "usage_counters",
                    ),
                    options={
                        "db_table": "console_usagecounter",
                        "indexes": [models.Index(fields=["organization", "hour"], name="usage_org_hour")],
                        "constraints": [
                            models.UniqueConstraint(
                                fields=("project_id", "product", "metric", "hour"),
                                name="usage_counter_unique_hour",
                            )
                        ],
                    },
                ),
                migrations.CreateModel(
                    name="UsageDailyCounter",
                    fields=_fields(
                        ("day", models.DateField(help_text="The UTC day.")), "usage_daily_counters"
                    ),
                    options={
                        "db_table": "console_usagedailycounter",
                        "indexes": [models.Index(fields=["organization", "day"], name="usage_daily_org_day")],
                        "constraints": [
                            models.UniqueConstraint(
                                fields=("project_id", "product", "metric", "day"),
                                name="usage_daily_counter_unique_day",
                            )
                        ],
                    },
                ),
            ],
            database_operations=[],
        ),
    ]
