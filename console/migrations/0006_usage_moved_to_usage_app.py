# The usage counters now belong to the usage app (usage/migrations/0001_initial.py), which
# keeps these tables; here they only leave the core's state. Their content types follow them.

from django.db import migrations


def content_types_follow(apps, schema_editor, *, app_label: str) -> None:
    content_type = apps.get_model("contenttypes", "ContentType")
    content_type.objects.filter(
        app_label="console" if app_label == "usage" else "usage",
        model__in=["usagecounter", "usagedailycounter"],
    ).update(app_label=app_label)


class Migration(migrations.Migration):
    dependencies = [
        ("console", "0005_usage_daily_counter"),
        ("usage", "0001_initial"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.DeleteModel(name="UsageCounter"),
                migrations.DeleteModel(name="UsageDailyCounter"),
            ],
            database_operations=[],
        ),
        migrations.RunPython(
            lambda apps, editor: content_types_follow(apps, editor, app_label="usage"),
            lambda apps, editor: content_types_follow(apps, editor, app_label="console"),
        ),
    ]
