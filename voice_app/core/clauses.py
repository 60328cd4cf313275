"""Where a streamed reply can be cut into clauses for checking (a mark, a line break, or enough words)."""

from __future__ import annotations

import re

_CLAUSE_END = re.compile(r"[.!?;:,。！？；：，、…\n]")
MAX_WORDS = 8  # an unpunctuated reply is cut every this many words
MAX_CJK = 12  # …or this many CJK characters


def clause_cut(held: str) -> int:
    """Where the held text can be cut (0: not yet): after the first clause mark, or at a word limit."""
    for found in _CLAUSE_END.finditer(held):
        end = found.end()
        if end < len(held) or not held[found.start() - 1 : found.start()].isdigit():
            return end  # a mark after a digit at the end ("3." of "3.5") waits for what follows
    if len(held.split()) > MAX_WORDS:
        return held.rstrip().rfind(" ") + 1
    if sum(1 for ch in held if "\u4e00" <= ch <= "\u9fff") >= MAX_CJK:
        return len(held)
    return 0
