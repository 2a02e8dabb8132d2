"""Half-full heap pages for the two health tables every sample updates, on PostgreSQL.

A station inserts a pending sample and moves the person's status row; the laboratory batch then writes
the result into that sample and moves the status row again. On full pages (fillfactor 100) each such
update puts the new row version on another page and adds an entry to every index of the table (three
on health_sample), which was half of the realistic lab batch's time (1 M pending samples turning
negative: the two UPDATEs 13.5 + 12.3 s -> 6.7 + 8.6 s with fillfactor 50, all but a few updates HOT).
50 leaves room for a whole page's rows to be updated once in one transaction (a result row is ~10 bytes
longer than the pending one). The space is not lost: a non-HOT update leaves the old version behind as
well, plus an index entry per index; after one batch the tables took 320 + 245 MB with fillfactor 50
against 391 + 259 MB without.

Applies to pages written from now on; VACUUM FULL (or pg_repack) in a quiet hour applies it to old ones.
"""

from django.db import migrations

TABLES = ("health_sample", "health_healthstatus")


def fillfactor_set(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        for table in TABLES:
            schema_editor.execute(f"ALTER TABLE {table} SET (fillfactor = 50)")


def fillfactor_reset(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        for table in TABLES:
            schema_editor.execute(f"ALTER TABLE {table} RESET (fillfactor)")


class Migration(migrations.Migration):
    dependencies = [("health", "0002_person_index_redundant")]

    operations = [migrations.RunPython(fillfactor_set, fillfactor_reset)]
