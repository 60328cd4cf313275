"""The store: one SQLite database per data dir; every query of the app goes through it.

The parts build on each other: `Database` (connection, transactions, encryption state, paths),
`PersonaStore`, `MessageStore`, `SessionStore`, `AudioStore`, and `Store`, which adds the in-place conversion of
every encrypted column (used by `voice_app.storage.encryption`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from voice_app.core.records import Persona, SessionInfo, StoredMessage, check_persona_name, now_iso
from voice_app.storage.audio import AudioStore
from voice_app.storage.schema import CORRECTION_ENC, DB_NAME, MESSAGE_ENC, PERSONA_ENC, SCHEMA_VERSION, TURN_ENC

__all__ = [
    "DB_NAME",
    "SCHEMA_VERSION",
    "Persona",
    "SessionInfo",
    "Store",
    "StoredMessage",
    "check_persona_name",
    "now_iso",
]


class Store(AudioStore):
    """The app's database."""

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
            for row in conn.execute(f"SELECT id, {', '.join(PERSONA_ENC)} FROM personas").fetchall():
                pid = row[0]
                values = [
                    conv(row[i + 1], f"personas.{c}:{pid}", f"personas.{c}:{pid}") for i, c in enumerate(PERSONA_ENC)
                ]
                assignments = ", ".join(f"{c} = ?" for c in PERSONA_ENC)
                conn.execute(f"UPDATE personas SET {assignments} WHERE id = ?", (*values, pid))
            for row in conn.execute(f"SELECT id, {', '.join(CORRECTION_ENC)} FROM corrections").fetchall():
                rid = row[0]
                values = [
                    conv(row[i + 1], f"corrections.{c}:{rid}", f"corrections.{c}:{rid}")
                    for i, c in enumerate(CORRECTION_ENC)
                ]
                assignments = ", ".join(f"{c} = ?" for c in CORRECTION_ENC)
                conn.execute(f"UPDATE corrections SET {assignments} WHERE id = ?", (*values, rid))
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
