"""Chat-history import: many messenger export formats in, one normalized ``Conversation`` out.

from voice_app.chatlog import load, summarize
conv = load("WhatsApp Chat with Alex.zip")
print(summarize(conv))
"""

from __future__ import annotations

import os
import posixpath
import unicodedata
from collections import Counter
from collections.abc import Callable, Iterable
from typing import Any

# The module is imported before the ``detect`` function below is defined, so that the function (not the
# module) is what ``voice_app.chatlog.detect`` names.
from voice_app.chatlog import detect as _detect
from voice_app.chatlog.formats import Format, corrupt, fix_text, registry, supported_formats, unknown
from voice_app.chatlog.model import (
    CALL,
    DELETED,
    KINDS,
    MEDIA,
    SYSTEM,
    TEXT,
    Conversation,
    ImportWarning,
    Message,
    participants_of,
    sort_messages,
)
from voice_app.chatlog.options import Options
from voice_app.chatlog.source import Member, Source
from voice_app.core.errors import ImportFormatError, ParticipantNotFoundError

# Format id → what users are told it is, from every format module's `FORMATS`.
SUPPORTED_FORMATS: dict[str, str] = supported_formats()

__all__ = [
    "CALL",
    "DELETED",
    "KINDS",
    "MEDIA",
    "SUPPORTED_FORMATS",
    "SYSTEM",
    "TEXT",
    "Conversation",
    "Format",
    "ImportWarning",
    "Message",
    "detect",
    "load",
    "merge",
    "resolve_participant",
    "summarize",
]


def _check_format(fmt: str) -> str:
    f = fmt.strip().lower().replace("-", "_")
    if f not in SUPPORTED_FORMATS:
        raise unknown(f"{fmt!r} is not a supported format id", "Pass one of the ids listed below, or leave it out.")
    return f


def _choose(src: Source, fmt: str | None) -> tuple[str, list[Member]]:
    from voice_app.chatlog.encoding import binary_reason

    if not src.members:
        names = src.all_names()
        shown = ", ".join(names[:8]) + (" …" if len(names) > 8 else "")
        where = "zip archive" if src.kind == "zip" else "folder"
        if src.notes:
            detail = "; ".join(src.notes)
        elif names:
            detail = f"it holds: {shown}"
        else:
            detail = "it is empty"
        raise unknown(
            f"{src.display}: the {where} contains no chat history ({detail})",
            "Export the chat again, including the text of the conversation, or point at the chat's own folder.",
        )
    found: list[tuple[str, Member]] = []
    for m in src.members:
        f = _detect.sniff(m)
        if f is not None:
            found.append((f, m))
    if fmt is not None:
        found = [(f, m) for f, m in found if f == fmt] or ([(fmt, src.members[0])] if len(src.members) == 1 else [])
        if not found:
            raise unknown(f"{src.display}: no file in it looks like a {SUPPORTED_FORMATS[fmt]}")
        if len(src.members) == 1:
            m = src.members[0]
            reason = binary_reason(m.head())
            if reason:
                raise unknown(f"{m.display} {reason}")
    if not found:
        if len(src.members) == 1:
            m = src.members[0]
            reason = binary_reason(m.head())
            if reason:
                raise unknown(f"{m.display} {reason}")
            text = _detect.head_text(m) or ""
            if text.lstrip()[:1] in ("{", "[") and m.size <= len(m.head()):
                from voice_app.chatlog.source import load_json

                load_json(m)  # raises CorruptExportError with line/column/offset if the JSON is broken
            first = next((ln.strip() for ln in text.splitlines() if ln.strip()), "")
            raise unknown(
                f"{m.display}: not a recognized chat export (first line: {first[:80]!r})",
                "If it is a CSV or JSON Lines file, pass mapping= (or --map) naming the timestamp, sender"
                " and text columns.",
            )
        raise unknown(f"{src.display}: no file in it is a recognized chat export")
    # Pick the format and folder holding the most bytes, then all its pages in that folder.
    sizes: Counter[tuple[str, str]] = Counter()
    for f, m in found:
        folder = posixpath.dirname(m.name) if registry()[f].paged else m.name
        sizes[(f, folder)] += m.size
    (best_fmt, folder), _ = sizes.most_common(1)[0]
    if registry()[best_fmt].paged:
        members = [m for f, m in found if f == best_fmt and posixpath.dirname(m.name) == folder]
    else:
        members = [max((m for f, m in found if f == best_fmt), key=lambda m: m.size)]
    return best_fmt, members


def load(
    path: str | os.PathLike[str],
    *,
    format: str | None = None,
    mapping: dict[str, str] | None = None,
    progress: Callable[[int, int], Any] | None = None,
) -> Conversation:
    """Import a chat export (file, zip, or folder of paged exports) into a ``Conversation``.

    ``format`` forces a format id from ``SUPPORTED_FORMATS``; ``mapping`` names the columns/keys of a
    generic CSV/JSONL (``{"timestamp": "date", "sender": "from", "text": "body"}``; optional
    ``kind`` and ``timestamp_format``) and, for exports holding several chats (Telegram whole-account,
    SMS backups), ``{"chat": "Alex"}`` picks one. ``progress(done_bytes, total_bytes)`` is called as
    the file is read. Raises ``UnknownFormatError`` / ``CorruptExportError`` naming the file.
    """
    fmt = _check_format(format) if format else None
    with Source(path) as src:
        fmt, members = _choose(src, fmt)
        opts = Options(mapping=dict(mapping or {}), progress=progress, total=sum(m.size for m in members))
        try:
            conv = registry()[fmt].parse(members, opts)
        except ImportFormatError:
            raise
        except MemoryError:
            raise corrupt(
                f"{members[0].display}: there is not enough memory to read this export"
                f" ({sum(m.size for m in members) / 1e6:.0f} MB); nothing was stored",
                "Close other programs, or split the export (many apps export a date range) and import each part.",
            ) from None
        except KeyboardInterrupt:
            raise
        except Exception as e:  # a damaged file must never crash the caller with a raw traceback
            raise corrupt(
                f"{members[0].display}: unexpected content for {SUPPORTED_FORMATS[fmt]}"
                f" ({type(e).__name__}: {str(e)[:200]})"
            ) from e
    conv.format = fmt
    conv.source = str(path)
    conv.warnings.extend(ImportWarning(note) for note in src.notes)
    if len(members) == 1:
        for w in conv.warnings:
            w.file = None  # the whole conversation comes from that one file
    sort_messages(conv.messages)
    if not conv.participants:
        conv.participants = participants_of(conv.messages)
    if not conv.messages:
        conv.warnings.append(ImportWarning("the export contains no messages"))
    if progress:
        progress(opts.total, opts.total)
    return conv


def detect(path: str | os.PathLike[str]) -> str:
    """The format id of an export (raises ``UnknownFormatError`` when nothing recognizes it)."""
    with Source(path) as src:
        fmt, _ = _choose(src, None)
    return fmt


def merge(conversations: Iterable[Conversation]) -> Conversation:
    """Combine exports of one chat (e.g. overlapping ones), keeping one copy of each message."""
    convs = list(conversations)
    if not convs:
        raise ValueError("merge() needs at least one conversation")
    seen: set[str] = set()
    messages: list[Message] = []
    warnings: list[ImportWarning] = []
    for c in convs:
        for m in c.messages:
            fp = m.fingerprint()
            if fp not in seen:
                seen.add(fp)
                messages.append(m)
        for w in c.warnings:
            warnings.append(ImportWarning(w.message, w.line, w.file or c.source or None))
    sort_messages(messages)
    formats = {c.format for c in convs}
    participants: dict[str, None] = {}
    for c in convs:
        for p in c.participants:
            participants.setdefault(p, None)
    for p in participants_of(messages):
        participants.setdefault(p, None)
    return Conversation(
        formats.pop() if len(formats) == 1 else "mixed",
        list(participants),
        messages,
        warnings,
        ";".join(c.source for c in convs),
        convs[0].title,
        {k: v for c in convs for k, v in c.aliases.items()},
    )


def summarize(conv: Conversation) -> dict[str, Any]:
    """The ``voice-app inspect --json`` object for a conversation."""
    counts: Counter[str] = Counter(m.sender for m in conv.messages if m.sender and m.kind != SYSTEM)
    names = list(dict.fromkeys([*conv.participants, *counts]))
    order = {n: i for i, n in enumerate(names)}
    ranked = sorted(names, key=lambda n: (-counts.get(n, 0), order[n]))
    participants = [{"name": n, "messages": counts.get(n, 0)} for n in ranked]
    kinds = Counter(m.kind for m in conv.messages)
    return {
        "format": conv.format,
        "participants": participants,
        "messages": len(conv.messages),
        "first": conv.messages[0].timestamp.isoformat() if conv.messages else None,
        "last": conv.messages[-1].timestamp.isoformat() if conv.messages else None,
        "kinds": {k: kinds[k] for k in KINDS if kinds.get(k)},
        "warnings": [str(w) for w in conv.warnings],
    }


def _norm_name(s: str) -> str:
    return " ".join(unicodedata.normalize("NFKC", s).casefold().split())


def resolve_participant(conv: Conversation, name: str) -> str:
    """The participant called ``name`` (case- and space-insensitive; a unique prefix also matches)."""
    names = list(dict.fromkeys([*conv.participants, *participants_of(conv.messages)]))
    want = _norm_name(name)
    for alias, target in conv.aliases.items():  # an account id the export also carries (wxid_…)
        if _norm_name(alias) == want and target in names:
            return target
    exact = [n for n in names if _norm_name(n) == want]
    if len(exact) == 1:
        return exact[0]
    nospace = [n for n in names if _norm_name(n).replace(" ", "") == want.replace(" ", "")]
    if len(nospace) == 1:
        return nospace[0]
    prefix = [n for n in names if want and _norm_name(n).startswith(want)]
    if len(prefix) == 1:
        return prefix[0]
    found = ", ".join(repr(n) for n in names) or "nobody"
    why = "matches several participants" if len(exact) + len(prefix) > 1 else "is not a participant"
    raise ParticipantNotFoundError(
        f"{name!r} {why} of {conv.source or 'this conversation'}; participants found: {found}",
        f"Pass one of: {found}.",
    )


# Keep the helper importable for callers that format errors themselves.
supported_formats_text = fix_text
