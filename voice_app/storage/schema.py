"""The database schema: versioned migrations, and the columns that are encrypted at rest."""

from __future__ import annotations

DB_NAME = "voice_app.sqlite3"

# Each entry upgrades the schema from version i to i + 1; never edit a released entry, append.
MIGRATIONS: list[str] = [
    # v1: the whole design, so later features only add columns or tables.
    """
    CREATE TABLE meta (
        key   TEXT PRIMARY KEY,
        value TEXT NOT NULL
    );
    CREATE TABLE personas (
        id          INTEGER PRIMARY KEY,
        name        TEXT NOT NULL UNIQUE,          -- the handle used on the command line
        them_name   TEXT NOT NULL DEFAULT '',      -- how the ex appears in the exports
        me_name     TEXT NOT NULL DEFAULT '',      -- how the user appears
        card        TEXT NOT NULL DEFAULT '{}',    -- PersonaCard as JSON (what the user remembers)
        style       TEXT,                          -- cached StyleProfile JSON, rebuilt after imports
        consent_at  TEXT,                          -- when the user acknowledged the consent text
        created_at  TEXT NOT NULL,
        updated_at  TEXT NOT NULL
    );
    CREATE TABLE conversations (
        id             INTEGER PRIMARY KEY,
        persona_id     INTEGER NOT NULL REFERENCES personas(id) ON DELETE CASCADE,
        source_format  TEXT NOT NULL,
        source_name    TEXT NOT NULL,
        source_sha256  TEXT NOT NULL,
        participants   TEXT NOT NULL DEFAULT '[]',
        imported_at    TEXT NOT NULL,
        messages_added INTEGER NOT NULL DEFAULT 0,
        UNIQUE (persona_id, source_sha256)
    );
    CREATE TABLE messages (
        id              INTEGER PRIMARY KEY,
        persona_id      INTEGER NOT NULL REFERENCES personas(id) ON DELETE CASCADE,
        conversation_id INTEGER NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
        ts              TEXT NOT NULL,             -- ISO 8601, the export's local time
        sender          TEXT NOT NULL,
        from_them       INTEGER NOT NULL,          -- 1: written by the ex
        kind            TEXT NOT NULL,             -- text | media | system | call | deleted
        text            TEXT NOT NULL,
        edited          INTEGER NOT NULL DEFAULT 0,
        reply_to        TEXT,
        reactions       TEXT,                      -- JSON list of [sender, emoji]
        fingerprint     TEXT NOT NULL,             -- de-duplicates overlapping exports
        UNIQUE (persona_id, fingerprint)
    );
    CREATE INDEX messages_by_persona_time ON messages (persona_id, ts);
    CREATE TABLE sessions (
        id          INTEGER PRIMARY KEY,
        persona_id  INTEGER NOT NULL REFERENCES personas(id) ON DELETE CASCADE,
        mode        TEXT NOT NULL,                 -- text | voice
        started_at  TEXT NOT NULL,
        ended_at    TEXT,
        backend     TEXT,
        model       TEXT,
        meta        TEXT NOT NULL DEFAULT '{}'     -- closure stage, nudges shown, letter path...
    );
    CREATE INDEX sessions_by_persona ON sessions (persona_id, started_at);
    CREATE TABLE turns (
        id           INTEGER PRIMARY KEY,
        session_id   INTEGER NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
        idx          INTEGER NOT NULL,
        status       TEXT NOT NULL DEFAULT 'partial',   -- partial until the reply is stored
        started_at   TEXT NOT NULL,
        completed_at TEXT,
        user_text    TEXT NOT NULL DEFAULT '',
        user_audio   TEXT,                      -- file path relative to the data dir
        reply_text   TEXT NOT NULL DEFAULT '',  -- what was actually heard (after any barge-in)
        reply_full   TEXT,                      -- what the model generated
        reply_audio  TEXT,
        interrupted  INTEGER NOT NULL DEFAULT 0,
        backend      TEXT,
        model        TEXT,
        timeline     TEXT NOT NULL DEFAULT '{}', -- event -> seconds since speech end
        memories     TEXT NOT NULL DEFAULT '[]', -- real past exchanges the reply drew on
        care         TEXT,                      -- e.g. 'crisis' when the turn stepped out of character
        UNIQUE (session_id, idx)
    );
    """,
    # v2: sentence embeddings of the real exchanges (memories found by meaning), and the user's
    # corrections ("they wouldn't say that").
    """
    ALTER TABLE personas ADD COLUMN memory_vectors TEXT;  -- JSON: model, keys, float16 rows (base64)
    CREATE TABLE corrections (
        id          INTEGER PRIMARY KEY,
        persona_id  INTEGER NOT NULL REFERENCES personas(id) ON DELETE CASCADE,
        created_at  TEXT NOT NULL,
        user_line   TEXT NOT NULL,             -- what the user said
        reply       TEXT NOT NULL,             -- the reply marked "they wouldn't say that"
        better      TEXT NOT NULL DEFAULT ''   -- what they would have said, when the user gave it
    );
    CREATE INDEX corrections_by_persona ON corrections (persona_id, id);
    """,
]

SCHEMA_VERSION = len(MIGRATIONS)

# The columns that carry message content or identity: encrypted (bound to their row) when encryption is on.
PERSONA_ENC = ("them_name", "me_name", "card", "style", "memory_vectors")
CORRECTION_ENC = ("user_line", "reply", "better")
MESSAGE_ENC = ("sender", "text", "reply_to", "reactions")
TURN_ENC = ("user_text", "reply_text", "reply_full", "memories")


def split_sql(script: str) -> list[str]:
    """Split a migration into statements (our migrations hold no ';' inside literals)."""
    return [s.strip() for s in script.split(";") if s.strip() and not _only_comments(s)]


def _only_comments(statement: str) -> bool:
    return all(not line.strip() or line.strip().startswith("--") for line in statement.splitlines())
