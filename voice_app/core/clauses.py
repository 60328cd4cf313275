"""Where a streamed reply can be cut into clauses for checking (a mark, a line break, or enough words)."""

from __future__ import annotations

import re

_CLAUSE_END = re.compile(r"[.!?;:,。！？；：，、…\n]")
_WORD = re.compile(r"\S+\s+")
MAX_WORDS = 8  # an unpunctuated reply is cut every this many words
MAX_CJK = 12  # …or this many CJK characters
# A reply's first clause is cut sooner: the voice starts once it is checked, and the words after
# those first four are written while it is said (0.2-0.3 s of the model's time on two cores).
FIRST_WORDS = 4
FIRST_CJK = 8


def clause_cut(held: str, *, first: bool = False) -> int:
    """Where the held text can be cut (0: not yet): after the first clause mark, or at a word limit
    (a smaller one for the reply's `first` clause). The whitespace after the cut goes with the clause:
    the stage after (the style adapter, the voice's splitter) then sees that its last word ended."""
    for found in _CLAUSE_END.finditer(held):
        end = found.end()
        if end < len(held) or not held[found.start() - 1 : found.start()].isdigit():
            # a mark after a digit at the end ("3." of "3.5") waits for what follows
            return len(held) - len(held[end:].lstrip())
    limit = FIRST_WORDS if first else MAX_WORDS
    complete = list(_WORD.finditer(held))  # a word is whole once a space follows it
    if len(complete) >= limit:
        return complete[limit - 1].end()
    cjk = [i for i, ch in enumerate(held) if "\u4e00" <= ch <= "\u9fff"]
    if first:  # like a word limit: the first clause is cut once the reply goes on after it
        return cjk[FIRST_CJK - 1] + 1 if len(cjk) >= FIRST_CJK and held[cjk[FIRST_CJK - 1] + 1 :].strip() else 0
    return len(held) if len(cjk) >= MAX_CJK else 0


def ends_at_mark(clause: str) -> bool:
    """Whether a cut clause ended at a clause mark or line break (not at a word limit)."""
    stripped = clause.rstrip(" \t")
    return bool(stripped) and _CLAUSE_END.match(stripped[-1]) is not None
