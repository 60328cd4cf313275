"""The SQLite store: one database per data dir, versioned schema, and the queries on it."""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import threading
import unicodedata
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from voice_app import config
from voice_app.care.crypto import (
    LEGACY_TEXT_PREFIX,
    TEXT_PREFIX,
    Cipher,
    LegacyCipher,
    PassphraseRequiredError,
    TamperedDataError,
)
from voice_app.errors import (
    DataDirError,
    DiskFullError,
    InvalidPersonaNameError,
    PersonaNotFoundError,
    SessionNotFoundError,
    StoreError,
    UnsafePathError,
)
from voice_app.files import private_dir

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
]

SCHEMA_VERSION = len(MIGRATIONS)

# The columns that carry message content or identity: encrypted (bound to their row) when encryption is on.
PERSONA_ENC = ("them_name", "me_name", "card", "style")
MESSAGE_ENC = ("sender", "text", "reply_to", "reactions")
TURN_ENC = ("user_text", "reply_text", "reply_full", "memories")

PERSONA_NAME_MAX = 64


def check_persona_name(name: str) -> str:
    """The name as a handle, or InvalidPersonaNameError. Names are never used as paths (see persona_dir)."""
    cleaned = name.strip()
    if not cleaned:
        raise InvalidPersonaNameError("A persona needs a name.")
    if len(cleaned) > PERSONA_NAME_MAX:
        raise InvalidPersonaNameError(
            f"The persona name is {len(cleaned)} characters long; at most {PERSONA_NAME_MAX}."
        )
    if any(unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp") for ch in cleaned):
        raise InvalidPersonaNameError("The persona name holds control or invisible characters.")
    if cleaned.startswith("-"):
        raise InvalidPersonaNameError(f"The persona name {cleaned!r} starts with '-', which reads as an option.")
    if cleaned in (".", "..") or cleaned[0] in "/~\\" or cleaned.startswith("../"):
        raise InvalidPersonaNameError(f"The persona name {cleaned!r} looks like a path.")
    return cleaned


def now_iso() -> str:
    """Current UTC time, ISO 8601 with offset, second precision."""
    return datetime.now(UTC).isoformat(timespec="seconds")


@dataclass
class Persona:
    """A row of `personas`, with its card decoded."""

    id: int
    name: str
    them_name: str
    me_name: str
    card: dict[str, Any]
    consent_at: str | None
    created_at: str


@dataclass
class StoredMessage:
    """One imported message as the persona code reads it."""

    id: int
    ts: str
    sender: str
    from_them: bool
    kind: str
    text: str
    conversation_id: int


@dataclass
class SessionInfo:
    """A session with its turn count and duration."""

    id: int
    persona: str
    mode: str
    started_at: str
    ended_at: str | None
    turns: int
    duration_s: float
    backend: str | None
    model: str | None


class Store:
    """The app's database. Thread-safe: one connection guarded by a lock (the TUI uses workers)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        _prepare_file(path)
        try:
            self._conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None, timeout=10)
            self._conn.row_factory = sqlite3.Row
            self._conn.execute("PRAGMA foreign_keys = ON")
            self._conn.execute("PRAGMA secure_delete = ON")
            self._conn.execute("PRAGMA journal_mode = WAL")
            self._conn.execute("PRAGMA synchronous = NORMAL")
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"Cannot open the database {path}: {exc}.") from None
        self._lock = threading.RLock()
        self._migrate()
        _restrict_sidecars(path)
        self.cipher: Cipher | None = None  # set by unlock() when the data is encrypted at rest
        self.legacy_cipher: LegacyCipher | None = None  # while a key-scheme-1 store is rekeyed
        self._state = self.meta("encryption", "off") or "off"

    # --- encryption at rest (voice_app.care.encryption converts; the store reads and writes through it) ---

    def meta(self, key: str, default: str | None = None) -> str | None:
        rows = self.query("SELECT value FROM meta WHERE key = ?", (key,))
        return rows[0][0] if rows else default

    def set_meta(self, conn: sqlite3.Connection, key: str, value: str) -> None:
        conn.execute(
            "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = ?", (key, value, value)
        )

    @property
    def encryption_state(self) -> str:
        """off | on | converting-on | converting-off | rekeying (kept in the database: the one source of truth)."""
        return self._state

    def set_encryption_state(self, conn: sqlite3.Connection, state: str) -> None:
        """Inside a transaction: the new state, committed with the rows it describes."""
        self.set_meta(conn, "encryption", state)
        self._state = state

    def delete_meta(self, *keys: str) -> None:
        with self.transaction() as conn:
            conn.executemany("DELETE FROM meta WHERE key = ?", [(k,) for k in keys])

    def refresh_encryption_state(self) -> None:
        self._state = self.meta("encryption", "off") or "off"

    def enc(self, text: str, where: str) -> str:
        """`text` for column `where` ("table.column:row"): ciphertext bound to it when unlocked."""
        return self.cipher.encrypt_text(text, where) if self.cipher else text

    def dec(self, value: str | None, where: str) -> str:
        """A stored value back to text; plaintext where ciphertext must be is refused (TamperedDataError)."""
        if not value:
            return ""
        if value.startswith(TEXT_PREFIX):
            if self.cipher is None:
                raise PassphraseRequiredError(f"The data in {self.path.parent} is encrypted.")
            return self.cipher.decrypt_text(value, where)
        if value.startswith(LEGACY_TEXT_PREFIX):
            if self.legacy_cipher is not None:
                return self.legacy_cipher.decrypt_text(value)
            if self.cipher is None:
                raise PassphraseRequiredError(f"The data in {self.path.parent} is encrypted.")
            raise TamperedDataError(f"The value of {where} uses an old key the store no longer has.")
        if self._state == "on":
            raise TamperedDataError(f"The value of {where} is not encrypted, though encryption is on.")
        return value

    def keyed(self, fingerprint: str) -> str:
        """A duplicate-detection fingerprint as stored: a keyed hash when encryption is on."""
        return self.cipher.keyed_hash(fingerprint) if self.cipher else fingerprint

    def _enc_opt(self, value: str | None, where: str) -> str | None:
        return None if value is None else self.enc(value, where)

    def reencrypt(
        self,
        read: Callable[[str, str], str],
        write: Callable[[str, str], str],
        refingerprint: Callable[[int, str, dict[str, Any]], str],
        rekey_source: Callable[[str], str],
        final_state: str,
    ) -> None:
        """Every encrypted column read with `read(value, where)` and written with `write(text, where)`.

        Fingerprints become `refingerprint(persona_id, old, plain row)` (their row binding follows),
        source hashes `rekey_source(old)`. One transaction with the new state: a crash leaves all old
        or all new. Used by `voice_app.care.encryption` to turn encryption on and off and to rekey.
        """

        def conv(value: str | None, old_where: str, new_where: str) -> str | None:
            return value if not value else write(read(value, old_where), new_where)  # NULL and '' stay

        with self.transaction() as conn:
            for row in conn.execute("SELECT id, them_name, me_name, card, style FROM personas").fetchall():
                pid = row[0]
                values = [
                    conv(row[i + 1], f"personas.{c}:{pid}", f"personas.{c}:{pid}") for i, c in enumerate(PERSONA_ENC)
                ]
                conn.execute(
                    "UPDATE personas SET them_name = ?, me_name = ?, card = ?, style = ? WHERE id = ?", (*values, pid)
                )
            for row in conn.execute(
                "SELECT id, source_name, participants, source_sha256 FROM conversations"
            ).fetchall():
                cid = row[0]
                conn.execute(
                    "UPDATE conversations SET source_name = ?, participants = ?, source_sha256 = ? WHERE id = ?",
                    (
                        conv(row[1], f"conversations.source_name:{cid}", f"conversations.source_name:{cid}"),
                        conv(row[2], f"conversations.participants:{cid}", f"conversations.participants:{cid}"),
                        rekey_source(row[3]),
                        cid,
                    ),
                )
            rows = conn.execute(
                "SELECT id, persona_id, fingerprint, ts, kind, sender, text, reply_to, reactions"
                " FROM messages ORDER BY id"
            ).fetchall()
            for row in rows:
                mid, pid, fp = row[0], row[1], row[2]
                old_at = f"{pid}:{fp}"
                plain = {
                    c: (row[5 + i] if not row[5 + i] else read(row[5 + i], f"messages.{c}:{old_at}"))
                    for i, c in enumerate(MESSAGE_ENC)
                }
                plain.update(ts=row[3], kind=row[4])
                new_fp = refingerprint(pid, fp, plain)
                new_at = f"{pid}:{new_fp}"
                values = [plain[c] if not plain[c] else write(plain[c], f"messages.{c}:{new_at}") for c in MESSAGE_ENC]
                conn.execute(
                    "UPDATE messages SET sender = ?, text = ?, reply_to = ?, reactions = ?, fingerprint = ?"
                    " WHERE id = ?",
                    (*values, new_fp, mid),
                )
            for row in conn.execute(
                "SELECT id, session_id, idx, user_text, reply_text, reply_full, memories FROM turns"
            ).fetchall():
                at = f"{row[1]}:{row[2]}"
                values = [conv(row[3 + i], f"turns.{c}:{at}", f"turns.{c}:{at}") for i, c in enumerate(TURN_ENC)]
                conn.execute(
                    "UPDATE turns SET user_text = ?, reply_text = ?, reply_full = ?, memories = ? WHERE id = ?",
                    (*values, row[0]),
                )
            self.set_encryption_state(conn, final_state)
        self.compact()  # the old plaintext (or ciphertext) pages leave the file and the WAL

    # --- files under the data dir ----------------------------------------------------------

    @property
    def root(self) -> Path:
        """The data dir: the database's folder; every file the app keeps lives under it."""
        return self.path.parent

    def inside(self, relative: str | Path) -> Path:
        """`relative` under the data dir, resolved; UnsafePathError if it would leave it (`..`, absolute, links)."""
        root = self.root.resolve()
        candidate = (root / relative).resolve()
        if candidate == root or root not in candidate.parents:
            raise UnsafePathError(f"The stored path {str(relative)!r} points outside the data dir {root}.")
        return candidate

    def persona_dir(self, persona_id: int) -> Path:
        """Per-persona files (letters): named by the persona's id, never by its name."""
        return self.inside(Path("personas") / f"p{int(persona_id)}")

    # --- lifecycle -----------------------------------------------------------------------

    @classmethod
    def open_default(cls) -> Store:
        """The store in the current data dir ($VOICE_APP_HOME or the platform default)."""
        return cls(config.data_dir() / DB_NAME)

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def schema_version(self) -> int:
        return int(self._conn.execute("PRAGMA user_version").fetchone()[0])

    def pragma(self, name: str) -> Any:
        return self._conn.execute(f"PRAGMA {name}").fetchone()[0]

    def _migrate(self) -> None:
        with self._lock:
            version = self.schema_version
            if version > SCHEMA_VERSION:
                raise StoreError(
                    f"The database {self.path} has schema version {version}, newer than this"
                    f" voice_app understands ({SCHEMA_VERSION}).",
                    fix="Upgrade voice_app (`scripts/setup.sh` after `git pull`).",
                )
            for target in range(version, SCHEMA_VERSION):
                with self.transaction():
                    for statement in _split_sql(MIGRATIONS[target]):
                        self._conn.execute(statement)
                    self._conn.execute(f"PRAGMA user_version = {target + 1}")

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One atomic unit: everything inside commits together or not at all."""
        with self._lock:
            try:
                self._conn.execute("BEGIN IMMEDIATE")
            except sqlite3.OperationalError as exc:
                raise StoreError(f"The database {self.path} is busy: {exc}.") from None
            try:
                yield self._conn
            except sqlite3.DatabaseError as exc:
                self._rollback()
                raise _map_write_error(exc, self.path) from exc
            except BaseException:
                self._rollback()
                raise
            try:
                self._conn.execute("COMMIT")
            except sqlite3.DatabaseError as exc:
                self._rollback()
                raise _map_write_error(exc, self.path) from exc

    def _rollback(self) -> None:
        """Roll back what is still open: after a full disk or an I/O error SQLite may have done it itself."""
        if self._conn.in_transaction:
            with contextlib.suppress(sqlite3.DatabaseError):  # the original error is the one to report
                self._conn.execute("ROLLBACK")

    def compact(self) -> None:
        """Rewrite the database without free pages and empty the WAL, so deleted text is gone from disk."""
        with self._lock:
            try:
                self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
                self._conn.execute("VACUUM")
                self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            except sqlite3.DatabaseError as exc:
                raise _map_write_error(exc, self.path) from exc

    def query(self, sql: str, params: Iterable[Any] = ()) -> list[sqlite3.Row]:
        with self._lock:
            try:
                return self._conn.execute(sql, tuple(params)).fetchall()
            except sqlite3.DatabaseError as exc:
                raise _map_write_error(exc, self.path) from exc

    # --- personas ------------------------------------------------------------------------

    def get_persona(self, name: str) -> Persona:
        rows = self.query("SELECT * FROM personas WHERE name = ?", (name,))
        if not rows:
            known = [r["name"] for r in self.query("SELECT name FROM personas ORDER BY name")]
            raise PersonaNotFoundError(
                f"No persona named {name!r}." + (f" Known personas: {', '.join(known)}." if known else ""),
            )
        return self._persona(rows[0])

    def find_persona(self, name: str) -> Persona | None:
        rows = self.query("SELECT * FROM personas WHERE name = ?", (name,))
        return self._persona(rows[0]) if rows else None

    def list_personas(self) -> list[dict[str, Any]]:
        """Each persona with its message count and last session start."""
        rows = self.query(
            """
            SELECT p.id, p.name, p.them_name, p.created_at,
                   (SELECT COUNT(*) FROM messages m WHERE m.persona_id = p.id) AS messages,
                   (SELECT MAX(s.started_at) FROM sessions s WHERE s.persona_id = p.id) AS last_session
            FROM personas p ORDER BY p.name
            """
        )
        out = []
        for r in rows:
            row = dict(r)
            row["them_name"] = self.dec(row["them_name"], f"personas.them_name:{row['id']}")
            out.append(row)
        return out

    def create_persona(
        self,
        conn: sqlite3.Connection,
        name: str,
        *,
        them_name: str,
        me_name: str = "",
        consent_at: str | None = None,
    ) -> int:
        """Insert a persona inside an open transaction; returns its id."""
        name = check_persona_name(name)
        stamp = now_iso()
        cur = conn.execute(
            "INSERT INTO personas (name, consent_at, created_at, updated_at) VALUES (?, ?, ?, ?)",
            (name, consent_at, stamp, stamp),
        )
        persona_id = int(cur.lastrowid or 0)
        conn.execute(
            "UPDATE personas SET them_name = ?, me_name = ?, card = ? WHERE id = ?",
            (
                self.enc(them_name, f"personas.them_name:{persona_id}"),
                self.enc(me_name, f"personas.me_name:{persona_id}"),
                self.enc("{}", f"personas.card:{persona_id}"),
                persona_id,
            ),
        )
        return persona_id

    def update_card(self, name: str, card: dict[str, Any]) -> None:
        persona = self.get_persona(name)
        with self.transaction() as conn:
            conn.execute(
                "UPDATE personas SET card = ?, updated_at = ? WHERE id = ?",
                (self.enc(json.dumps(card, ensure_ascii=False), f"personas.card:{persona.id}"), now_iso(), persona.id),
            )

    def delete_persona(self, name: str) -> None:
        persona = self.get_persona(name)
        with self.transaction() as conn:
            conn.execute("DELETE FROM personas WHERE id = ?", (persona.id,))

    def cached_style(self, persona_id: int) -> str | None:
        """The persona's cached style profile JSON, or None when it must be computed again."""
        rows = self.query("SELECT style FROM personas WHERE id = ?", (persona_id,))
        value = rows[0][0] if rows else None
        return self.dec(value, f"personas.style:{persona_id}") if value else None

    def save_style(self, persona_id: int, profile_json: str | None) -> None:
        """Cache the style profile (None clears it: the next use computes it again)."""
        value = None if profile_json is None else self.enc(profile_json, f"personas.style:{persona_id}")
        with self.transaction() as conn:
            conn.execute("UPDATE personas SET style = ? WHERE id = ?", (value, persona_id))

    def _persona(self, row: sqlite3.Row) -> Persona:
        pid = row["id"]
        return Persona(
            id=pid,
            name=row["name"],
            them_name=self.dec(row["them_name"], f"personas.them_name:{pid}"),
            me_name=self.dec(row["me_name"], f"personas.me_name:{pid}"),
            card=json.loads(self.dec(row["card"], f"personas.card:{pid}") or "{}"),
            consent_at=row["consent_at"],
            created_at=row["created_at"],
        )

    # --- imported messages -----------------------------------------------------------------

    def add_conversation(
        self,
        conn: sqlite3.Connection,
        persona_id: int,
        *,
        source_format: str,
        source_name: str,
        source_sha256: str,
        participants: list[str],
        rows: Iterable[tuple[str, str, bool, str, str, bool, str | None, str | None, str]],
    ) -> tuple[int, int]:
        """Store one import inside an open transaction; returns (conversation id, messages added).

        Each row is (ts, sender, from_them, kind, text, edited, reply_to, reactions_json, fingerprint);
        a message already stored for this persona (same fingerprint) is skipped.
        """
        source_key = self.keyed(source_sha256)
        existing = conn.execute(
            "SELECT id FROM conversations WHERE persona_id = ? AND source_sha256 = ?",
            (persona_id, source_key),
        ).fetchone()
        if existing:
            return int(existing[0]), 0
        cur = conn.execute(
            "INSERT INTO conversations (persona_id, source_format, source_name, source_sha256, imported_at)"
            " VALUES (?, ?, '', ?, ?)",
            (persona_id, source_format, source_key, now_iso()),
        )
        conversation_id = int(cur.lastrowid or 0)
        conn.execute(
            "UPDATE conversations SET source_name = ?, participants = ? WHERE id = ?",
            (
                self.enc(source_name, f"conversations.source_name:{conversation_id}"),
                self.enc(json.dumps(participants, ensure_ascii=False), f"conversations.participants:{conversation_id}"),
                conversation_id,
            ),
        )
        before = conn.total_changes
        conn.executemany(
            "INSERT OR IGNORE INTO messages (persona_id, conversation_id, ts, sender, from_them, kind, text,"
            " edited, reply_to, reactions, fingerprint) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (self._message_row(persona_id, conversation_id, row) for row in rows),
        )
        added = conn.total_changes - before
        conn.execute("UPDATE conversations SET messages_added = ? WHERE id = ?", (added, conversation_id))
        conn.execute("UPDATE personas SET updated_at = ?, style = NULL WHERE id = ?", (now_iso(), persona_id))
        return conversation_id, added

    def _message_row(self, persona_id: int, conversation_id: int, row: tuple[Any, ...]) -> tuple[Any, ...]:
        ts, sender, from_them, kind, text, edited, reply_to, reactions, fingerprint = row
        fp = self.keyed(fingerprint)
        at = f"{persona_id}:{fp}"
        return (
            persona_id,
            conversation_id,
            ts,
            self.enc(sender, f"messages.sender:{at}"),
            from_them,
            kind,
            self.enc(text, f"messages.text:{at}"),
            edited,
            self._enc_opt(reply_to, f"messages.reply_to:{at}"),
            self._enc_opt(reactions, f"messages.reactions:{at}"),
            fp,
        )

    def messages(self, persona_name: str) -> list[StoredMessage]:
        """All of a persona's imported messages in time order."""
        persona = self.get_persona(persona_name)
        rows = self.query(
            "SELECT id, ts, sender, from_them, kind, text, conversation_id, fingerprint FROM messages"
            " WHERE persona_id = ? ORDER BY ts, id",
            (persona.id,),
        )
        out = []
        for r in rows:
            at = f"{persona.id}:{r['fingerprint']}"
            sender, text = self.dec(r["sender"], f"messages.sender:{at}"), self.dec(r["text"], f"messages.text:{at}")
            out.append(StoredMessage(r["id"], r["ts"], sender, bool(r["from_them"]), r["kind"], text, r[6]))
        return out

    def persona_texts(self, persona_id: int) -> list[str]:
        """Every text of a persona (its messages, and what was said in its sessions), decrypted."""
        texts = [m.text for m in self._messages_of(persona_id)]
        for sid in self.session_ids(persona_id):
            for turn in self.turns(sid):
                texts += [turn["user_text"] or "", turn["reply_text"] or ""]
        return texts

    def other_personas_texts(self, persona_id: int) -> set[str]:
        rows = self.query("SELECT DISTINCT persona_id FROM messages WHERE persona_id != ?", (persona_id,))
        return {m.text for (other,) in rows for m in self._messages_of(int(other))}

    def _messages_of(self, persona_id: int) -> list[StoredMessage]:
        names = self.query("SELECT name FROM personas WHERE id = ?", (persona_id,))
        return self.messages(names[0][0]) if names else []

    def session_ids(self, persona_id: int) -> list[int]:
        return [int(r[0]) for r in self.query("SELECT id FROM sessions WHERE persona_id = ?", (persona_id,))]

    def audio_refs(self, session_id: int) -> list[str]:
        """The audio file references of a session's turns (relative to the data dir, unchecked)."""
        rows = self.query("SELECT user_audio, reply_audio FROM turns WHERE session_id = ?", (session_id,))
        return [ref for row in rows for ref in row if ref]

    def message_count(self, persona_name: str) -> int:
        persona = self.get_persona(persona_name)
        return int(self.query("SELECT COUNT(*) FROM messages WHERE persona_id = ?", (persona.id,))[0][0])

    # --- sessions and turns ------------------------------------------------------------------

    def start_session(self, persona_name: str, mode: str, backend: str | None, model: str | None) -> int:
        persona = self.get_persona(persona_name)
        with self.transaction() as conn:
            cur = conn.execute(
                "INSERT INTO sessions (persona_id, mode, started_at, backend, model) VALUES (?, ?, ?, ?, ?)",
                (persona.id, mode, now_iso(), backend, model),
            )
            return int(cur.lastrowid or 0)

    def end_session(self, session_id: int) -> None:
        with self.transaction() as conn:
            conn.execute("UPDATE sessions SET ended_at = ? WHERE id = ?", (now_iso(), session_id))

    def update_session_meta(self, session_id: int, **values: Any) -> None:
        """Merge keys into the session's JSON meta (nudges shown, closure stage, letter path...)."""
        with self.transaction() as conn:
            row = conn.execute("SELECT meta FROM sessions WHERE id = ?", (session_id,)).fetchone()
            meta = json.loads(row[0] or "{}") if row else {}
            meta.update(values)
            conn.execute(
                "UPDATE sessions SET meta = ? WHERE id = ?", (json.dumps(meta, ensure_ascii=False), session_id)
            )

    def session_meta(self, session_id: int) -> dict[str, Any]:
        rows = self.query("SELECT meta FROM sessions WHERE id = ?", (session_id,))
        return json.loads(rows[0][0] or "{}") if rows else {}

    def begin_turn(self, session_id: int, user_text: str, user_audio: str | None = None) -> int:
        """Phase one: the user's side, written as soon as their speech ends; status 'partial'."""
        with self.transaction() as conn:
            idx = conn.execute(
                "SELECT COALESCE(MAX(idx), -1) + 1 FROM turns WHERE session_id = ?", (session_id,)
            ).fetchone()[0]
            cur = conn.execute(
                "INSERT INTO turns (session_id, idx, started_at, user_text, user_audio, memories)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (
                    session_id,
                    idx,
                    now_iso(),
                    self.enc(user_text, f"turns.user_text:{session_id}:{idx}"),
                    user_audio,
                    self.enc("[]", f"turns.memories:{session_id}:{idx}"),
                ),
            )
            return int(cur.lastrowid or 0)

    def set_turn_audio(self, turn_id: int, user_audio: str) -> None:
        with self.transaction() as conn:
            conn.execute("UPDATE turns SET user_audio = ? WHERE id = ?", (user_audio, turn_id))

    def delete_session_rows(self, session_id: int) -> None:
        with self.transaction() as conn:
            conn.execute("DELETE FROM sessions WHERE id = ?", (session_id,))

    def _turn_at(self, turn_id: int) -> str:
        rows = self.query("SELECT session_id, idx FROM turns WHERE id = ?", (turn_id,))
        if not rows:
            raise StoreError(f"No turn with id {turn_id}.")
        return f"{rows[0][0]}:{rows[0][1]}"

    def complete_turn(
        self,
        turn_id: int,
        *,
        reply_text: str,
        reply_full: str | None = None,
        reply_audio: str | None = None,
        interrupted: bool = False,
        backend: str | None = None,
        model: str | None = None,
        timeline: dict[str, float] | None = None,
        memories: list[Any] | None = None,
        care: str | None = None,
    ) -> None:
        """Phase two: the reply as heard, its audio and timings; status 'complete'."""
        at = self._turn_at(turn_id)
        with self.transaction() as conn:
            conn.execute(
                "UPDATE turns SET status = 'complete', completed_at = ?, reply_text = ?, reply_full = ?,"
                " reply_audio = ?, interrupted = ?, backend = ?, model = ?, timeline = ?, memories = ?, care = ?"
                " WHERE id = ?",
                (
                    now_iso(),
                    self.enc(reply_text, f"turns.reply_text:{at}"),
                    self.enc(reply_full if reply_full is not None else reply_text, f"turns.reply_full:{at}"),
                    reply_audio,
                    int(interrupted),
                    backend,
                    model,
                    json.dumps(timeline or {}),
                    self.enc(json.dumps(memories or [], ensure_ascii=False), f"turns.memories:{at}"),
                    care,
                    turn_id,
                ),
            )

    def list_sessions(self, persona_name: str | None = None) -> list[SessionInfo]:
        where, params = "", ()
        if persona_name:
            where, params = "WHERE s.persona_id = ?", (self.get_persona(persona_name).id,)
        rows = self.query(
            f"""
            SELECT s.*, p.name AS persona,
                   (SELECT COUNT(*) FROM turns t WHERE t.session_id = s.id) AS turn_count,
                   (SELECT MAX(COALESCE(t.completed_at, t.started_at)) FROM turns t
                     WHERE t.session_id = s.id) AS last_turn
            FROM sessions s JOIN personas p ON p.id = s.persona_id {where}
            ORDER BY s.started_at DESC, s.id DESC
            """,
            params,
        )
        return [_session_info(r) for r in rows]

    def get_session(self, session_id: int) -> SessionInfo:
        for info in self.list_sessions():
            if info.id == session_id:
                return info
        raise SessionNotFoundError(f"No session with id {session_id}.")

    def turns(self, session_id: int) -> list[dict[str, Any]]:
        rows = self.query("SELECT * FROM turns WHERE session_id = ? ORDER BY idx", (session_id,))
        out = []
        for r in rows:
            turn = dict(r)
            at = f"{turn['session_id']}:{turn['idx']}"
            for key in ("user_text", "reply_text", "reply_full"):
                turn[key] = self.dec(turn[key], f"turns.{key}:{at}") if turn[key] is not None else None
            turn["timeline"] = json.loads(turn["timeline"] or "{}")
            turn["memories"] = json.loads(self.dec(turn["memories"], f"turns.memories:{at}") or "[]")
            out.append(turn)
        return out

    def history(self, session_id: int) -> list[tuple[str, str]]:
        """(user_text, reply_text) of the session's completed turns, oldest first."""
        rows = self.query(
            "SELECT idx, user_text, reply_text FROM turns WHERE session_id = ? AND status = 'complete' ORDER BY idx",
            (session_id,),
        )
        return [
            (
                self.dec(r[1], f"turns.user_text:{session_id}:{r[0]}"),
                self.dec(r[2], f"turns.reply_text:{session_id}:{r[0]}"),
            )
            for r in rows
        ]


# --- helpers ---------------------------------------------------------------------------------


def _prepare_file(path: Path) -> None:
    """Create the data dir (0700) and the database file (0600) before SQLite touches them."""
    try:
        private_dir(path.parent)  # an existing data dir left open to others (0755) is closed too
        fd = os.open(path, os.O_CREAT | os.O_RDWR, 0o600)
        os.close(fd)
        os.chmod(path, 0o600)
    except DataDirError:
        raise
    except OSError as exc:
        raise DataDirError(f"Cannot create the database at {path}: {exc.strerror}.") from None


def _restrict_sidecars(path: Path) -> None:
    for suffix in ("-wal", "-shm"):
        sidecar = path.with_name(path.name + suffix)
        if sidecar.exists():
            os.chmod(sidecar, 0o600)


def _split_sql(script: str) -> list[str]:
    """Split a migration into statements (our migrations hold no ';' inside literals)."""
    return [s.strip() for s in script.split(";") if s.strip() and not _only_comments(s)]


def _only_comments(statement: str) -> bool:
    return all(not line.strip() or line.strip().startswith("--") for line in statement.splitlines())


def _map_write_error(exc: sqlite3.DatabaseError, path: Path) -> Exception:
    """A typed error with a fix for a failed write; the caller chains the original (`from exc`)."""
    text = str(exc).lower()
    if "full" in text:
        return DiskFullError(f"The disk holding {path} is full; the last change was rolled back, nothing was lost.")
    if "readonly" in text or "read-only" in text:
        return DataDirError(
            f"{path} is read-only; the last change was rolled back.",
            fix="Make the data dir writable (or set VOICE_APP_HOME to a writable one) and try again.",
        )
    if "disk i/o" in text or "malformed" in text or "not a database" in text:
        return StoreError(f"Reading or writing {path} failed ({exc}); the last change was rolled back.")
    return StoreError(f"Writing to {path} failed: {exc}.")


def _session_info(row: sqlite3.Row) -> SessionInfo:
    start = datetime.fromisoformat(row["started_at"])
    end_text = row["ended_at"] or row["last_turn"]
    duration = (datetime.fromisoformat(end_text) - start).total_seconds() if end_text else 0.0
    return SessionInfo(
        id=row["id"],
        persona=row["persona"],
        mode=row["mode"],
        started_at=row["started_at"],
        ended_at=row["ended_at"],
        turns=row["turn_count"],
        duration_s=max(0.0, duration),
        backend=row["backend"],
        model=row["model"],
    )
