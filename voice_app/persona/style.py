"""StyleProfile: how the ex actually wrote, measured from their messages (CJK-aware)."""

from __future__ import annotations

import json
import re
import statistics
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import timedelta
from typing import Any

from voice_app.persona import text as tx
from voice_app.persona.lexicon import distinctive_words

STYLE_VERSION = 3  # 2: measured on the last months (`era`); 3: `lexicon`

PET_NAMES = [
    "babe",
    "baby",
    "bae",
    "love",
    "my love",
    "honey",
    "hun",
    "hon",
    "sweetie",
    "sweetheart",
    "darling",
    "dear",
    "cutie",
    "handsome",
    "beautiful",
    "gorgeous",
    "princess",
    "angel",
    "boo",
    "sunshine",
    "宝贝",
    "宝宝",
    "亲爱的",
    "老公",
    "老婆",
    "乖",
    "猪猪",
    "cariño",
    "mi amor",
    "amor",
    "chérie",
    "mon amour",
    "schatz",
]
STOPWORDS = tx.STOPWORDS
YES_NO = set(
    [
        "yes",
        "yeah",
        "yea",
        "yep",
        "yup",
        "ya",
        "ye",
        "sure",
        "ok",
        "okay",
        "k",
        "kk",
        "no",
        "nope",
        "nah",
        "not",
        "maybe",
        "idk",
        "是",
        "对",
        "嗯",
        "好",
        "不",
        "没",
        "行",
        "可以",
        "是的",
        "对啊",
    ]
)
QUESTION_END = re.compile(r"[?？]\s*$|[吗呢么]\s*[?？]?\s*$")
END_CLASSES = ("period", "exclamation", "question", "ellipsis", "emoji", "comma", "none")


@dataclass
class StyleProfile:
    """Statistics of the ex's messages; `summary()` is the compact text the prompt uses."""

    messages: int = 0
    bursts: int = 0
    chars_median: float = 0.0
    chars_mean: float = 0.0
    chars_p90: float = 0.0
    words_median: float = 0.0
    burst_mean: float = 0.0  # messages per burst
    burst_multi_share: float = 0.0  # share of bursts with 2+ messages
    burst_p90: float = 0.0
    emoji_rate: float = 0.0  # share of messages with an emoji
    emoji_top: list[tuple[str, int]] = field(default_factory=list)
    emoticon_rate: float = 0.0
    emoticon_top: list[tuple[str, int]] = field(default_factory=list)
    end_punct: dict[str, float] = field(default_factory=dict)  # how messages end, shares of END_CLASSES
    exclaim_rate: float = 0.0  # share of messages with '!' anywhere
    question_rate: float = 0.0
    multi_punct_rate: float = 0.0  # '!!', '??', '?!'
    ellipsis_rate: float = 0.0
    lowercase_start_share: float = 0.0  # of messages starting with a Latin letter
    lowercase_i_share: float = 0.0  # 'i' written in lower case, of all uses of the pronoun
    caps_word_rate: float = 0.0  # ALL-CAPS words (2+ letters), of Latin words
    apostrophe_drop_share: float = 0.0  # contractions written without their apostrophe (im, dont)
    contractions: int = 0  # how many contractions that share is measured on
    laughter_rate: float = 0.0
    laughter_top: list[tuple[str, int]] = field(default_factory=list)
    openers: list[tuple[str, int]] = field(default_factory=list)
    closers: list[tuple[str, int]] = field(default_factory=list)
    phrases: list[tuple[str, int]] = field(default_factory=list)
    top_words: list[tuple[str, int]] = field(default_factory=list)
    pet_names: list[tuple[str, int]] = field(default_factory=list)
    scripts: dict[str, float] = field(default_factory=dict)  # dominant script per message, shares
    mixed_script_share: float = 0.0  # messages mixing Latin with CJK/Hangul
    answers: dict[str, float] = field(default_factory=dict)  # how they answer questions
    reply_delay_median_s: float | None = None
    lexicon: list[tuple[str, float]] = field(default_factory=list)  # their words against the user's (z)
    version: int = STYLE_VERSION

    # --- storage --------------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False, sort_keys=True)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> StyleProfile:
        known = set(cls.__dataclass_fields__)
        values = {k: v for k, v in data.items() if k in known}
        for key, value in values.items():
            if isinstance(value, list) and value and isinstance(value[0], list):
                values[key] = [tuple(v) for v in value]
        return cls(**values)

    # --- text -----------------------------------------------------------------------------------

    def summary(self, them: str = "They") -> str:
        """A few lines describing the style, for the prompt (deterministic for the same profile)."""
        if not self.messages:
            return f"No messages from {them} were imported, so their writing style is unknown."
        lines: list[str] = []
        size = "short" if self.chars_median < 40 else "medium-length" if self.chars_median < 120 else "long"
        lines.append(
            f"- Messages are {size}: median {self.chars_median:.0f} characters ({self.words_median:.0f} words),"
            f" 90% under {self.chars_p90:.0f}."
        )
        if self.burst_multi_share >= 0.2:
            lines.append(
                f"- Often sends several messages in a row ({self.burst_multi_share:.0%} of turns,"
                f" {self.burst_mean:.1f} on average): put each message on its own line."
            )
        else:
            lines.append("- Usually answers with a single message.")
        habits = []
        if self.lowercase_start_share >= 0.6:
            habits.append(f"starts lowercase ({self.lowercase_start_share:.0%})")
        elif self.lowercase_start_share <= 0.2 and self.scripts.get("latin", 0) > 0.3:
            habits.append("capitalises the first word")
        if self.lowercase_i_share >= 0.5:
            habits.append('writes "i" in lowercase')
        if self.caps_word_rate >= 0.03:
            habits.append("uses ALL CAPS for emphasis")
        if self.contractions >= 5 and self.apostrophe_drop_share >= 0.7:
            habits.append('skips apostrophes ("im", "dont")')
        period = self.end_punct.get("period", 0.0)
        none = self.end_punct.get("none", 0.0)
        if period <= 0.1 and none >= 0.4:
            habits.append("rarely ends with a period")
        elif period >= 0.4:
            habits.append(f"ends with a period ({period:.0%})")
        if self.exclaim_rate >= 0.15:
            habits.append(f"uses '!' often ({self.exclaim_rate:.0%})")
        if self.multi_punct_rate >= 0.05:
            habits.append("doubles punctuation (!!, ??)")
        if self.ellipsis_rate >= 0.08:
            habits.append("trails off with '...'")
        if habits:
            lines.append("- Writing: " + ", ".join(habits) + ".")
        if self.emoji_rate >= 0.02 or self.emoticon_rate >= 0.02:
            favs = [e for e, _ in self.emoji_top[:4]] + [e for e, _ in self.emoticon_top[:2]]
            rate = max(self.emoji_rate, self.emoticon_rate)
            lines.append(f"- Emoji/emoticons in {rate:.0%} of messages, favourites: {' '.join(favs)}.")
        else:
            lines.append("- Almost never uses emoji.")
        if self.laughter_rate >= 0.02 and self.laughter_top:
            forms = ", ".join(f for f, _ in self.laughter_top[:3])
            lines.append(f"- Laughs with: {forms} ({self.laughter_rate:.0%} of messages).")
        if self.pet_names:
            lines.append("- Pet names: " + ", ".join(p for p, _ in self.pet_names[:4]) + ".")
        if self.openers:
            lines.append("- Often starts with: " + ", ".join(o for o, _ in self.openers[:5]) + ".")
        if self.closers:
            lines.append("- Often ends with: " + ", ".join(c for c, _ in self.closers[:4]) + ".")
        if self.phrases:
            lines.append("- Frequent phrases: " + ", ".join(f'"{p}"' for p, _ in self.phrases[:8]) + ".")
        if self.scripts:
            ranked = sorted(self.scripts.items(), key=lambda kv: (-kv[1], kv[0]))
            langs = ", ".join(f"{tx.SCRIPT_NAMES.get(k, k)} {v:.0%}" for k, v in ranked[:3] if v >= 0.02)
            mixed = (
                f"; mixes scripts in one message {self.mixed_script_share:.0%}"
                if self.mixed_script_share >= 0.05
                else ""
            )
            lines.append(f"- Writes in: {langs}{mixed}.")
        if self.answers.get("count", 0) >= 3:
            a = self.answers
            lines.append(
                f"- Answering questions: median {a['words_median']:.0f} words, starts with yes/no"
                f" {a['yes_no_share']:.0%}, asks back {a['asks_back_share']:.0%}."
            )
        return "\n".join(lines)


# --- computing ----------------------------------------------------------------------------------


def _share(part: float, whole: float) -> float:
    return round(part / whole, 4) if whole else 0.0


def _pct(values: Sequence[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return float(ordered[min(len(ordered) - 1, int(q * len(ordered)))])


def _top(counter: Counter[str], n: int, min_count: int = 1) -> list[tuple[str, int]]:
    return [(k, c) for k, c in sorted(counter.items(), key=lambda kv: (-kv[1], kv[0])) if c >= min_count][:n]


def end_class(message: str) -> str:
    """How a message ends: period, exclamation, question, ellipsis, emoji, comma or none (a letter)."""
    text = message.rstrip()
    if not text:
        return "none"
    if tx.EMOJI_RE.search(text[-2:]) or tx.EMOTICON_RE.search(text[-4:]):
        return "emoji"
    if text.endswith(("...", "…", "。。")):
        return "ellipsis"
    last = text[-1]
    if last in ".。":
        return "period"
    if last in "!！":
        return "exclamation"
    if last in "?？":
        return "question"
    if last in ",，~～":
        return "comma"
    return "none"


def _join_phrase(parts: Sequence[str]) -> str:
    out = parts[0]
    for part in parts[1:]:
        out += part if tx.is_cjk(part) and tx.is_cjk(out[-1]) else " " + part
    return out


def message_stats(texts: Sequence[str]) -> dict[str, float]:
    """Per-message statistics shared by the profile and the fidelity distances."""
    n = len(texts)
    chars = [len(t) for t in texts]
    ends = Counter(end_class(t) for t in texts)
    latin_starts = [t.lstrip()[0] for t in texts if t.lstrip() and tx.script_of(t.lstrip()[0]) == "latin"]
    return {
        "messages": n,
        "chars_mean": round(statistics.fmean(chars), 2) if chars else 0.0,
        "chars_median": float(statistics.median(chars)) if chars else 0.0,
        "emoji_rate": _share(sum(1 for t in texts if tx.emoji(t) or tx.emoticons(t)), n),
        "exclaim_rate": _share(sum(1 for t in texts if "!" in t or "！" in t), n),
        "question_rate": _share(sum(1 for t in texts if "?" in t or "？" in t), n),
        "lowercase_start_share": _share(sum(1 for c in latin_starts if c.islower()), len(latin_starts)),
        "laughter_rate": _share(sum(1 for t in texts if tx.laughter(t)), n),
        **{f"end_{k}": _share(ends.get(k, 0), n) for k in END_CLASSES},
    }


RECENT_DAYS = 183  # "as they were at the end": the last six months of the relationship…
RECENT_MIN_MESSAGES = 100  # …reaching back further until this many of their messages are in it


def recent_part(
    burst_list: Sequence[tx.Burst], days: int = RECENT_DAYS, minimum: int = RECENT_MIN_MESSAGES
) -> list[tx.Burst]:
    """The last part of the history: its last `days`, or more until it holds `minimum` of their messages.

    Habits change over a relationship (a laugh they stopped using once things went wrong); the end is
    how the user last knew them. Bursts must be in time order.
    """
    stamps = [tx.parse_ts(b.ts) for b in burst_list]
    known = [s for s in stamps if s is not None]
    if not known:
        return list(burst_list)
    cutoff = max(known) - timedelta(days=days)
    start = len(burst_list)
    theirs = 0
    for i in range(len(burst_list) - 1, -1, -1):
        stamp = stamps[i]
        if stamp is not None and stamp < cutoff and theirs >= minimum:
            break
        start = i
        if burst_list[i].from_them:
            theirs += len(burst_list[i].texts)
    return list(burst_list[start:])


def compute_style(
    burst_list: Sequence[tx.Burst],
    *,
    pet_names: Sequence[str] = (),
    era: str = "end",
) -> StyleProfile:
    """The profile of the ex's bursts in `burst_list` (which also holds the user's, for question answering).

    `era` "end" measures the last months (`recent_part`), "whole" the whole history.
    """
    if era == "end":
        burst_list = recent_part(burst_list)
    theirs = [b for b in burst_list if b.from_them]
    texts = [t for b in theirs for t in b.texts]
    n = len(texts)
    profile = StyleProfile(messages=n, bursts=len(theirs))
    if not n:
        return profile
    base = message_stats(texts)
    chars = [len(t) for t in texts]
    sizes = [len(b.texts) for b in theirs]
    profile.chars_median = base["chars_median"]
    profile.chars_mean = base["chars_mean"]
    profile.chars_p90 = _pct(chars, 0.9)
    profile.words_median = float(statistics.median(len(tx.words(t)) for t in texts))
    profile.burst_mean = round(statistics.fmean(sizes), 2)
    profile.burst_multi_share = _share(sum(1 for s in sizes if s > 1), len(sizes))
    profile.burst_p90 = _pct(sizes, 0.9)

    emoji_counts: Counter[str] = Counter()
    emoticon_counts: Counter[str] = Counter()
    laughs: Counter[str] = Counter()
    word_counts: Counter[str] = Counter()
    phrase_counts: Counter[str] = Counter()
    pets: Counter[str] = Counter()
    script_counts: Counter[str] = Counter()
    with_emoticon = multi = ellipsis = mixed = 0
    i_lower = i_total = caps = latin_words = contractions = dropped = 0
    lexicon = [p.lower() for p in dict.fromkeys([*pet_names, *PET_NAMES]) if p.strip()]
    pet_patterns = [(p, _pet_pattern(p)) for p in lexicon]
    for t in texts:
        emoji_counts.update(tx.emoji(t))
        found = tx.emoticons(t)
        emoticon_counts.update(found)
        with_emoticon += bool(found)
        laughs.update(tx.laughter(t))
        if re.search(r"[!?！？]{2,}", t):
            multi += 1
        if "..." in t or "…" in t:
            ellipsis += 1
        ws = tx.words(t)
        word_counts.update(w for w in ws if w not in STOPWORDS and not w.isdigit())
        for size in (2, 3):
            for i in range(len(ws) - size + 1):
                gram = ws[i : i + size]
                if all(g in STOPWORDS for g in gram) or any(g.isdigit() for g in gram):
                    continue
                phrase_counts[_join_phrase(gram)] += 1
        lowered = t.lower()
        for pet, pattern in pet_patterns:
            hits = len(pattern.findall(lowered))
            if hits:
                pets[pet] += hits
        for raw in tx.CONTRACTION_RE.findall(t):
            contractions += 1
            dropped += not any(mark in raw for mark in "'’")
        for raw in re.findall(r"[A-Za-z]+", t):
            latin_words += 1
            if raw in ("i", "I"):
                i_total += 1
                i_lower += raw == "i"
            elif len(raw) >= 2 and raw.isupper():
                caps += 1
        counts = tx.scripts(t)
        dominant = tx.dominant_script(t)
        if dominant:
            script_counts[dominant] += 1
        if "latin" in counts and any(k in counts for k in ("han", "kana", "hangul")) and counts["latin"] >= 2:
            mixed += 1

    profile.emoji_rate = _share(sum(1 for t in texts if tx.emoji(t)), n)
    profile.emoji_top = _top(emoji_counts, 6)
    profile.emoticon_rate = _share(with_emoticon, n)
    profile.emoticon_top = _top(emoticon_counts, 4)
    profile.end_punct = {k: base[f"end_{k}"] for k in END_CLASSES}
    profile.exclaim_rate = base["exclaim_rate"]
    profile.question_rate = base["question_rate"]
    profile.multi_punct_rate = _share(multi, n)
    profile.ellipsis_rate = _share(ellipsis, n)
    profile.lowercase_start_share = base["lowercase_start_share"]
    profile.lowercase_i_share = _share(i_lower, i_total)
    profile.caps_word_rate = _share(caps, latin_words)
    profile.apostrophe_drop_share = _share(dropped, contractions)
    profile.contractions = contractions
    profile.laughter_rate = base["laughter_rate"]
    profile.laughter_top = _top(laughs, 4)
    minimum = 2 if n < 200 else 3
    profile.openers = _top(Counter(w for b in theirs if (w := _edge_word(b.texts[0], first=True))), 6, minimum)
    profile.closers = _top(Counter(w for b in theirs if (w := _edge_word(b.texts[-1], first=False))), 5, minimum)
    profile.phrases = _top(phrase_counts, 10, minimum)
    profile.top_words = _top(word_counts, 15, minimum)
    profile.pet_names = _top(pets, 5)
    profile.scripts = {k: _share(v, sum(script_counts.values())) for k, v in sorted(script_counts.items())}
    profile.mixed_script_share = _share(mixed, n)
    profile.answers = _answers(burst_list)
    profile.lexicon = distinctive_words(texts, [t for b in burst_list if not b.from_them for t in b.texts])
    delays = [d for d in (_delays(burst_list)) if d is not None]
    profile.reply_delay_median_s = float(statistics.median(delays)) if delays else None
    return profile


_ADDRESS_BEFORE = r"(?:^|[,，]\s*|\b(?:hey|hi|hello|night|morning|thanks|thank you|you|u|my|ok|okay|bye|sorry)\s+)"
_ADDRESS_AFTER = (
    r"(?!\s+(?:you|u|it|this|that|the|to|him|her|them|me|and|of|is|was|for)\b)(?=\W*$|\s*[,，!?.~]|\s+[a-z])"
)
_NOT_A_VERB = r"(?<!\bi )(?<!\bwe )(?<!\bthey )(?<!\bdo )(?<!\bwould )(?<!\bto )"


def _pet_pattern(pet: str) -> re.Pattern[str]:
    """A pet name used to address someone: at either end of a message, after a comma or a greeting."""
    if not pet.isascii():
        return re.compile(re.escape(pet))
    name = re.escape(pet)
    return re.compile(rf"{_ADDRESS_BEFORE}{name}\b{_ADDRESS_AFTER}|{_NOT_A_VERB}\b{name}[\W_]*$")


def _edge_word(message: str, *, first: bool) -> str:
    """The first (or last) word of a message: a Latin word, two CJK characters, or a laughter form."""
    ws = tx.words(message)
    if not ws or ws[0 if first else -1].isdigit():
        return ""
    if tx.is_cjk(ws[0 if first else -1]):
        run = ws[:2] if first else ws[-2:]
        return "".join(w for w in run if tx.is_cjk(w))
    return ws[0] if first else ws[-1]


def _answers(burst_list: Sequence[tx.Burst]) -> dict[str, float]:
    replies = [ex.them for ex in tx.exchanges(burst_list) if ex.you and QUESTION_END.search(ex.you[-1])]
    if not replies:
        return {"count": 0}
    lengths = [len(tx.words(" ".join(r))) for r in replies]
    firsts = [(tx.words(r[0]) or [""])[0] for r in replies]
    return {
        "count": len(replies),
        "words_median": float(statistics.median(lengths)),
        "messages_mean": round(statistics.fmean(len(r) for r in replies), 2),
        "yes_no_share": _share(sum(1 for f in firsts if f in YES_NO), len(replies)),
        "asks_back_share": _share(sum(1 for r in replies if any("?" in m or "？" in m for m in r)), len(replies)),
    }


def _delays(burst_list: Sequence[tx.Burst]) -> list[float | None]:
    return [ex.delay_s for ex in tx.exchanges(burst_list)]
