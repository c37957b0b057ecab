"""Refuse UPDATE and DELETE on the audit table in the database itself.

The ORM already refuses; the trigger also stops raw SQL and other clients. On PostgreSQL
`manage.py archive_audit` may delete by setting `corsadmin.archiving` for its transaction.
On SQLite (the embedded development database) only UPDATE is refused by a trigger: Django's
test flush empties tables with DELETE, and the ORM refuses deletes there anyway.
"""

from django.db import migrations

PG_FORWARD = """
CREATE OR REPLACE FUNCTION corsadmin_audit_append_only() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'DELETE' AND current_setting('corsadmin.archiving', true) = 'on' THEN
        RETURN OLD;
    END IF;
    RAISE EXCEPTION 'audit events are append-only (% refused)', TG_OP;
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER policies_auditevent_append_only
    BEFORE UPDATE OR DELETE ON policies_auditevent
    FOR EACH ROW EXECUTE FUNCTION corsadmin_audit_append_only();
"""
PG_BACKWARD = """
DROP TRIGGER IF EXISTS policies_auditevent_append_only ON policies_auditevent;
DROP FUNCTION IF EXISTS corsadmin_audit_append_only();
"""
SQLITE_UPDATE_TRIGGER = """
CREATE TRIGGER policies_auditevent_no_update BEFORE UPDATE ON policies_auditevent
BEGIN SELECT RAISE(ABORT, 'audit events are append-only (UPDATE refused)'); END;
"""


def forward(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(PG_FORWARD, params=None)
    elif vendor == "sqlite":
        schema_editor.execute(SQLITE_UPDATE_TRIGGER)


def backward(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(PG_BACKWARD)
    elif vendor == "sqlite":
        schema_editor.execute("DROP TRIGGER IF EXISTS policies_auditevent_no_update")


class Migration(migrations.Migration):
    dependencies = [("policies", "0001_initial")]
    operations = [migrations.RunPython(forward, backward)]
