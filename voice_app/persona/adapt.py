"""Bringing a generated reply to the person's measured surface habits: case, apostrophes, end marks, laughter, length.

A small instruct model drifts back to its own register (capitalised, full stops, one long message)
however the prompt describes the person. These rules apply only what the person's own messages
show clearly (each is gated on their StyleProfile), so a reply keeps its words and meaning and
takes their typing habits. It works on a stream, one word behind the model, so text chat shows the
reply as it is generated; `adapt_reply` runs the same rules over a finished text. Deterministic.
"""

from __future__ import annotations

import re

from voice_app.persona import text as tx
from voice_app.persona.style import StyleProfile

MIN_MESSAGES = 20  # fewer than this and their habits are not known
MIN_CONTRACTIONS = 5
_PRONOUN_I = re.compile(r"\bI\b(?=$|[\s'’,.!?])")
_SENTENCE_END = ".!?。！？"
_CLAUSE_END = ",;，；"
_CJK_MARKS = "。！？，；、：…"
_WESTERN_LAUGHTER = {"haha", "lol", "xD", "jaja", "哈哈"}


class StyleAdapter:
    """Feed a reply's text as it streams; get it back in the person's typing habits, a word behind.

    `done` turns true once the person's usual number of messages in a row has been written; the
    caller stops generating there.
    """

    def __init__(self, style: StyleProfile | None) -> None:
        self.style = style if style is not None and style.messages >= MIN_MESSAGES else None
        self.done = False
        self.lines = 0  # messages completed
        self._word = ""  # the word being read
        self._line = ""  # what was released of the current message
        self._glued = False  # the next word follows the last one without a space (Chinese has none)
        self._skip_line = False  # the rest of an over-long message is dropped
        s = self.style
        self._split_bursts = bool(s and s.burst_multi_share >= 0.35 and s.burst_mean >= 1.5)
        self._max_lines = max(1, round(s.burst_p90)) if s and s.burst_p90 else None
        self._soft_len = s.chars_p90 * 1.2 if s and s.chars_p90 else None

    # --- streaming ---------------------------------------------------------------------------

    def feed(self, piece: str) -> str:
        if self.style is None:
            return piece
        out: list[str] = []
        for ch in piece:
            if self.done:
                break
            if ch == "\n":
                out.append(self._release(line_end=True))
            elif ch.isspace():
                out.append(self._release(line_end=False))
            else:
                self._word += ch
                if ch in _CJK_MARKS:  # Chinese has no spaces: a clause or sentence mark ends what was read
                    out.append(self._release(line_end=False, glued=True))
        if self._word and not self.done and tx.is_cjk(self._word[-1]):
            out.append(self._release(line_end=False, glued=True))  # …and so does the end of a checked clause
        elif piece.endswith(" ") and self._line and not (self._word or self._glued or self._skip_line or self.done):
            # A clause that ended with its word and a space: the space goes now, not with the next word,
            # so the reply check after the adapter can count that word as whole and cut the clause at once.
            out.append(" ")
            self._line += " "
            self._glued = True
        return "".join(out)

    def flush(self) -> str:
        if self.style is None or self.done:
            return ""
        return self._release(line_end=True, final=True)

    # --- one word ----------------------------------------------------------------------------

    def _release(self, *, line_end: bool, final: bool = False, glued: bool = False) -> str:
        style = self.style
        assert style is not None
        word, self._word = self._word, ""
        after_glue = self._glued
        ends_raw_line = line_end
        if self._skip_line:
            if line_end:
                self._skip_line = False
            return ""
        word = _emoji(word, style)
        if not word:
            return self._end_line(final) if line_end and self._line else ""
        word = _laughter(word, style)
        if style.lowercase_i_share >= 0.5:
            word = _PRONOUN_I.sub("i", word)
        if style.contractions >= MIN_CONTRACTIONS and style.apostrophe_drop_share >= 0.7:
            word = tx.CONTRACTION_RE.sub(lambda m: m.group(0).replace("'", "").replace("’", ""), word)  # dont, im
        if not self._line:
            word = _first_word_case(word, style)
        if style.exclaim_rate <= 0.03 and word.endswith("!") and not word.endswith("!!"):
            word = word[:-1] + "."  # they hardly ever exclaim
        length = len(self._line) + len(word) + 1
        sentence = word[-1] in _SENTENCE_END
        # Chinese is read a clause at a time (no spaces); its messages' lengths are not cut here, as
        # when a whole Chinese reply was one "word" (their effect on Chinese replies was never measured).
        too_long = self._soft_len is not None and length >= self._soft_len and not tx.is_cjk(word)
        if too_long and word[-1] in _CLAUSE_END:
            word, line_end, self._skip_line = word.rstrip(_CLAUSE_END), True, not ends_raw_line  # cut it here
        elif too_long and self._soft_len is not None and (sentence or length >= self._soft_len * 1.25):
            line_end, self._skip_line = True, not ends_raw_line
        elif sentence and self._split_bursts and length >= style.chars_median and not tx.is_cjk(word):
            line_end = True  # a new message once this one is as long as their usual one
        if line_end:
            word = _end_mark(word, style)
        text = (" " if self._line and not after_glue else "") + word
        self._glued = glued
        self._line += text
        if line_end:
            return text + self._end_line(final)
        return text

    def _end_line(self, final: bool = False) -> str:
        self._line = ""
        self.lines += 1
        if self._max_lines is not None and self.lines >= self._max_lines:
            self.done = True
            return ""
        return "" if final else "\n"


def adapt_reply(text: str, style: StyleProfile | None) -> str:
    """`text` (plain lines, one message each) rewritten with the habits `style` measured."""
    adapter = StyleAdapter(style)
    if adapter.style is None:
        return text
    out = adapter.feed(text) + adapter.flush()
    lines = [line.rstrip() for line in out.splitlines() if line.strip()]
    return "\n".join(lines) if lines else text.strip()


def _laughter(word: str, style: StyleProfile) -> str:
    """Their own laughter form instead of the model's (haha → lol, for someone who writes lol)."""
    if not style.laughter_top or style.laughter_rate < 0.02:
        return word
    theirs = style.laughter_top[0][0]
    for family, pattern in tx.LAUGHTER:
        if family in _WESTERN_LAUGHTER:
            word = pattern.sub(lambda m: m.group(0) if m.group(0).lower() == theirs.lower() else theirs, word)
    return word


def _emoji(word: str, style: StyleProfile) -> str:
    if style.emoji_rate < 0.01:  # they (almost) never use emoji: the model's are not theirs
        return tx.EMOJI_RE.sub("", word)
    return word


def _end_mark(word: str, style: StyleProfile) -> str:
    period = style.end_punct.get("period", 0.0)
    none = style.end_punct.get("none", 0.0)
    if period <= 0.1 and none >= 0.4 and word.endswith(".") and not word.endswith(".."):
        return word[:-1]  # they do not end messages with a full stop
    if period >= 0.5 and word[-1:].isalpha() and tx.script_of(word[-1]) == "latin":
        return word + "."
    return word


def _first_word_case(word: str, style: StyleProfile) -> str:
    if not word or tx.script_of(word[0]) != "latin":
        return word
    if style.lowercase_start_share >= 0.6 and word[0].isupper() and not _PRONOUN_I.match(word):
        if not (len(word) > 1 and word.rstrip(_SENTENCE_END + _CLAUSE_END).isupper()):  # keep OMG, TV
            return word[0].lower() + word[1:]
    elif style.lowercase_start_share <= 0.2 and word[0].islower():
        return word[0].upper() + word[1:]
    return word
