"""Small shared types: a retrieved memory, the record of a turn, and the events a turn yields."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Memory:
    """A real past exchange a reply drew on: what the user wrote, what the ex answered."""

    id: int
    ts: str
    you: str
    them: str
    score: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "ts": self.ts, "you": self.you, "them": self.them, "score": self.score}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Memory:
        return cls(
            int(data.get("id", 0)),
            str(data.get("ts", "")),
            str(data.get("you", "")),
            str(data.get("them", "")),
            float(data.get("score", 0.0)),
        )


@dataclass
class TurnRecord:
    """What one turn did, text or voice: what was said and heard, care, memories, timings, audio."""

    turn_id: int | None  # None when nothing was said (no transcript, or a stop word)
    user_text: str  # the typed line or the final transcript
    reply: str  # what was shown or heard (after a barge-in: the heard part)
    reply_full: str = ""  # what the model generated
    interrupted: bool = False
    care: str | None = None  # "crisis" | "honesty" when the app stepped out of character
    memories: list[Memory] = field(default_factory=list)
    timeline: dict[str, float] = field(default_factory=dict)  # event -> seconds since the origin
    clauses: list[dict[str, Any]] = field(default_factory=list)  # spoken pieces and how much was heard
    user_audio: str | None = None  # relative to the data dir
    reply_audio: str | None = None
    stt: dict[str, float] = field(default_factory=dict)
    error: BaseException | None = None

    @property
    def transcript(self) -> str:
        return self.user_text

    @property
    def cancelled(self) -> bool:
        return self.interrupted

    @property
    def ttft_s(self) -> float:
        """Seconds from the origin (the line typed, or the end of speech) to the first reply text."""
        return float(self.timeline.get("first_token", self.timeline.get("last_token", 0.0)))

    @property
    def total_s(self) -> float:
        return float(self.timeline.get("last_token", self.ttft_s))

    def public(self) -> dict[str, Any]:
        """The JSON of `talk --input-wav --json` (one object per turn)."""
        return {
            "turn": self.turn_id,
            "transcript": self.user_text,
            "reply": self.reply,
            "reply_full": self.reply_full,
            "interrupted": self.interrupted,
            "care": self.care,
            "timeline": self.timeline,
            "clauses": self.clauses,
            "user_audio": self.user_audio,
            "reply_audio": self.reply_audio,
        }


# --- the events a turn yields, in the order they usually come -------------------------------------


@dataclass(frozen=True)
class UserText:
    """The user's line: typed, or the final transcript of what they said."""

    text: str


@dataclass(frozen=True)
class CareStep:
    """The app stepped out of character for this turn (a crisis or a sincere 'is this real?')."""

    kind: str
    text: str
    replaced: bool = False  # True: the model's reply was stopped by the reply check and replaced


@dataclass(frozen=True)
class MemoriesUsed:
    """The real past exchanges this reply draws on."""

    memories: tuple[Memory, ...]


@dataclass(frozen=True)
class ReplyStarted:
    """The model's first words arrived (they are shown once the reply check passes them)."""


@dataclass(frozen=True)
class ReplyPiece:
    """Reply text that passed every check: shown as it comes."""

    text: str


@dataclass(frozen=True)
class SpokenClause:
    """A clause handed to the voice (voice turns)."""

    index: int
    text: str


@dataclass(frozen=True)
class AudioStarted:
    """The first reply sample reached the speaker (voice turns)."""


@dataclass(frozen=True)
class TurnDone:
    """The turn is over and stored; the last event."""

    record: TurnRecord


TurnEvent = UserText | CareStep | MemoriesUsed | ReplyStarted | ReplyPiece | SpokenClause | AudioStarted | TurnDone
