"""The rows the store hands out: personas, messages, sessions; and the rule for persona names."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from voice_app.core.errors import InvalidPersonaNameError

PERSONA_NAME_MAX = 64


def check_persona_name(name: str) -> str:
    """The name as a handle, or InvalidPersonaNameError. Names are never used as paths (see persona_dir)."""
    cleaned = name.strip()
    if not cleaned:
        raise InvalidPersonaNameError("A persona needs a name.")
    if len(cleaned) > PERSONA_NAME_MAX:
        raise InvalidPersonaNameError(
            f"The persona name is {len(cleaned)} characters long; at most {PERSONA_NAME_MAX}."
        )
    if any(unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp") for ch in cleaned):
        raise InvalidPersonaNameError("The persona name holds control or invisible characters.")
    if cleaned.startswith("-"):
        raise InvalidPersonaNameError(f"The persona name {cleaned!r} starts with '-', which reads as an option.")
    if cleaned in (".", "..") or cleaned[0] in "/~\\" or cleaned.startswith("../"):
        raise InvalidPersonaNameError(f"The persona name {cleaned!r} looks like a path.")
    return cleaned


def now_iso() -> str:
    """Current UTC time, ISO 8601 with offset, second precision."""
    return datetime.now(UTC).isoformat(timespec="seconds")


@dataclass
class Persona:
    """A row of `personas`, with its card decoded."""

    id: int
    name: str
    them_name: str
    me_name: str
    card: dict[str, Any]
    consent_at: str | None
    created_at: str


@dataclass
class StoredMessage:
    """One imported message as the persona code reads it."""

    id: int
    ts: str
    sender: str
    from_them: bool
    kind: str
    text: str
    conversation_id: int


@dataclass
class SessionInfo:
    """A session with its turn count and duration."""

    id: int
    persona: str
    mode: str
    started_at: str
    ended_at: str | None
    turns: int
    duration_s: float
    backend: str | None
    model: str | None


@dataclass(frozen=True)
class Correction:
    """A reply the user marked "they wouldn't say that", with what they would have said (may be empty)."""

    id: int
    created_at: str
    user_line: str
    reply: str
    better: str = ""
