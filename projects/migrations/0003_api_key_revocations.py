"""The API key revocation counter and the triggers that bump it (see ``ApiKeyRevocations``).

A trigger rather than a Django signal: keys also disappear through cascades, Django admin, an
operator's shell or plain SQL, and the bump must commit (or roll back) with the change itself.
"""

from django.db import migrations, models

BUMP = """
CREATE FUNCTION projects_api_key_revoked() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO projects_apikeyrevocations (id, generation) VALUES (1, 1)
    ON CONFLICT (id) DO UPDATE SET generation = projects_apikeyrevocations.generation + 1;
    RETURN NULL;
END
$$;
CREATE TRIGGER projects_api_key_deleted AFTER DELETE ON projects_apikey
    FOR EACH STATEMENT EXECUTE FUNCTION projects_api_key_revoked();
CREATE TRIGGER projects_api_key_truncated AFTER TRUNCATE ON projects_apikey
    FOR EACH STATEMENT EXECUTE FUNCTION projects_api_key_revoked();
CREATE TRIGGER projects_api_key_changed AFTER UPDATE OF digest, expires, project_id ON projects_apikey
    FOR EACH STATEMENT EXECUTE FUNCTION projects_api_key_revoked();
INSERT INTO projects_apikeyrevocations (id, generation) VALUES (1, 0) ON CONFLICT (id) DO NOTHING;
"""

UNBUMP = """
DROP TRIGGER IF EXISTS projects_api_key_changed ON projects_apikey;
DROP TRIGGER IF EXISTS projects_api_key_truncated ON projects_apikey;
DROP TRIGGER IF EXISTS projects_api_key_deleted ON projects_apikey;
DROP FUNCTION IF EXISTS projects_api_key_revoked();
"""


class Migration(migrations.Migration):
    dependencies = [("projects", "0002_api_keys")]

    operations = [
        migrations.CreateModel(
            name="ApiKeyRevocations",
            fields=[
                ("id", models.PositiveSmallIntegerField(default=1, primary_key=True, serialize=False)),
                ("generation", models.BigIntegerField(default=0)),
            ],
            options={"verbose_name": "API key revocation counter"},
        ),
        migrations.RunSQL(BUMP, UNBUMP),
    ]
