"""Corrections: replies the user marked "they wouldn't say that", per persona, listed and undone."""

from __future__ import annotations

from voice_app.core.errors import CorrectionNotFoundError
from voice_app.core.records import Correction, now_iso
from voice_app.storage.schema import CORRECTION_ENC
from voice_app.storage.sessions import SessionStore


class CorrectionStore(SessionStore):
    """The `corrections` table."""

    def add_correction(self, persona: str, user_line: str, reply: str, better: str = "") -> Correction:
        persona_id = self.get_persona(persona).id
        stamp = now_iso()
        with self.transaction() as conn:
            cur = conn.execute(
                "INSERT INTO corrections (persona_id, created_at, user_line, reply, better) VALUES (?, ?, '', '', '')",
                (persona_id, stamp),
            )
            rid = int(cur.lastrowid or 0)
            values = [
                self.enc(v, f"corrections.{c}:{rid}")
                for c, v in zip(CORRECTION_ENC, (user_line, reply, better), strict=True)
            ]
            conn.execute("UPDATE corrections SET user_line = ?, reply = ?, better = ? WHERE id = ?", (*values, rid))
        return Correction(rid, stamp, user_line, reply, better)

    def persona_texts(self, persona_id: int) -> list[str]:
        """Every text of a persona, its corrections included (what `forget` must find gone)."""
        names = self.query("SELECT name FROM personas WHERE id = ?", (persona_id,))
        extra = [t for c in self.corrections(names[0][0]) for t in (c.user_line, c.reply, c.better)] if names else []
        return [*super().persona_texts(persona_id), *extra]

    def corrections(self, persona: str) -> list[Correction]:
        """The persona's corrections, oldest first."""
        persona_id = self.get_persona(persona).id
        rows = self.query(
            "SELECT id, created_at, user_line, reply, better FROM corrections WHERE persona_id = ? ORDER BY id",
            (persona_id,),
        )
        return [
            Correction(
                r["id"],
                r["created_at"],
                *(self.dec(r[c], f"corrections.{c}:{r['id']}") for c in CORRECTION_ENC),
            )
            for r in rows
        ]

    def remove_correction(self, persona: str, correction_id: int) -> Correction:
        """Undo one correction (its row is deleted); a wrong id is a typed error."""
        found = next((c for c in self.corrections(persona) if c.id == correction_id), None)
        if found is None:
            raise CorrectionNotFoundError(
                f"{persona!r} has no correction {correction_id}.",
                fix=f"List them with `voice-app persona corrections {persona}`.",
            )
        with self.transaction() as conn:
            conn.execute("DELETE FROM corrections WHERE id = ?", (correction_id,))
        return found
