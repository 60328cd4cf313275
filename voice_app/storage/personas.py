"""Personas: created, found, listed, their card and cached style profile."""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from voice_app.core.errors import PersonaNotFoundError
from voice_app.core.records import Persona, check_persona_name, now_iso
from voice_app.storage.db import Database


class PersonaStore(Database):
    """The `personas` table."""

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

    def memory_vectors(self, persona_id: int) -> str | None:
        """The persona's stored exchange embeddings (JSON), or None when none were computed."""
        rows = self.query("SELECT memory_vectors FROM personas WHERE id = ?", (persona_id,))
        value = rows[0][0] if rows else None
        return self.dec(value, f"personas.memory_vectors:{persona_id}") if value else None

    def save_memory_vectors(self, persona_id: int, payload: str | None) -> None:
        value = None if payload is None else self.enc(payload, f"personas.memory_vectors:{persona_id}")
        with self.transaction() as conn:
            conn.execute("UPDATE personas SET memory_vectors = ? WHERE id = ?", (value, persona_id))

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
