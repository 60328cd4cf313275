"""Bringing a generated reply to the person's measured surface habits: case, end marks, laughter, emoji, bursts, length.

A small instruct model drifts back to its own register (capitalised, full stops, one long message)
however the prompt describes the person. These rules apply only what the person's own messages
show clearly (each is gated on their StyleProfile), so a reply keeps its words and meaning and
takes their typing habits. Deterministic: the same reply and profile give the same text.
"""

from __future__ import annotations

import re

from voice_app.persona import text as tx
from voice_app.persona.style import StyleProfile

_SENTENCE_SPLIT = re.compile(r"(?<=[.!?。！？])\s+(?=\S)")
_PRONOUN_I = re.compile(r"\bI\b(?=$|[\s'’,.!?])")
_EMOJI_OR_EMOTICON = re.compile(f"(?:{tx.EMOJI_RE.pattern})", tx.EMOJI_RE.flags)
_WESTERN_LAUGHTER = {"haha", "lol", "xD", "jaja"}


def adapt_reply(text: str, style: StyleProfile | None) -> str:
    """`text` (plain lines, one message each) rewritten with the habits `style` measured."""
    if style is None or style.messages < 20:  # too few messages to know their habits
        return text
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if style.burst_multi_share >= 0.35 and style.burst_mean >= 1.5:
        lines = [part for line in lines for part in _SENTENCE_SPLIT.split(line)]  # one sentence per message
    limit = max(1, round(style.burst_p90)) if style.burst_p90 else len(lines)
    lines = lines[:limit]
    out = []
    for line in lines:
        line = _laughter(line, style)
        line = _emoji(line, style)
        line = _clip(line, style)
        line = _end_marks(line, style)
        line = _case(line, style)
        if line:
            out.append(line)
    return "\n".join(out) if out else text.strip()


def _laughter(line: str, style: StyleProfile) -> str:
    """Their own laughter form instead of the model's (haha → lol, for someone who writes lol)."""
    if not style.laughter_top or style.laughter_rate < 0.02:
        return line
    theirs = style.laughter_top[0][0]
    for family, pattern in tx.LAUGHTER:
        if family in _WESTERN_LAUGHTER or family == "哈哈":
            line = pattern.sub(lambda m: m.group(0) if m.group(0).lower() == theirs.lower() else theirs, line)
    return line


def _emoji(line: str, style: StyleProfile) -> str:
    if style.emoji_rate < 0.01:  # they (almost) never use emoji: the model's are not theirs
        line = _EMOJI_OR_EMOTICON.sub("", line).strip()
    return line


def _clip(line: str, style: StyleProfile) -> str:
    """A message far longer than any they write is cut at a sentence or clause end."""
    if not style.chars_p90 or len(line) <= style.chars_p90 * 1.5:
        return line
    limit = int(style.chars_p90 * 1.2)
    window = line[: limit + 1]
    for marks in (".!?。！？", ",;，；"):
        cut = max(window.rfind(m) for m in marks)
        if cut >= limit // 3:
            return line[: cut + 1].rstrip(",;，；")
    space = window.rfind(" ")
    return line[:space] if space > limit // 3 else line


def _end_marks(line: str, style: StyleProfile) -> str:
    period = style.end_punct.get("period", 0.0)
    none = style.end_punct.get("none", 0.0)
    if style.exclaim_rate <= 0.03 and line.endswith("!") and not line.endswith("!!"):
        line = line[:-1] + "."  # they hardly ever exclaim
    if period <= 0.1 and none >= 0.4 and line.endswith(".") and not line.endswith(".."):
        line = line[:-1]  # they do not end messages with a full stop
    elif period >= 0.5 and line[-1:].isalpha():
        line += "."
    return line.rstrip()


def _case(line: str, style: StyleProfile) -> str:
    if not line or tx.script_of(line[0]) != "latin":
        return line
    if style.lowercase_i_share >= 0.5:
        line = _PRONOUN_I.sub("i", line)
    first = line.split(" ", 1)[0]
    if style.lowercase_start_share >= 0.6 and line[0].isupper() and not _PRONOUN_I.match(first):
        if not (len(first) > 1 and first.isupper()):  # keep an acronym or shouting (OMG)
            line = line[0].lower() + line[1:]
    elif style.lowercase_start_share <= 0.2 and line[0].islower():
        line = line[0].upper() + line[1:]
    return line


class LineAdapter:
    """`adapt_reply` for a stream: each message (line) is released once complete, adapted.

    Text chat shows a reply message by message, as a chat app would; `done` turns true when the
    person's usual number of messages in a row has been sent (the caller stops generating).
    """

    def __init__(self, style: StyleProfile | None) -> None:
        self.style = style
        self.sent = 0
        self.done = False
        self._buf = ""

    @property
    def _limit(self) -> int | None:
        if self.style is None or self.style.messages < 20 or not self.style.burst_p90:
            return None
        return max(1, round(self.style.burst_p90))

    def feed(self, piece: str) -> str:
        self._buf += piece
        out = []
        while "\n" in self._buf and not self.done:
            line, self._buf = self._buf.split("\n", 1)
            out.append(self._release(line))
        return "".join(out)

    def flush(self) -> str:
        line, self._buf = self._buf, ""
        return "" if self.done else self._release(line).rstrip("\n")

    def _release(self, line: str) -> str:
        if not line.strip():
            return ""
        lines = adapt_reply(line, self.style).splitlines()
        limit = self._limit
        if limit is not None:
            lines = lines[: max(0, limit - self.sent)]
            self.done = self.sent + len(lines) >= limit
        self.sent += len(lines)
        return "".join(f"{line}\n" for line in lines)
