"""Text from exports and users made safe to print: no terminal control sequences, no markup."""

from __future__ import annotations

import unicodedata

from rich.markup import escape

_VISIBLE = {0x1B: "␛", 0x7F: "␡", 0x9B: "␛["}
_KEEP = {"\n", "\t"}


def printable(text: str) -> str:
    """`text` with every control character shown as a visible symbol (ESC → ␛, BEL → ␇, C1 → \\x9b).

    Escape sequences in an imported message (clear screen, OSC 52 clipboard writes, OSC 8 links)
    then print as harmless text; line breaks and tabs stay. Bidirectional overrides are shown too,
    so a name cannot disguise itself.
    """
    if text.isprintable() and "\x1b" not in text:
        return text
    out = []
    for ch in text:
        code = ord(ch)
        if ch in _KEEP:
            out.append(ch)
        elif code in _VISIBLE:
            out.append(_VISIBLE[code])
        elif code < 0x20:
            out.append(chr(0x2400 + code))  # the Unicode control pictures
        elif 0x80 <= code < 0xA0:
            out.append(f"\\x{code:02x}")
        elif unicodedata.category(ch) == "Cf" and ch in "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069":
            out.append(f"<U+{code:04X}>")
        else:
            out.append(ch)
    return "".join(out)


def safe(value: object) -> str:
    """For Rich markup strings: the value as printable text with its brackets escaped."""
    return escape(printable(str(value)))
