"""Sessions and their turns, written in two phases (the user's side, then the reply as heard)."""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime
from typing import Any

from voice_app.core.errors import SessionNotFoundError, StoreError
from voice_app.core.records import SessionInfo, StoredMessage, now_iso
from voice_app.core.types import Memory
from voice_app.storage.messages import MessageStore


class SessionStore(MessageStore):
    """The `sessions` and `turns` tables."""

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
                    self.enc(
                        json.dumps([_plain(m) for m in memories or []], ensure_ascii=False), f"turns.memories:{at}"
                    ),
                    care,
                    turn_id,
                ),
            )

    def list_sessions(self, persona_name: str | None = None) -> list[SessionInfo]:
        where, params = "", tuple[int, ...]()
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
        return [session_info(r) for r in rows]

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


def _plain(memory: Memory | dict[str, Any]) -> dict[str, Any]:
    """A memory as stored (JSON)."""
    return memory.to_dict() if isinstance(memory, Memory) else memory


def session_info(row: sqlite3.Row) -> SessionInfo:
    """A `sessions` row joined with its turn count and last turn time."""
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
