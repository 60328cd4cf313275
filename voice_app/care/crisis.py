"""Crisis language detection (en, zh): pattern lists first, then the semantic layer; the out-of-character answer."""

from __future__ import annotations

import logging
import re
import tomllib
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from voice_app.care import semantic
from voice_app.core.errors import VoiceAppError

log = logging.getLogger(__name__)

DATA = Path(__file__).resolve().parent.parent / "data" / "care"

_QUOTES = str.maketrans({"\u2019": "'", "\u2018": "'", "\u201c": '"', "\u201d": '"'})


@dataclass(frozen=True)
class CrisisMatch:
    """Why a line was flagged: the pattern and the words it matched."""

    language: str
    pattern: str
    matched: str


@dataclass(frozen=True)
class PatternSet:
    """Compiled patterns and idioms for one language."""

    patterns: tuple[re.Pattern[str], ...]
    idioms: tuple[re.Pattern[str], ...]


@cache
def pattern_sets(path: Path = DATA / "crisis_patterns.toml") -> dict[str, PatternSet]:
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    return {
        lang: PatternSet(
            tuple(re.compile(p, re.IGNORECASE) for p in section.get("patterns", [])),
            tuple(re.compile(p, re.IGNORECASE) for p in section.get("idioms", [])),
        )
        for lang, section in data.items()
    }


def normalise(text: str) -> str:
    return " ".join(unicodedata.normalize("NFKC", text).translate(_QUOTES).lower().split())


# Letters written as digits or symbols to get past filters ("k!ll mys3lf", "su1c1de"): read back
# only inside a word that has letters of its own, so "50 meters" or "2am" stay as they are.
_LEET = str.maketrans({"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t", "!": "i", "@": "a", "$": "s"})
_LEET_WORD = re.compile(r"(?<![\w!@$])(?=[\w!@$]*[a-z][\w!@$]*[a-z])[a-z]*[0-9!@$][\w!@$]*[a-z0-9][\w!@$]*")


def deobfuscate(text: str) -> str:
    """The line with leetspeak words read back as letters (the same line when it has none)."""
    return _LEET_WORD.sub(lambda word: word.group(0).translate(_LEET), normalise(text))


def detect_crisis(text: str) -> CrisisMatch | None:
    """The first crisis pattern the line matches once figures of speech are removed, else None."""
    line = normalise(text)
    for lang, patterns in pattern_sets().items():
        cleaned = line
        for idiom in patterns.idioms:
            cleaned = idiom.sub(" ", cleaned)
        for pattern in patterns.patterns:
            found = pattern.search(cleaned)
            if found:
                return CrisisMatch(lang, pattern.pattern, found.group(0))
    return None


@dataclass(frozen=True)
class CrisisVerdict:
    """The crisis check of one line: flagged or not, by which layer, and the semantic score."""

    flagged: bool
    by: str | None  # "pattern" | "model" | None
    score: float | None  # the semantic layer's probability (None when it could not run)
    match: CrisisMatch | None = None

    def public(self) -> dict[str, object]:
        return {"by": self.by, "score": None if self.score is None else round(self.score, 4)}


CONTEXT_LINES = 2  # earlier user lines read with the new one (a crisis said across short messages)


def windows(text: str, context: Sequence[str]) -> list[str]:
    """The line alone, then with the last one, two… earlier lines before it (oldest first); each
    also with its leetspeak read back when it has any."""
    recent = [c for c in context if c.strip()][-CONTEXT_LINES:]
    spans = [text] + [" ".join([*recent[-k:], text]) for k in range(1, len(recent) + 1)]
    as_written = {normalise(span) for span in spans}
    return spans + [plain for plain in map(deobfuscate, spans) if plain not in as_written]


def semantic_layer() -> semantic.SemanticCrisis | None:
    """The semantic layer, or None (logged once) when its model cannot load: the patterns still run."""
    try:
        return semantic.shared()
    except (VoiceAppError, OSError, ValueError) as exc:
        _warn_once(str(exc))
        return None


@cache
def _warn_once(reason: str) -> None:
    log.warning("crisis check without its semantic layer (patterns only): %s", reason)


def assess(text: str, context: Sequence[str] = (), *, use_model: bool = True) -> CrisisVerdict:
    """Patterns on the line and its context windows, then the semantic layer on the same windows.

    Either layer flags. `context` holds the user's previous lines of this exchange (voice partials
    or short typed messages), newest last.
    """
    spans = windows(text, context)
    match = next((m for m in map(detect_crisis, spans) if m is not None), None)
    layer = semantic_layer() if use_model else None
    score = None
    if layer is not None:
        score = max(layer.scores(spans))
    if match is not None:
        return CrisisVerdict(True, "pattern", score, match)
    if layer is not None and score is not None and score >= layer.threshold:
        return CrisisVerdict(True, "model", score)
    return CrisisVerdict(False, None, score)


@cache
def resources(country: str) -> tuple[str, list[str]]:
    """(region name, lines) of crisis resources for an ISO country code; DEFAULT when unknown."""
    data = tomllib.loads((DATA / "resources.toml").read_text(encoding="utf-8"))
    entry = data.get(country.upper(), data["DEFAULT"])
    return entry["name"], list(entry["lines"])


def _is_cjk(text: str) -> bool:
    return any("\u4e00" <= ch <= "\u9fff" for ch in text)


def crisis_reply(user_line: str, country: str, them: str) -> str:
    """What the app says, out of character, instead of the persona's reply."""
    _, lines = resources(country)
    if _is_cjk(user_line):
        head = (
            f"（暂停模拟：这不是{them}在说话。）你刚才说的话让我很担心你的安全。你不必一个人扛着。"
            "现在就可以联系能帮助你的人："
        )
        tail = "如果你愿意，我们可以先结束这次对话。你想现在结束吗？"
    else:
        head = (
            f"(Stepping out of the simulation: this is not {them} talking.) What you just said makes me worried"
            " about your safety. You don't have to carry this alone. You can reach someone right now:"
        )
        tail = "If you'd like, we can end this session now. Would you like to stop here?"
    body = " ".join(lines) if lines else ""
    return f"{head} {body} {tail}".replace("  ", " ").strip()


# Words that end the reply at once when said or typed during it.
STOP_WORDS = {
    "stop",
    "enough",
    "stop it",
    "please stop",
    "that's enough",
    "停",
    "停下",
    "别说了",
    "別說了",
    "够了",
    "夠了",
}


def is_stop_word(text: str) -> bool:
    cleaned = normalise(text).strip(" .!。！,，")
    return cleaned in STOP_WORDS
