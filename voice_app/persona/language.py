"""Which language a conversation was written in, for choosing the speech recognizer."""

from __future__ import annotations

from collections.abc import Sequence

from voice_app.persona import text as tx

# Words nearly every English chat line of a few words contains one of (none common in Spanish,
# French, German, Italian or Portuguese: no "a", "no", "me", "on", "in", "do").
_ENGLISH = frozenset(
    [
        "i",
        "you",
        "my",
        "we",
        "us",
        "it",
        "is",
        "was",
        "are",
        "be",
        "the",
        "to",
        "of",
        "and",
        "for",
        "that",
        "this",
        "just",
        "not",
        "yes",
        "did",
        "what",
        "how",
        "why",
        "when",
        "have",
        "had",
        "can",
        "will",
        "don't",
        "i'm",
        "it's",
        "love",
        "miss",
        "sorry",
    ]
)
SAMPLE = 3000  # the latest messages are enough
ENGLISH_SHARE = 0.6  # of the Latin-script lines of three words or more
OTHER_SCRIPT_MAX = 0.02  # lines in another script (Chinese, Cyrillic…) that still leave it English
CHINESE_SHARE = 0.2


def conversation_language(texts: Sequence[str]) -> str:
    """ "en" when the messages are English, "zh" when much is Chinese, "" when unsure or another."""
    lines = [t for t in texts[-SAMPLE:] if t and t.strip()]
    if not lines:
        return ""
    chinese = sum(1 for t in lines if tx.is_cjk(t)) / len(lines)
    if chinese >= CHINESE_SHARE:
        return "zh"
    other = sum(1 for t in lines if tx.dominant_script(t) not in (None, "latin")) / len(lines)
    worded = [t for t in lines if len(t.split()) >= 3]
    if other > OTHER_SCRIPT_MAX or len(worded) < 20:
        return ""
    english = sum(1 for t in worded if _ENGLISH.intersection(tx.tokens(t, bigrams=False))) / len(worded)
    return "en" if english >= ENGLISH_SHARE else ""
