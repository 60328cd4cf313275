"""Imported messages and the conversations (export files) they came from."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable
from typing import Any

from voice_app.core.records import StoredMessage, now_iso
from voice_app.storage.personas import PersonaStore

# (ts, sender, from_them, kind, text, edited, reply_to, reactions_json, fingerprint)
MessageRow = tuple[str, str, bool, str, str, bool, str | None, str | None, str]


class MessageStore(PersonaStore):
    """The `conversations` and `messages` tables."""

    def add_conversation(
        self,
        conn: sqlite3.Connection,
        persona_id: int,
        *,
        source_format: str,
        source_name: str,
        source_sha256: str,
        participants: list[str],
        rows: Iterable[MessageRow],
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

    def messages(self, persona_name: str, *, latest: int | None = None) -> list[StoredMessage]:
        """A persona's imported messages in time order: all, or only the `latest` ones."""
        persona = self.get_persona(persona_name)
        select = "SELECT id, ts, sender, from_them, kind, text, conversation_id, fingerprint FROM messages"
        if latest is None:
            rows = self.query(f"{select} WHERE persona_id = ? ORDER BY ts, id", (persona.id,))
        else:
            newest = self.query(
                f"{select} WHERE persona_id = ? ORDER BY ts DESC, id DESC LIMIT ?", (persona.id, latest)
            )
            rows = list(reversed(newest))
        out = []
        for r in rows:
            at = f"{persona.id}:{r['fingerprint']}"
            sender, text = self.dec(r["sender"], f"messages.sender:{at}"), self.dec(r["text"], f"messages.text:{at}")
            out.append(StoredMessage(r["id"], r["ts"], sender, bool(r["from_them"]), r["kind"], text, r[6]))
        return out

    def message_count(self, persona_name: str) -> int:
        persona = self.get_persona(persona_name)
        return int(self.query("SELECT COUNT(*) FROM messages WHERE persona_id = ?", (persona.id,))[0][0])
