"""The normalized chat model every importer produces."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime

TEXT = "text"
MEDIA = "media"
SYSTEM = "system"
CALL = "call"
DELETED = "deleted"
KINDS = (TEXT, MEDIA, SYSTEM, CALL, DELETED)


@dataclass(slots=True)
class Message:
    """One message.

    ``timestamp`` is timezone-naive, in the local time of the export (formats that store epoch
    times are converted to this machine's local time). ``sender`` is ``""`` for system lines that
    nobody wrote. ``reactions`` is a tuple of ``(sender, emoji)`` pairs; ``reply_to`` is the text
    (or, if it is not in the export, the id) of the message this one answers.
    """

    timestamp: datetime
    sender: str
    text: str
    kind: str = TEXT
    edited: bool = False
    reply_to: str | None = None
    reactions: tuple[tuple[str, str], ...] = ()

    def fingerprint(self) -> str:
        """A stable hash of timestamp, sender, text and kind, used to drop duplicates."""
        key = "\x1f".join((self.timestamp.isoformat(), self.sender, self.text, self.kind))
        return hashlib.blake2b(key.encode("utf-8", "surrogatepass"), digest_size=12).hexdigest()


@dataclass(slots=True)
class ImportWarning:
    """Something in the export that was skipped or repaired; ``line`` is 1-based when known."""

    message: str
    line: int | None = None
    file: str | None = None

    def __str__(self) -> str:
        """``line 42: could not parse …`` (``line 3 of messages2.html: …`` for multi-file exports)."""
        name = self.file.replace("\\", "/").rsplit("/", 1)[-1] if self.file else None
        where = name or ""
        if self.line is not None:
            where = f"line {self.line}" + (f" of {name}" if name else "")
        return f"{where}: {self.message}" if where else self.message


@dataclass(slots=True)
class Conversation:
    """A whole chat: its messages in time order plus what the importer had to say about it."""

    format: str
    participants: list[str]
    messages: list[Message]
    warnings: list[ImportWarning] = field(default_factory=list)
    source: str = ""
    title: str | None = None
    aliases: dict[str, str] = field(default_factory=dict)  # another name of a participant (an account id) → the name

    def __len__(self) -> int:
        return len(self.messages)


def participants_of(messages: list[Message]) -> list[str]:
    """Senders of non-system messages in order of first appearance."""
    seen: dict[str, None] = {}
    for m in messages:
        if m.sender and m.kind != SYSTEM and m.sender not in seen:
            seen[m.sender] = None
    return list(seen)


def sort_messages(messages: list[Message]) -> None:
    """Sort in place by time (stable, so same-minute messages keep the export's order)."""
    prev = None
    for m in messages:
        if prev is not None and m.timestamp < prev:
            messages.sort(key=_ts)
            return
        prev = m.timestamp


def _ts(m: Message) -> datetime:
    return m.timestamp
