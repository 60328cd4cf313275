"""`voice-app forget`: remove a persona (or everything) and prove no trace of it is left on disk."""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path

from voice_app.core.errors import UnsafePathError
from voice_app.storage.store import Store

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
    errors: list[str] = field(default_factory=list)  # what could not be removed or checked

    @property
    def clean(self) -> bool:
        return not self.leftovers and not self.errors


def legacy_persona_dir(store: Store, name: str) -> Path | None:
    """Where versions before persona ids kept a persona's letters (`personas/<name>`), if that is safe."""
    parent = store.root / "personas"
    if not name or name in (".", "..") or "/" in name or "\\" in name or len(name.encode()) > 200:
        return None
    try:
        candidate = store.inside(Path("personas") / name)
    except UnsafePathError:
        return None
    return candidate if candidate.parent == parent.resolve() else None


def _probes(store: Store, persona_id: int) -> list[str]:
    """Distinctive texts of this persona that no other persona holds: if any is still on disk, we failed.

    Compared as plaintext (the store decrypts when encryption is on), so the scan looks for what a
    reader of the disk would find, not for ciphertext that no reader could match.
    """
    texts = {t for t in store.persona_texts(persona_id) if len(t) >= PROBE_MIN_CHARS}
    texts -= store.other_personas_texts(persona_id)
    return sorted(texts, key=len, reverse=True)[:MAX_PROBES]


def forget(store: Store, names: list[str]) -> ForgetReport:
    """Delete the personas' rows, audio, indexes and letters, compact the database, then scan for traces.

    Every path comes from `store.inside()`: a stored reference that would leave the data dir is
    refused (reported, never followed), and the report is clean only when nothing went wrong.
    """
    report = ForgetReport(personas=list(names))
    probes: list[str] = []
    doomed: list[Path] = []
    for name in names:
        persona = store.get_persona(name)
        probes += _probes(store, persona.id)
        report.messages += store.message_count(persona.name)
        session_ids = store.session_ids(persona.id)
        report.sessions += len(session_ids)
        for sid in session_ids:
            doomed += _safe(store, [*store.audio_refs(sid), f"audio/session-{sid}"], report)
        doomed.append(store.persona_dir(persona.id))
        legacy = legacy_persona_dir(store, persona.name)
        if legacy is not None:
            doomed.append(legacy)
        store.delete_persona(persona.name)  # cascades to everything else
    doomed.append(store.inside("cache"))  # evaluated prompt prefixes: rebuilt on the next session
    for path in doomed:
        _remove(path, report)
    store.compact()
    report.probes = len(probes)
    try:
        report.leftovers = scan(store.root, probes)
    except OSError as exc:
        report.errors.append(f"the trace scan failed: {exc}")
    return report


def _safe(store: Store, refs: list[str], report: ForgetReport) -> list[Path]:
    paths = []
    for ref in refs:
        try:
            paths.append(store.inside(ref))
        except UnsafePathError as exc:
            report.errors.append(exc.message)
    return paths


def _remove(path: Path, report: ForgetReport) -> None:
    try:
        if path.is_dir() and not path.is_symlink():
            report.files += [str(p) for p in path.rglob("*") if p.is_file()]
            shutil.rmtree(path)
        elif path.exists() or path.is_symlink():
            report.files.append(str(path))
            path.unlink()
    except OSError as exc:
        report.errors.append(f"could not remove {path}: {exc.strerror or exc}")


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
