"""Care and privacy: crisis exit, honesty, consent, usage limits, forget; checked before the LLM each turn."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from voice_app.care.crisis import CONTEXT_LINES, CrisisVerdict, assess, crisis_reply, is_stop_word, semantic_layer
from voice_app.care.honesty import honest_answer, is_reality_check, session_reminder

__all__ = [
    "CONTEXT_LINES",
    "CareCheck",
    "CareReply",
    "CrisisVerdict",
    "assess",
    "check_line",
    "check_turn",
    "is_stop_word",
    "session_reminder",
]


@dataclass(frozen=True)
class CareReply:
    """An out-of-character answer that replaces the persona's reply for one turn."""

    kind: str  # "crisis" | "honesty"
    text: str
    by: str | None = None  # "pattern" | "model": which layer flagged it
    score: float | None = None  # the semantic layer's score of the line


@dataclass(frozen=True)
class CareCheck:
    """What the care checks make of one line, before any reply is written."""

    text: str
    care: str | None  # "crisis" | "honesty" | None
    by: str | None  # "pattern" | "model" | None
    score: float | None  # the semantic layer's crisis score (None: blank line, or the layer could not run)

    def public(self) -> dict[str, object]:
        """The `voice-app care check --json` contract."""
        score = None if self.score is None else round(self.score, 4)
        return {"text": self.text, "care": self.care, "by": self.by, "score": score}


def warm_up() -> None:
    """Load the crisis check's semantic layer now (it is fitted at setup; patterns need nothing)."""
    semantic_layer()


def check_line(text: str, recent: Sequence[str] = ()) -> CareCheck:
    """Crisis language first (the line with the user's `recent` lines), then a sincere 'is this real?'."""
    if not text.strip():
        return CareCheck(text, None, None, None)
    verdict = assess(text, recent)
    if verdict.flagged:
        return CareCheck(text, "crisis", verdict.by, verdict.score)
    if is_reality_check(text):
        return CareCheck(text, "honesty", "pattern", verdict.score)
    return CareCheck(text, None, None, verdict.score)


def check_turn(user_line: str, *, them: str, country: str, recent: Sequence[str] = ()) -> CareReply | None:
    """Run before the LLM: the out-of-character answer when a care check steps in, else None."""
    found = check_line(user_line, recent)
    if found.care == "crisis":
        return CareReply("crisis", crisis_reply(user_line, country, them), found.by, found.score)
    if found.care == "honesty":
        return CareReply("honesty", honest_answer(user_line, them), found.by, found.score)
    return None
