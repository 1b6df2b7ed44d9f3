"""The search index: maintained by the database itself, so every insert, edit and
deletion updates it in the same transaction as the message (chat.selectors.search).

PostgreSQL: trigram (pg_trgm) over the text for partial words and any script, and an
English full-text vector (a generated column) for whole words in their other forms. SQLite: an FTS5 table with
the trigram tokenizer, kept by triggers."""

from django.db import migrations

POSTGRES_FORWARD = [
    "CREATE EXTENSION IF NOT EXISTS pg_trgm",
    # Django's icontains is UPPER(text) LIKE UPPER(pattern): the index is on that expression.
    "CREATE INDEX chat_message_text_trgm ON chat_message USING gin (UPPER(text) gin_trgm_ops)",
    # Stored, not an expression index: a scan that checks rows one by one (the planner's
    # choice for a page of newest matches) reads the vector instead of making it per row.
    "ALTER TABLE chat_message ADD COLUMN search_vector tsvector "
    "GENERATED ALWAYS AS (to_tsvector('english', text)) STORED",
    "CREATE INDEX chat_message_search_vector ON chat_message USING gin (search_vector)",
]
POSTGRES_BACKWARD = [
    "DROP INDEX IF EXISTS chat_message_search_vector",
    "ALTER TABLE chat_message DROP COLUMN IF EXISTS search_vector",
    "DROP INDEX IF EXISTS chat_message_text_trgm",
]

SQLITE_FORWARD = [
    "CREATE VIRTUAL TABLE chat_message_search USING fts5("
    "text, content='chat_message', content_rowid='id', tokenize='trigram')",
    "CREATE TRIGGER chat_message_search_insert AFTER INSERT ON chat_message BEGIN "
    "INSERT INTO chat_message_search(rowid, text) VALUES (new.id, new.text); END",
    "CREATE TRIGGER chat_message_search_update AFTER UPDATE OF text ON chat_message BEGIN "
    "INSERT INTO chat_message_search(chat_message_search, rowid, text) "
    "VALUES ('delete', old.id, old.text); "
    "INSERT INTO chat_message_search(rowid, text) VALUES (new.id, new.text); END",
    "CREATE TRIGGER chat_message_search_delete AFTER DELETE ON chat_message BEGIN "
    "INSERT INTO chat_message_search(chat_message_search, rowid, text) "
    "VALUES ('delete', old.id, old.text); END",
    "INSERT INTO chat_message_search(chat_message_search) VALUES ('rebuild')",
]
SQLITE_BACKWARD = [
    "DROP TRIGGER IF EXISTS chat_message_search_delete",
    "DROP TRIGGER IF EXISTS chat_message_search_update",
    "DROP TRIGGER IF EXISTS chat_message_search_insert",
    "DROP TABLE IF EXISTS chat_message_search",
]

BY_VENDOR = {
    "postgresql": (POSTGRES_FORWARD, POSTGRES_BACKWARD),
    "sqlite": (SQLITE_FORWARD, SQLITE_BACKWARD),
}


def _run(statements_of):
    def run(apps, schema_editor):
        statements = BY_VENDOR.get(schema_editor.connection.vendor)
        if statements is None:
            return  # another database: search falls back to a plain substring scan
        for statement in statements_of(statements):
            schema_editor.execute(statement)

    return run


class Migration(migrations.Migration):
    dependencies = [("chat", "0008_message_html")]

    operations = [
        migrations.RunPython(_run(lambda s: s[0]), _run(lambda s: s[1])),
    ]
