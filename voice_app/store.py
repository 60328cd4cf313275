"""The SQLite store: one database per data dir, versioned schema, and the queries on it."""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import threading
import unicodedata
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from voice_app import config
from voice_app.care.crypto import Cipher, PassphraseRequiredError, is_encrypted_text
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
        """off | on | converting-on | converting-off."""
        return self.meta("encryption", "off") or "off"

    def enc(self, text: str) -> str:
        return self.cipher.encrypt_text(text) if self.cipher else text

    def dec(self, value: str | None) -> str:
        if value is None:
            return ""
        if is_encrypted_text(value):
            if self.cipher is None:
                raise PassphraseRequiredError(f"The data in {self.path.parent} is encrypted.")
            return self.cipher.decrypt_text(value)
        return value

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
        return [dict(r) for r in rows]

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
            "INSERT INTO personas (name, them_name, me_name, consent_at, created_at, updated_at)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            (name, them_name, me_name, consent_at, stamp, stamp),
        )
        return int(cur.lastrowid or 0)

    def update_card(self, name: str, card: dict[str, Any]) -> None:
        persona = self.get_persona(name)
        with self.transaction() as conn:
            conn.execute(
                "UPDATE personas SET card = ?, updated_at = ? WHERE id = ?",
                (self.enc(json.dumps(card, ensure_ascii=False)), now_iso(), persona.id),
            )

    def delete_persona(self, name: str) -> None:
        persona = self.get_persona(name)
        with self.transaction() as conn:
            conn.execute("DELETE FROM personas WHERE id = ?", (persona.id,))

    def _persona(self, row: sqlite3.Row) -> Persona:
        return Persona(
            id=row["id"],
            name=row["name"],
            them_name=row["them_name"],
            me_name=row["me_name"],
            card=json.loads(self.dec(row["card"]) or "{}"),
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
        existing = conn.execute(
            "SELECT id FROM conversations WHERE persona_id = ? AND source_sha256 = ?",
            (persona_id, source_sha256),
        ).fetchone()
        if existing:
            return int(existing[0]), 0
        cur = conn.execute(
            "INSERT INTO conversations (persona_id, source_format, source_name, source_sha256,"
            " participants, imported_at) VALUES (?, ?, ?, ?, ?, ?)",
            (persona_id, source_format, source_name, source_sha256, json.dumps(participants), now_iso()),
        )
        conversation_id = int(cur.lastrowid or 0)
        before = conn.total_changes
        conn.executemany(
            "INSERT OR IGNORE INTO messages (persona_id, conversation_id, ts, sender, from_them, kind, text,"
            " edited, reply_to, reactions, fingerprint) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            ((persona_id, conversation_id, *row[:4], self.enc(row[4]), *row[5:]) for row in rows),
        )
        added = conn.total_changes - before
        conn.execute("UPDATE conversations SET messages_added = ? WHERE id = ?", (added, conversation_id))
        conn.execute("UPDATE personas SET updated_at = ?, style = NULL WHERE id = ?", (now_iso(), persona_id))
        return conversation_id, added

    def messages(self, persona_name: str) -> list[StoredMessage]:
        """All of a persona's imported messages in time order."""
        persona = self.get_persona(persona_name)
        rows = self.query(
            "SELECT id, ts, sender, from_them, kind, text, conversation_id FROM messages"
            " WHERE persona_id = ? ORDER BY ts, id",
            (persona.id,),
        )
        return [
            StoredMessage(r["id"], r["ts"], r["sender"], bool(r["from_them"]), r["kind"], self.dec(r["text"]), r[6])
            for r in rows
        ]

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
                "INSERT INTO turns (session_id, idx, started_at, user_text, user_audio) VALUES (?, ?, ?, ?, ?)",
                (session_id, idx, now_iso(), self.enc(user_text), user_audio),
            )
            return int(cur.lastrowid or 0)

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
        with self.transaction() as conn:
            conn.execute(
                "UPDATE turns SET status = 'complete', completed_at = ?, reply_text = ?, reply_full = ?,"
                " reply_audio = ?, interrupted = ?, backend = ?, model = ?, timeline = ?, memories = ?, care = ?"
                " WHERE id = ?",
                (
                    now_iso(),
                    self.enc(reply_text),
                    self.enc(reply_full if reply_full is not None else reply_text),
                    reply_audio,
                    int(interrupted),
                    backend,
                    model,
                    json.dumps(timeline or {}),
                    self.enc(json.dumps(memories or [], ensure_ascii=False)),
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
            for key in ("user_text", "reply_text", "reply_full"):
                turn[key] = self.dec(turn[key]) if turn[key] is not None else None
            turn["timeline"] = json.loads(turn["timeline"] or "{}")
            turn["memories"] = json.loads(self.dec(turn["memories"]) or "[]")
            out.append(turn)
        return out

    def history(self, session_id: int) -> list[tuple[str, str]]:
        """(user_text, reply_text) of the session's completed turns, oldest first."""
        rows = self.query(
            "SELECT user_text, reply_text FROM turns WHERE session_id = ? AND status = 'complete' ORDER BY idx",
            (session_id,),
        )
        return [(self.dec(r[0]), self.dec(r[1])) for r in rows]


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
