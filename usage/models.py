"""What the products used, per project, per hour and per UTC day (DESIGN.md section 9).

The tables keep the names they had when they lived in the core (``console_usagecounter``,
``console_usagedailycounter``): moving the models here moved no data.
"""

from __future__ import annotations

from django.db import models

from console.models import Organization


class UsageCounter(models.Model):
    """How much of one metric one project used in one hour (UTC), written by the products' meters.

    ``project_id`` is not a foreign key: the core does not know projects, and an
    organization's usage history outlives a deleted project.
    """

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="usage_counters")
    project_id = models.UUIDField()
    product = models.CharField(max_length=16)
    metric = models.CharField(max_length=32)
    hour = models.DateTimeField(help_text="The start of the hour, UTC.")
    value = models.BigIntegerField(default=0)

    class Meta:
        db_table = "console_usagecounter"
        constraints = [
            models.UniqueConstraint(
                fields=["project_id", "product", "metric", "hour"], name="usage_counter_unique_hour"
            )
        ]
        indexes = [models.Index(fields=["organization", "hour"], name="usage_org_hour")]

    def __str__(self) -> str:
        return f"{self.product}.{self.metric} {self.hour:%Y-%m-%d %H}:00 = {self.value}"


class UsageDailyCounter(models.Model):
    """The same counts per UTC day: kept up to date by every flush of a meter (the same
    transaction adds to the hour's and the day's rows), so the 7- and 30-day views read
    30 rows per metric and project instead of 720, and the history outlives the hourly rows
    (pruned after ``USAGE_HOURLY_RETENTION_DAYS``; these after ``USAGE_RETENTION_DAYS``).
    """

    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="usage_daily_counters"
    )
    project_id = models.UUIDField()
    product = models.CharField(max_length=16)
    metric = models.CharField(max_length=32)
    day = models.DateField(help_text="The UTC day.")
    value = models.BigIntegerField(default=0)

    class Meta:
        db_table = "console_usagedailycounter"
        constraints = [
            models.UniqueConstraint(
                fields=["project_id", "product", "metric", "day"], name="usage_daily_counter_unique_day"
            )
        ]
        indexes = [models.Index(fields=["organization", "day"], name="usage_daily_org_day")]

    def __str__(self) -> str:
        return f"{self.product}.{self.metric} {self.day:%Y-%m-%d} = {self.value}"
