"""What a file's first bytes say: binary or text, and in which encoding (UTF-8, UTF-16, GB18030)."""

from __future__ import annotations

import codecs

_MAGIC = [
    (b"SQLite format 3\x00", "an SQLite database (export the chat to text with the app's exporter first)"),
    (b"%PDF", "a PDF document"),
    (b"\x89PNG", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF8", "a GIF image"),
    (b"\x1f\x8b", "a gzip archive (unpack it first)"),
    (b"Rar!", "a RAR archive (unpack it first)"),
    (b"7z\xbc\xaf", "a 7-Zip archive (unpack it first)"),
    (b"OggS", "an audio file"),
    (b"ID3", "an audio file"),
]


def binary_reason(head: bytes) -> str | None:
    """Why ``head`` is not text, or None if it may be text."""
    for magic, what in _MAGIC:
        if head.startswith(magic):
            return f"is {what}, not a chat export"
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)) or _utf16_guess(head):
        return None
    nul = head.find(b"\x00")
    if nul >= 0:
        return f"is a binary file (NUL byte at offset {nul}), not a chat export"
    sample = head[:8192]
    if sample:
        ctrl = sum(1 for b in sample if b < 9 or 13 < b < 32)
        if ctrl > len(sample) // 20 + 2:
            return "is a binary file (many control bytes), not a chat export"
    return None


def _utf16_guess(head: bytes) -> str | None:
    sample = head[:4096]
    n = len(sample) // 2
    if n < 2:
        return None
    even = sample[0::2].count(0)
    odd = sample[1::2].count(0)
    if odd > n * 0.3 and even < n * 0.05:
        return "utf-16-le"
    if even > n * 0.3 and odd < n * 0.05:
        return "utf-16-be"
    return None


def sniff_encoding(head: bytes) -> tuple[str, int]:
    """(codec name, BOM length) for a file starting with ``head``."""
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8", 3
    if head.startswith(codecs.BOM_UTF16_LE):
        return "utf-16-le", 2
    if head.startswith(codecs.BOM_UTF16_BE):
        return "utf-16-be", 2
    guess = _utf16_guess(head)
    if guess:
        return guess, 0
    if _decodes(head, "utf-8"):
        return "utf-8", 0
    if _decodes(head, "gb18030"):
        # Mixed files: UTF-8 if at least as many non-ASCII lines are valid UTF-8 as are not (the bad
        # lines are then repaired one by one with a warning).
        good = bad = 0
        for ln in head.split(b"\n")[:2000]:
            if ln.isascii():
                continue
            try:
                ln.decode("utf-8")
                good += 1
            except UnicodeDecodeError:
                bad += 1
        return ("utf-8", 0) if good >= bad and good else ("gb18030", 0)
    return "utf-8", 0


def _decodes(data: bytes, enc: str) -> bool:
    try:
        codecs.getincrementaldecoder(enc)().decode(data, final=False)
        return True
    except UnicodeDecodeError:
        return False


_FALLBACKS = ("utf-8", "gb18030", "cp1252")


def decode_line(raw: bytes, enc: str) -> tuple[str, str | None]:
    for e in (enc, *_FALLBACKS):
        try:
            return raw.decode(e), (None if e == enc else e)
        except UnicodeDecodeError:
            continue
    return raw.decode(enc, "replace"), "replacement characters"
