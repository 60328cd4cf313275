"""Care and privacy: crisis exit, honesty, consent, usage limits, forget; checked before the LLM each turn."""

from __future__ import annotations

from dataclasses import dataclass

from voice_app.care.crisis import crisis_reply, detect_crisis, is_stop_word
from voice_app.care.honesty import honest_answer, is_reality_check, session_reminder

__all__ = ["CareReply", "check_turn", "is_stop_word", "session_reminder"]


@dataclass(frozen=True)
class CareReply:
    """An out-of-character answer that replaces the persona's reply for one turn."""

    kind: str  # "crisis" | "honesty"
    text: str


def check_turn(user_line: str, *, them: str, country: str) -> CareReply | None:
    """Run before the LLM: crisis language first, then a sincere 'is this real?' question."""
    if detect_crisis(user_line):
        return CareReply("crisis", crisis_reply(user_line, country, them))
    if is_reality_check(user_line):
        return CareReply("honesty", honest_answer(user_line, them))
    return None
