"""`voice-app forget`: remove a persona (or everything) and prove no trace of it is left on disk."""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path

from voice_app import config
from voice_app.store import Store

PROBE_MIN_CHARS = 12  # shorter texts ("ok", "haha") are not evidence of anything
MAX_PROBES = 200


@dataclass
class ForgetReport:
    """What was removed and what the scan of the data dir found."""

    personas: list[str]
    messages: int = 0
    sessions: int = 0
    files: list[str] = field(default_factory=list)
    probes: int = 0
    leftovers: list[str] = field(default_factory=list)  # "file: text" for any probe still found

    @property
    def clean(self) -> bool:
        return not self.leftovers


def persona_dir(name: str) -> Path:
    """Per-persona files (retrieval index, letters): one folder, removed whole by forget."""
    return config.data_dir() / "personas" / name


def _probes(store: Store, persona_id: int) -> list[str]:
    """Distinctive texts of this persona that no other persona holds: if any is still on disk, we failed."""
    rows = store.query(
        "SELECT DISTINCT text FROM messages WHERE persona_id = ? AND length(text) >= ?"
        " AND text NOT IN (SELECT text FROM messages WHERE persona_id != ?)"
        " UNION SELECT DISTINCT user_text FROM turns JOIN sessions ON sessions.id = turns.session_id"
        " WHERE sessions.persona_id = ? AND length(user_text) >= ?"
        " UNION SELECT DISTINCT reply_text FROM turns JOIN sessions ON sessions.id = turns.session_id"
        " WHERE sessions.persona_id = ? AND length(reply_text) >= ?",
        (persona_id, PROBE_MIN_CHARS, persona_id, persona_id, PROBE_MIN_CHARS, persona_id, PROBE_MIN_CHARS),
    )
    texts = sorted({r[0] for r in rows}, key=len, reverse=True)
    return texts[:MAX_PROBES]


def forget(store: Store, names: list[str]) -> ForgetReport:
    """Delete the personas' rows, audio, indexes and letters, compact the database, then scan for traces."""
    report = ForgetReport(personas=list(names))
    probes: list[str] = []
    audio: list[Path] = []
    for name in names:
        persona = store.get_persona(name)
        probes += _probes(store, persona.id)
        report.messages += store.query("SELECT COUNT(*) FROM messages WHERE persona_id = ?", (persona.id,))[0][0]
        session_ids = [r[0] for r in store.query("SELECT id FROM sessions WHERE persona_id = ?", (persona.id,))]
        report.sessions += len(session_ids)
        for sid in session_ids:
            for row in store.query("SELECT user_audio, reply_audio FROM turns WHERE session_id = ?", (sid,)):
                audio += [config.data_dir() / ref for ref in row if ref]
            audio.append(config.data_dir() / "audio" / f"session-{sid}")
        with store.transaction() as conn:
            conn.execute("DELETE FROM personas WHERE id = ?", (persona.id,))  # cascades to everything else
        audio.append(persona_dir(name))
    audio.append(config.data_dir() / "cache")  # evaluated prompt prefixes: rebuilt on the next session
    for path in audio:
        if path.is_dir():
            report.files += [str(p) for p in path.rglob("*") if p.is_file()]
            shutil.rmtree(path, ignore_errors=True)
        elif path.exists():
            report.files.append(str(path))
            path.unlink()
    store.compact()
    report.probes = len(probes)
    report.leftovers = scan(config.data_dir(), probes)
    return report


def scan(root: Path, probes: list[str]) -> list[str]:
    """Every file under `root` that still contains one of the probe texts (UTF-8 or UTF-16)."""
    if not probes or not root.exists():
        return []
    encoded = [(text, text.encode("utf-8"), text.encode("utf-16-le")) for text in probes]
    found = []
    for path in root.rglob("*"):
        if not path.is_file():
            continue
        data = path.read_bytes()
        for text, utf8, utf16 in encoded:
            if utf8 in data or utf16 in data:
                found.append(f"{path}: {text[:40]!r}")
                break
    return found
