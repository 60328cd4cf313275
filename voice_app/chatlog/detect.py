"""Content-based format detection: each registered format's sniffer reads the start of the file.

File names only pick candidates inside zips and folders; the first character of the text says
which family of sniffers is asked (JSON, markup, text lines, then CSV), in their priority order.
"""

from __future__ import annotations

from voice_app.chatlog.encoding import binary_reason, sniff_encoding
from voice_app.chatlog.formats import CSV, JSON, MARKUP, TEXT, Head, csv_header, sniffers
from voice_app.chatlog.source import HEAD_BYTES, Member

__all__ = ["csv_header", "head_text", "sniff", "sniff_text"]


def head_text(member: Member) -> str | None:
    """The decoded start of a member (cut at its last whole line), or None for a binary file."""
    head = member.head()
    if binary_reason(head):
        return None
    enc, bom = sniff_encoding(head)
    text = head[bom:].decode(enc, "replace")
    if len(head) == HEAD_BYTES:
        cut = text.rfind("\n")
        if cut > 0:
            text = text[:cut]
    return text.lstrip("\ufeff")


def sniff(member: Member) -> str | None:
    text = head_text(member)
    if text is None:
        return None
    return sniff_text(text)


def _first(family: str, head: Head) -> str | None:
    return next((f.id for f in sniffers(family) if f.sniff(head)), None)


def sniff_text(text: str) -> str | None:
    """The format id whose sniffer recognizes this start of a file, or None."""
    s = text.lstrip()
    if not s:
        return None
    head = Head(s)
    if s[0] in "{[":
        fmt = _first(JSON, head)
        if fmt is not None or s[0] == "{":
            return fmt
    if s[0] == "<":
        return _first(MARKUP, head)
    fmt = _first(TEXT, head)
    if fmt is not None:
        return fmt
    header = head.csv_header
    return _first(CSV, head) if header and len(header) >= 2 else None
