"""The SQLite store: creation, migration from an empty file, pragmas, file modes, two-phase turns."""

from __future__ import annotations

import sqlite3
import stat
from pathlib import Path

import pytest

from voice_app.core.errors import PersonaNotFoundError, StoreError
from voice_app.storage import db as db_mod
from voice_app.storage import store as store_mod
from voice_app.storage.store import Store


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_creates_schema_with_pragmas_and_0600(tmp_path: Path) -> None:
    db = tmp_path / "data" / "voice_app.sqlite3"
    with Store(db) as s:
        assert s.schema_version == store_mod.SCHEMA_VERSION
        assert s.pragma("journal_mode") == "wal"
        assert s.pragma("foreign_keys") == 1
        assert s.pragma("secure_delete") == 1
        tables = {r[0] for r in s.query("SELECT name FROM sqlite_master WHERE type = 'table'")}
        assert {"personas", "conversations", "messages", "sessions", "turns", "meta"} <= tables
        with s.transaction() as conn:
            s.create_persona(conn, "x", them_name="X")
    assert _mode(db) == 0o600
    assert _mode(db.parent) == 0o700
    for sidecar in db.parent.glob("*.sqlite3-*"):
        assert _mode(sidecar) == 0o600, sidecar


def test_migrates_an_empty_file(tmp_path: Path) -> None:
    db = tmp_path / "voice_app.sqlite3"
    db.touch(mode=0o644)
    with Store(db) as s:
        assert s.schema_version == store_mod.SCHEMA_VERSION
    assert _mode(db) == 0o600


def test_migration_steps_run_in_order_and_only_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    db = tmp_path / "voice_app.sqlite3"
    Store(db).close()
    extra = "ALTER TABLE personas ADD COLUMN colour TEXT; CREATE TABLE later (x INTEGER)"
    monkeypatch.setattr(db_mod, "MIGRATIONS", [*db_mod.MIGRATIONS, extra])
    monkeypatch.setattr(db_mod, "SCHEMA_VERSION", len(db_mod.MIGRATIONS))
    with Store(db) as s:
        assert s.schema_version == len(db_mod.MIGRATIONS)
        columns = {r[1] for r in s.query("PRAGMA table_info(personas)")}
        assert "colour" in columns
    Store(db).close()  # a second open must not re-run the step (it would fail on the duplicate column)


def test_newer_database_is_refused(tmp_path: Path) -> None:
    db = tmp_path / "voice_app.sqlite3"
    conn = sqlite3.connect(db)
    conn.execute("PRAGMA user_version = 999")
    conn.close()
    with pytest.raises(StoreError) as exc:
        Store(db)
    assert "newer" in exc.value.message


def test_not_a_database_is_a_typed_error(tmp_path: Path) -> None:
    db = tmp_path / "voice_app.sqlite3"
    db.write_bytes(b"this is not sqlite at all" * 100)
    with pytest.raises(StoreError):
        Store(db)


def _persona_with_messages(s: Store) -> int:
    with s.transaction() as conn:
        pid = s.create_persona(conn, "alex", them_name="Alex", me_name="Sam")
        rows = [
            ("2024-01-01T10:00:00", "Sam", False, "text", "hi", False, None, None, "f1"),
            ("2024-01-01T10:01:00", "Alex", True, "text", "hey you", False, None, None, "f2"),
        ]
        s.add_conversation(
            conn,
            pid,
            source_format="whatsapp",
            source_name="a.txt",
            source_sha256="abc",
            participants=["Sam", "Alex"],
            rows=rows,
        )
    return pid


def test_messages_are_deduplicated_across_imports(tmp_path: Path) -> None:
    with Store(tmp_path / "db.sqlite3") as s:
        pid = _persona_with_messages(s)
        with s.transaction() as conn:
            _, again = s.add_conversation(
                conn,
                pid,
                source_format="whatsapp",
                source_name="a.txt",
                source_sha256="abc",
                participants=[],
                rows=[],
            )
            _, overlap = s.add_conversation(
                conn,
                pid,
                source_format="telegram",
                source_name="b.json",
                source_sha256="def",
                participants=[],
                rows=[
                    ("2024-01-01T10:01:00", "Alex", True, "text", "hey you", False, None, None, "f2"),
                    ("2024-01-01T10:02:00", "Alex", True, "text", "new", False, None, None, "f3"),
                ],
            )
        assert (again, overlap) == (0, 1)
        assert [m.text for m in s.messages("alex")] == ["hi", "hey you", "new"]


def test_failed_transaction_changes_nothing(tmp_path: Path) -> None:
    with Store(tmp_path / "db.sqlite3") as s:
        with pytest.raises(RuntimeError), s.transaction() as conn:
            s.create_persona(conn, "ghost", them_name="G")
            raise RuntimeError("import failed half-way")
        assert s.find_persona("ghost") is None


def test_two_phase_turns_and_cascade_delete(tmp_path: Path) -> None:
    with Store(tmp_path / "db.sqlite3") as s:
        _persona_with_messages(s)
        sid = s.start_session("alex", "voice", "embedded", "qwen")
        t1 = s.begin_turn(sid, "I miss you", "audio/1-user.flac")
        s.complete_turn(t1, reply_text="yeah", timeline={"first_token": 0.3}, memories=[{"id": 2}])
        t2 = s.begin_turn(sid, "why did you leave")  # the process "dies" here: no completion
        turns = s.turns(sid)
        assert [(t["idx"], t["status"]) for t in turns] == [(0, "complete"), (1, "partial")]
        assert turns[0]["timeline"] == {"first_token": 0.3} and turns[0]["memories"] == [{"id": 2}]
        assert t2 == turns[1]["id"]
        assert s.history(sid) == [("I miss you", "yeah")]
        info = s.list_sessions("alex")[0]
        assert (info.id, info.turns, info.persona) == (sid, 2, "alex")
        s.delete_persona("alex")
        for table in ("messages", "conversations", "sessions", "turns"):
            assert s.query(f"SELECT COUNT(*) FROM {table}")[0][0] == 0
        with pytest.raises(PersonaNotFoundError):
            s.get_persona("alex")
