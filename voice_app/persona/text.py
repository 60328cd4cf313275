"""Text helpers shared by the persona code: CJK-aware tokens, emoji, scripts, bursts and exchanges."""

from __future__ import annotations

import itertools
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

# Han ideographs and Japanese kana: written without spaces, so tokens are characters (and bigrams).
CJK_RANGES = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_CJK_RE = re.compile(f"[{CJK_RANGES}]")
_TOKEN_RE = re.compile(rf"[{CJK_RANGES}]+|[^\W{CJK_RANGES}_]+(?:['’][^\W{CJK_RANGES}_]+)*", re.UNICODE)

_EMOJI_BASE = "\u2600-\u27bf\u2b00-\u2bff\u2934\u2935\u3030\u303d\u3297\u3299\U0001f000-\U0001faff"
_EMOJI_MOD = "\ufe0f\U0001f3fb-\U0001f3ff"
EMOJI_RE = re.compile(
    rf"[\U0001f1e6-\U0001f1ff]{{2}}|[{_EMOJI_BASE}][{_EMOJI_MOD}]*(?:\u200d[{_EMOJI_BASE}][{_EMOJI_MOD}]*)*"
)
EMOTICON_RE = re.compile(
    r"(?<![\w:/])(?:[:;=][-'^o]?[)(\]\[dDpP/|*3oO]+|xD+|XD+|<3+|\^[_.-]?\^|T[_.]T|;_;|o_O|O_o|-_-|>_<|:'\()(?![\w/])"
)

LAUGHTER: list[tuple[str, re.Pattern[str]]] = [
    ("haha", re.compile(r"\b(?:[bmw]?a?(?:h+a+){2,}h*|ah+a+h*|hah|(?:he){2,}h?|(?:hi){2,}h?)\b", re.IGNORECASE)),
    ("lol", re.compile(r"\b(?:lo+l+|lmf?a+o+|rofl|lul)\b", re.IGNORECASE)),
    ("xD", re.compile(r"(?<!\w)x+D+(?!\w)")),
    ("jaja", re.compile(r"\b(?:ja){2,}j?\b|\b(?:je){2,}\b|\bk{3,}\b", re.IGNORECASE)),
    ("哈哈", re.compile(r"[哈呵嘿嘻]{2,}")),
    ("www", re.compile(r"(?<![\w.])[wｗ]{2,}(?![\w.])|草")),
    ("ㅋㅋ", re.compile(r"[ㅋㅎ]{2,}")),
]

STOPWORDS = frozenset(
    [
        "a",
        "an",
        "the",
        "and",
        "or",
        "but",
        "if",
        "of",
        "to",
        "in",
        "on",
        "at",
        "for",
        "with",
        "is",
        "are",
        "was",
        "were",
        "be",
        "been",
        "am",
        "i",
        "you",
        "he",
        "she",
        "it",
        "we",
        "they",
        "me",
        "my",
        "your",
        "our",
        "their",
        "this",
        "that",
        "these",
        "those",
        "so",
        "do",
        "does",
        "did",
        "not",
        "no",
        "yes",
        "just",
        "too",
        "very",
        "can",
        "could",
        "would",
        "will",
        "shall",
        "should",
        "have",
        "has",
        "had",
        "what",
        "when",
        "where",
        "who",
        "how",
        "why",
        "there",
        "here",
        "as",
        "by",
        "from",
        "up",
        "out",
        "about",
        "than",
        "then",
        "them",
        "his",
        "her",
        "its",
        "i'm",
        "it's",
        "don't",
        "that's",
        "you're",
        "i'll",
        "的",
        "了",
        "是",
        "我",
        "你",
        "他",
        "她",
        "它",
        "们",
        "在",
        "有",
        "和",
        "就",
        "也",
        "都",
        "不",
        "吗",
        "呢",
        "吧",
        "啊",
        "这",
        "那",
        "个",
        "一",
    ]
)

SCRIPTS = ("latin", "han", "kana", "hangul", "cyrillic", "arabic", "other")
SCRIPT_NAMES = {
    "latin": "Latin-script (e.g. English)",
    "han": "Chinese",
    "kana": "Japanese",
    "hangul": "Korean",
    "cyrillic": "Cyrillic",
    "arabic": "Arabic",
    "other": "other scripts",
}


def is_cjk(text: str) -> bool:
    return bool(_CJK_RE.search(text))


# Contractions, with their apostrophe or without it where that spelling is not another word ("its",
# "ill", "were", "well" are, so "it's", "I'll", "we're", "we'll" are left out).
CONTRACTION_RE = re.compile(
    r"\b(?:i['’]?(?:m|ve)|(?:do|does|did|is|was|are|were|ca|could|would|should|have|has|had|wo)n['’]?t"
    r"|you['’]?(?:re|ve)|they['’]?(?:re|ve)|(?:that|what|there)['’]?s)\b",
    re.IGNORECASE,
)


def tokens(text: str, *, bigrams: bool = True) -> list[str]:
    """Lower-cased words; CJK runs become characters (plus their bigrams when `bigrams`)."""
    out: list[str] = []
    for match in _TOKEN_RE.finditer(text.lower()):
        run = match.group()
        if _CJK_RE.match(run):
            out.extend(run)
            if bigrams:
                out.extend(run[i : i + 2] for i in range(len(run) - 1))
        else:
            out.append(run.replace("’", "'"))
    return out


def content_tokens(text: str) -> list[str]:
    """`tokens` without stopwords (all of them when nothing else is left), for retrieval."""
    found = tokens(text)
    kept = [t for t in found if t not in STOPWORDS]
    return kept or found


def words(text: str) -> list[str]:
    """Word units: Latin words and single CJK characters (a CJK character counts as one word)."""
    return tokens(text, bigrams=False)


def emoji(text: str) -> list[str]:
    """The emoji in `text` (ZWJ sequences, flags and skin tones kept whole, variation selectors dropped)."""
    return [e.replace("\ufe0f", "") for e in EMOJI_RE.findall(text)]


def emoticons(text: str) -> list[str]:
    return EMOTICON_RE.findall(text)


def laughter(text: str) -> list[str]:
    """Laughter forms as written (lower-cased for Latin): 'hahaha', 'lol', '哈哈哈', 'www'."""
    found: list[str] = []
    for _, pattern in LAUGHTER:
        found.extend(m.group().lower() if m.group().isascii() else m.group() for m in pattern.finditer(text))
    return found


def script_of(char: str) -> str | None:
    """The script of a letter, or None for digits, punctuation, emoji and spaces."""
    if not char.isalpha():
        return None
    code = ord(char)
    if code < 0x250 or 0x1E00 <= code <= 0x1EFF:
        return "latin"
    if 0x3040 <= code <= 0x30FF:
        return "kana"
    if 0x3400 <= code <= 0x4DBF or 0x4E00 <= code <= 0x9FFF or 0xF900 <= code <= 0xFAFF:
        return "han"
    if 0xAC00 <= code <= 0xD7AF or 0x1100 <= code <= 0x11FF or 0x3130 <= code <= 0x318F:
        return "hangul"
    if 0x400 <= code <= 0x4FF:
        return "cyrillic"
    if 0x600 <= code <= 0x6FF:
        return "arabic"
    return "other"


def scripts(text: str) -> dict[str, int]:
    """Letters per script; kana makes a han+kana message Japanese."""
    counts: dict[str, int] = {}
    for char in text:
        script = script_of(char)
        if script:
            counts[script] = counts.get(script, 0) + 1
    if "kana" in counts and "han" in counts:
        counts["kana"] += counts.pop("han")
    return counts


def dominant_script(text: str) -> str | None:
    counts = scripts(text)
    if not counts:
        return None
    # A CJK character carries about as much as a Latin word: weigh it so "ok 好的" is mostly Chinese.
    weighted = {k: v * (4 if k in ("han", "kana", "hangul") else 1) for k, v in counts.items()}
    return max(sorted(weighted), key=lambda k: weighted[k])


def approx_tokens(text: str) -> int:
    """A rough LLM token count: one per CJK character, one per four other characters."""
    cjk = len(_CJK_RE.findall(text))
    return cjk + (len(text) - cjk + 3) // 4


def clip(text: str, limit: int) -> str:
    """`text` cut to about `limit` characters at a word boundary, with an ellipsis when cut."""
    text = " ".join(text.split()) if "\n" not in text else "\n".join(" ".join(x.split()) for x in text.splitlines())
    if len(text) <= limit:
        return text
    cut = text[:limit]
    space = cut.rfind(" ")
    if space > limit * 0.6:
        cut = cut[:space]
    return cut.rstrip() + "…"


def normalize(text: str) -> str:
    return unicodedata.normalize("NFC", text)


# --- bursts and exchanges ---------------------------------------------------------------------------


class MessageLike(Protocol):
    id: int
    ts: str
    from_them: bool
    kind: str
    text: str
    conversation_id: int


BURST_GAP_S = 20 * 60  # same sender within 20 minutes: one burst
REPLY_GAP_S = 12 * 3600  # a reply more than 12 hours later starts a new exchange


@dataclass(frozen=True)
class Burst:
    """Consecutive text messages by one side, in one conversation, close in time."""

    from_them: bool
    texts: tuple[str, ...]
    ts: str
    end_ts: str
    first_id: int
    conversation_id: int

    @property
    def text(self) -> str:
        return "\n".join(self.texts)


@dataclass(frozen=True)
class Exchange:
    """A real past exchange: the user's burst and the ex's reply burst."""

    id: int
    ts: str
    you: tuple[str, ...]
    them: tuple[str, ...]
    delay_s: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "ts": self.ts, "you": "\n".join(self.you), "them": "\n".join(self.them)}


def parse_ts(ts: str) -> datetime | None:
    try:
        stamp = datetime.fromisoformat(ts.replace("Z", "+00:00"))
    except ValueError:
        return None
    return stamp.replace(tzinfo=None)


def seconds_between(a: str, b: str) -> float | None:
    first, second = parse_ts(a), parse_ts(b)
    if first is None or second is None:
        return None
    return (second - first).total_seconds()


def bursts(messages: Iterable[MessageLike]) -> list[Burst]:
    """Group text messages into bursts (messages must be in time order)."""
    out: list[Burst] = []
    current: list[MessageLike] = []

    def flush() -> None:
        if current:
            out.append(
                Burst(
                    current[0].from_them,
                    tuple(m.text.strip() for m in current),
                    current[0].ts,
                    current[-1].ts,
                    current[0].id,
                    current[0].conversation_id,
                )
            )
            current.clear()

    for m in messages:
        if m.kind != "text" or not m.text.strip():
            continue
        if current:
            last = current[-1]
            gap = seconds_between(last.ts, m.ts)
            same = last.from_them == m.from_them and last.conversation_id == m.conversation_id
            if not same or (gap is not None and gap > BURST_GAP_S):
                flush()
        current.append(m)
    flush()
    return out


def exchanges(burst_list: Sequence[Burst]) -> list[Exchange]:
    """Each user burst directly answered by an ex burst (same conversation, within REPLY_GAP_S)."""
    out: list[Exchange] = []
    for prev, cur in itertools.pairwise(burst_list):
        if prev.from_them or not cur.from_them or prev.conversation_id != cur.conversation_id:
            continue
        delay = seconds_between(prev.end_ts, cur.ts)
        if delay is not None and delay > REPLY_GAP_S:
            continue
        out.append(Exchange(cur.first_id, cur.ts, prev.texts, cur.texts, delay))
    return out
