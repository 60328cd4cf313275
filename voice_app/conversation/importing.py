"""Store an export under a persona: parse, resolve who is who, write everything in one transaction."""

from __future__ import annotations

import contextlib
import hashlib
import json
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from voice_app import chatlog
from voice_app.chatlog.model import Conversation, Message
from voice_app.conversation.persona_data import memory_vectors
from voice_app.core import config
from voice_app.core.errors import ConsentRequiredError, DataDirError
from voice_app.core.files import write_private
from voice_app.core.records import check_persona_name
from voice_app.persona.memory import MemoryVectors
from voice_app.storage.messages import MessageRow
from voice_app.storage.store import Store

ProgressFn = Callable[[int, int], None]


@dataclass
class ImportResult:
    """What one import did."""

    persona: str
    created: bool
    format: str
    them: str
    me: str
    parsed: int
    added: int
    warnings: list[str]


def source_digest(path: Path) -> str:
    """sha256 of a file, or of a folder's files (paged exports), to recognise a repeated import."""
    digest = hashlib.sha256()
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    for file in files:
        digest.update(str(file.relative_to(path) if path.is_dir() else file.name).encode())
        with file.open("rb") as handle:
            while chunk := handle.read(1 << 20):
                digest.update(chunk)
    return digest.hexdigest()


def message_rows(messages: list[Message], them: str) -> Iterator[MessageRow]:
    """Rows for Store.add_conversation; repeated identical lines in one minute stay distinct."""
    seen: Counter[str] = Counter()
    for m in messages:
        base = m.fingerprint()
        occurrence = seen[base]
        seen[base] += 1
        yield (
            m.timestamp.isoformat(),
            m.sender,
            m.sender == them,
            m.kind,
            m.text,
            m.edited,
            m.reply_to,
            json.dumps([list(r) for r in m.reactions], ensure_ascii=False) if m.reactions else None,
            f"{base}.{occurrence}" if occurrence else base,
        )


def guess_me(conv: Conversation, them: str) -> str:
    others = [p for p in conv.participants if p != them]
    return others[0] if len(others) == 1 else ""


def import_conversation(
    store: Store,
    conv: Conversation,
    *,
    persona: str,
    them: str,
    me: str | None = None,
    source: Path,
    consent_at: str | None = None,
    vectors_cache: Path | None = None,
) -> ImportResult:
    """Store `conv` under `persona` (created when new) in one transaction; a repeat adds nothing.

    Creating a persona needs `consent_at` (see voice_app.care.consent); extending one does not.
    `vectors_cache`: a file keeping the exchanges' embeddings between data dirs, for shipped
    fictional histories only (never a user's messages: they stay in the data dir, encrypted if set).
    """
    them_name = chatlog.resolve_participant(conv, them)
    me_name = chatlog.resolve_participant(conv, me) if me else guess_me(conv, them_name)
    digest = source_digest(source)
    with store.transaction() as conn:
        existing = store.find_persona(persona)
        if existing is None:
            if not consent_at:
                raise ConsentRequiredError(
                    f"Creating the persona '{persona}' needs your acknowledgement.", fix="Re-run with --consent."
                )
            persona_id = store.create_persona(
                conn, persona, them_name=them_name, me_name=me_name, consent_at=consent_at
            )
        else:
            persona_id = existing.id
        _, added = store.add_conversation(
            conn,
            persona_id,
            source_format=conv.format,
            source_name=source.name,
            source_sha256=digest,
            participants=conv.participants,
            rows=message_rows(conv.messages, them_name),
        )
    if added or existing is None:
        # Memories found by meaning: the new exchanges are embedded now, not on the first turn.
        vectors = memory_vectors(store, persona, shipped=_read_vectors(vectors_cache))
        if vectors_cache is not None and vectors is not None:
            _write_vectors(vectors_cache, vectors)
    return ImportResult(
        persona=persona,
        created=existing is None,
        format=conv.format,
        them=them_name,
        me=me_name,
        parsed=len(conv.messages),
        added=added,
        warnings=[str(w) for w in conv.warnings],
    )


def import_path(
    store: Store,
    path: Path,
    *,
    persona: str,
    them: str,
    me: str | None = None,
    fmt: str | None = None,
    mapping: dict[str, str] | None = None,
    progress: ProgressFn | None = None,
    consent_at: str | None = None,
    vectors_cache: Path | None = None,
) -> ImportResult:
    """Parse the export at `path` and store it (see import_conversation)."""
    if store.find_persona(persona) is None:
        persona = check_persona_name(persona)  # before parsing: a bad name fails at once
    conv = chatlog.load(path, format=fmt, mapping=mapping, progress=progress)
    return import_conversation(
        store, conv, persona=persona, them=them, me=me, source=path, consent_at=consent_at, vectors_cache=vectors_cache
    )


def _read_vectors(path: Path | None) -> MemoryVectors | None:
    if path is None:
        return None
    try:
        return MemoryVectors.from_json(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, KeyError, TypeError):
        return None  # missing or unreadable: computed again (~2 s for a demo)


def _write_vectors(path: Path, vectors: MemoryVectors) -> None:
    with contextlib.suppress(DataDirError):  # a read-only or full cache: computed again next time
        write_private(path, vectors.to_json().encode("utf-8"))


# --- the shipped fictional demos -----------------------------------------------------------------

DEMO_PERSONA = "demo"
DEMO_THEM = "Alex"
DEMO_ME = "Sam"
DEMO_ZH_PERSONA = "demo-zh"


@dataclass(frozen=True)
class Demo:
    """A shipped fictional history (no real person) and who is who in it."""

    file: str
    them: str
    me: str


DEMOS = {
    DEMO_PERSONA: Demo("whatsapp_chat.txt", DEMO_THEM, DEMO_ME),  # English: Alex and Sam, WhatsApp
    DEMO_ZH_PERSONA: Demo("wechat_demo_zh.csv", "阿杰", "小林"),  # Chinese: 阿杰 and 小林, WeChat (MemoTrace CSV)
}


def demo_history(persona: str = DEMO_PERSONA) -> Path:
    return Path(__file__).resolve().parents[1] / "data" / "demo" / DEMOS[persona].file


def ensure_demo(store: Store) -> None:
    """The demo personas always exist: created from the shipped fictional histories on first use."""
    for persona, demo in DEMOS.items():
        if store.find_persona(persona) is not None:
            continue
        import_path(
            store,
            demo_history(persona),
            persona=persona,
            them=demo.them,
            me=demo.me,
            consent_at="fictional demo: no real person",
            # Every new data dir starts with the demos: their embeddings (~2 s each) are computed once.
            vectors_cache=config.cache_dir() / "demo" / f"{persona}-{source_digest(demo_history(persona))[:16]}.json",
        )
