"""The check-in table: partitioned by day on PostgreSQL (see venues/partitions.py), plain on SQLite.

The state below is the model; the database operation creates the table by hand on PostgreSQL, with
the same columns and index names, because Django cannot declare PARTITION BY.
"""

import datetime as dt

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


def create_table(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        schema_editor.create_model(apps.get_model("venues", "CheckIn"))
        return
    from venues.partitions import CREATE_SQL, ensure_partitions

    schema_editor.execute(CREATE_SQL)
    today = dt.date.today()
    ensure_partitions(today - dt.timedelta(days=1), today + dt.timedelta(days=7), schema_editor.connection)


def drop_table(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        schema_editor.delete_model(apps.get_model("venues", "CheckIn"))
        return
    schema_editor.execute("DROP TABLE venues_checkin CASCADE")


CHECKIN = migrations.CreateModel(
    name="CheckIn",
    fields=[
        ("id", models.BigAutoField(primary_key=True, serialize=False)),
        ("checked_in_at", models.DateTimeField()),
        ("method", models.CharField(choices=[("scan", "Own scan"), ("companion", "Companion"), ("sentinel", "Sentinel")], max_length=10)),
        ("scan_key", models.CharField(max_length=64)),
        ("colour", models.CharField(choices=[("green", "Green"), ("yellow", "Yellow"), ("red", "Red")], max_length=6)),
        ("reason_code", models.CharField(blank=True, max_length=40)),
        ("badge", models.CharField(blank=True, max_length=10)),
        ("verdict", models.CharField(choices=[("allow", "Let in"), ("restrict", "Restricted"), ("deny", "Do not let in")], max_length=10)),
        ("is_flagged", models.BooleanField(default=False)),
        ("flag_reason", models.CharField(blank=True, max_length=20)),
        ("account", models.ForeignKey(db_constraint=False, null=True, on_delete=django.db.models.deletion.DO_NOTHING, related_name="+", to=settings.AUTH_USER_MODEL)),
        ("person", models.ForeignKey(db_constraint=False, on_delete=django.db.models.deletion.DO_NOTHING, related_name="+", to="people.person")),
        ("entrance", models.ForeignKey(db_constraint=False, on_delete=django.db.models.deletion.DO_NOTHING, related_name="+", to="venues.entrance")),
        ("venue", models.ForeignKey(db_constraint=False, on_delete=django.db.models.deletion.DO_NOTHING, related_name="+", to="venues.venue")),
    ],
    options={
        "verbose_name": "check-in",
        "verbose_name_plural": "check-ins",
        "db_table": "venues_checkin",
        "indexes": [
            models.Index(fields=["venue", "checked_in_at"], name="checkin_venue_at_idx"),
            models.Index(fields=["person", "checked_in_at"], name="checkin_person_at_idx"),
            models.Index(fields=["account", "checked_in_at"], name="checkin_account_at_idx"),
        ],
    },
)


class Migration(migrations.Migration):

    dependencies = [
        ("venues", "0002_venues_checkins"),
        ("people", "0001_initial"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        # State first (RunPython then sees the model), then the table, made by hand.
        migrations.SeparateDatabaseAndState(state_operations=[CHECKIN]),
        migrations.RunPython(create_table, drop_table),
    ]
