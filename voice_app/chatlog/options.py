"""Options passed from ``load`` to the importers, and helpers they share."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from voice_app.chatlog.model import ImportWarning, Message

_EPOCH = datetime(1970, 1, 1)
# What malformed values in a JSON/CSV/XML record raise; such records are skipped with a warning.
BAD_DATA = (TypeError, ValueError, AttributeError, KeyError, IndexError, OverflowError, OSError, RecursionError)


@dataclass
class Options:
    mapping: dict[str, str] = field(default_factory=dict)
    progress: Callable[[int, int], Any] | None = None
    total: int = 0
    done: int = 0

    def progress_fn(self, done: int, total: int) -> None:
        if self.progress:
            self.progress(min(done, self.total), self.total)

    def at(self, offset: int) -> Callable[[int, int], None] | None:
        """A progress callback for a member starting ``offset`` bytes into the whole input."""
        if not self.progress:
            return None
        return lambda done, _total: self.progress_fn(offset + done, self.total)


_CLEAN = re.compile("[\u200b\u200e\u200f\u202a-\u202e\u2066-\u2069\ufeff]")


def clean(s: Any) -> str:
    """A string field from a JSON/CSV export: invisible marks dropped, NBSPs to spaces, NFC."""
    if s is None:
        return ""
    if not isinstance(s, str):
        s = str(s)
    if not s.isascii():
        s = _CLEAN.sub("", s)
        s = s.replace("\u202f", " ").replace("\u00a0", " ")
        s = unicodedata.normalize("NFC", s)
    return s


def fix_mojibake(s: str) -> str:
    """Repair UTF-8 that was decoded as Latin-1 (Facebook/Instagram downloads do this everywhere)."""
    if not s or s.isascii():
        return s
    try:
        return s.encode("latin-1").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return s


def from_epoch(value: Any, ms: bool = False) -> datetime:
    """Local naive time of an epoch timestamp (seconds or milliseconds)."""
    v = float(value)
    if ms:
        v /= 1000.0
    try:
        return datetime.fromtimestamp(v)
    except (OverflowError, OSError, ValueError):
        # Outside the platform's localtime range: fall back to UTC arithmetic (may raise OverflowError).
        return _EPOCH + timedelta(seconds=v)


_ISO_FRACTION = re.compile(r"(\.\d{6})\d+")


def parse_iso(value: str, keep_wall_time: bool = True) -> datetime:
    """An ISO-8601 timestamp as naive local wall time (the offset is dropped, not applied)."""
    s = value.strip().replace(" ", "T", 1) if "T" not in value else value.strip()
    if s.endswith("Z"):
        s = s[:-1] + "+00:00"
    s = _ISO_FRACTION.sub(r"\1", s)
    dt = datetime.fromisoformat(s)
    if dt.tzinfo is not None:
        dt = dt.replace(tzinfo=None) if keep_wall_time else dt.astimezone().replace(tzinfo=None)
    return dt


def warn(warnings: list[ImportWarning], message: str, line: int | None = None, file: str | None = None) -> None:
    if len(warnings) < 10000:
        warnings.append(ImportWarning(message, line, file))
    elif len(warnings) == 10000:
        warnings.append(ImportWarning("more than 10000 warnings; the rest are not listed", None, file))


def warn_skipped(warnings: list[ImportWarning], index: int, error: Exception, file: str | None) -> None:
    """A JSON message (0-based `index`) whose structure could not be read: skipped, and said so."""
    warn(warnings, f"message #{index + 1}: unexpected structure ({type(error).__name__}: {error}); skipped", file=file)


def pick_chat(
    chats: dict[str, list[Message]], wanted: str | None, what: str, warnings: list[ImportWarning], display: str
) -> tuple[str, list[Message]]:
    """Choose one chat of a multi-chat export: ``wanted`` by name, else the one with most messages."""
    from voice_app.chatlog.formats import unknown

    if not chats:
        return "", []
    if wanted:
        key = " ".join(wanted.casefold().split())
        for name, msgs in chats.items():
            if " ".join(name.casefold().split()) == key:
                return name, msgs
        raise unknown(
            f"{display}: no {what} named {wanted!r}; found: " + ", ".join(sorted(chats)[:30]),
            'Pass mapping={"chat": NAME} with one of the names found.',
        )
    name = max(chats, key=lambda n: len(chats[n]))
    if len(chats) > 1:
        others = sorted((n for n in chats if n != name), key=lambda n: -len(chats[n]))
        warnings.append(
            ImportWarning(
                f"the export holds {len(chats)} {what}s; imported {name!r} (the largest)."
                f" Others: {', '.join(others[:10])}{' …' if len(others) > 10 else ''}."
                ' Pass mapping={"chat": NAME} to pick one.'
            )
        )
    return name, chats[name]
