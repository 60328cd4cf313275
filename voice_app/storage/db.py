"""The database connection: transactions, typed write errors, meta, encryption state, paths inside the data dir."""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Self

from voice_app.core import config
from voice_app.core.errors import DataDirError, DiskFullError, StoreError, UnsafePathError
from voice_app.core.files import private_dir
from voice_app.storage.crypto import (
    LEGACY_TEXT_PREFIX,
    TEXT_PREFIX,
    Cipher,
    LegacyCipher,
    PassphraseRequiredError,
    TamperedDataError,
    read_plain,
    store_plain,
)
from voice_app.storage.schema import DB_NAME, MIGRATIONS, SCHEMA_VERSION, split_sql


class Database:
    """One SQLite connection guarded by a lock (the TUI uses workers), and the cipher when unlocked."""

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

    # --- encryption at rest (voice_app.storage.encryption converts; the store reads and writes through it) ---

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
        return self.cipher.encrypt_text(text, where) if self.cipher else store_plain(text)

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
        return read_plain(value)

    def keyed(self, fingerprint: str) -> str:
        """A duplicate-detection fingerprint as stored: a keyed hash when encryption is on."""
        return self.cipher.keyed_hash(fingerprint) if self.cipher else fingerprint

    def _enc_opt(self, value: str | None, where: str) -> str | None:
        return None if value is None else self.enc(value, where)

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
    def open_default(cls) -> Self:
        """The store in the current data dir ($VOICE_APP_HOME or the platform default)."""
        return cls(config.data_dir() / DB_NAME)

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def __enter__(self) -> Self:
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
                    for statement in split_sql(MIGRATIONS[target]):
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
