"""Opening export files: plain files, zips and folders; encoding detection; streaming lines."""

from __future__ import annotations

import codecs
import json
import os
import re
import unicodedata
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from voice_app.chatlog.formats import corrupt, unknown
from voice_app.chatlog.model import ImportWarning
from voice_app.core.errors import ImportFormatError

Progress = Callable[[int, int], Any] | None

HEAD_BYTES = 64 * 1024
CHUNK_BYTES = 1 << 20
# Files inside a zip or folder that may hold a chat; everything else (photos, voice notes) is skipped.
TEXT_SUFFIXES = {".txt", ".json", ".html", ".htm", ".csv", ".tsv", ".xml", ".md", ".jsonl", ".ndjson"}
MAX_DIR_FILES = 20000  # text files looked at in a folder (media are skipped by name and not counted)
MAX_DIR_ENTRIES = 2_000_000  # every file a folder scan walks past, media included
MAX_MEMBER_BYTES = 4 << 30  # one file inside a zip, decompressed
MAX_ZIP_RATIO = 200  # decompressed / compressed above this (and above BOMB_MIN_BYTES) is a zip bomb
BOMB_MIN_BYTES = 64 << 20

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


@dataclass
class Member:
    """One file of a source: the file itself, a zip entry, or a file in a folder."""

    name: str
    display: str
    size: int
    opener: Callable[[], IO[bytes]]
    _head: bytes | None = field(default=None, repr=False)

    def open(self) -> IO[bytes]:
        return self.opener()

    def head(self) -> bytes:
        if self._head is None:
            with self.open() as f:
                self._head = f.read(HEAD_BYTES)
        return self._head

    @property
    def suffix(self) -> str:
        return os.path.splitext(self.name)[1].lower()


class Source:
    """A path given to ``load``: a single file, a zip, or a folder of paged exports."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self.display = str(path)
        self.members: list[Member] = []
        self.notes: list[str] = []  # what a folder or zip scan skipped, and why it stopped
        self.kind = "file"
        self._zip: zipfile.ZipFile | None = None
        p = self.path
        if not p.exists():
            raise ImportFormatError(f"{self.display}: no such file or folder", "Check the path of the exported chat.")
        if p.is_dir():
            self.kind = "dir"
            self._scan_dir(p)
        else:
            try:
                size = p.stat().st_size
                with p.open("rb") as f:
                    magic = f.read(4)
            except OSError as e:
                raise ImportFormatError(f"{self.display}: cannot read the file ({e.strerror})") from e
            if size == 0:
                raise corrupt(f"{self.display} is empty (0 bytes): there is no chat in it")
            if magic == b"PK\x03\x04" or (magic[:2] == b"PK" and zipfile.is_zipfile(p)):
                self.kind = "zip"
                self._scan_zip(p)
            else:
                self.members.append(Member(p.name, self.display, size, lambda: p.open("rb")))

    def _scan_dir(self, root: Path) -> None:
        walked = looked = 0
        skipped: dict[str, int] = {}
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames.sort()
            for fn in sorted(filenames):
                walked += 1
                if walked > MAX_DIR_ENTRIES:
                    self.notes.append(f"the scan stopped after {MAX_DIR_ENTRIES:,} files in the folder")
                    self._note_skipped(skipped)
                    return
                fp = Path(dirpath) / fn
                suffix = fp.suffix.lower()
                if suffix not in TEXT_SUFFIXES:
                    skipped[suffix or "(none)"] = skipped.get(suffix or "(none)", 0) + 1
                    continue
                looked += 1
                if looked > MAX_DIR_FILES:
                    self.notes.append(
                        f"the scan stopped after {MAX_DIR_FILES:,} text files; point it at the chat's own folder"
                    )
                    self._note_skipped(skipped)
                    return
                try:
                    size = fp.stat().st_size
                except OSError:
                    continue
                if size == 0:
                    continue
                rel = fp.relative_to(root).as_posix()
                self.members.append(Member(rel, str(fp), size, lambda fp=fp: fp.open("rb")))
        self._note_skipped(skipped)

    def _note_skipped(self, skipped: dict[str, int]) -> None:
        if skipped:
            total = sum(skipped.values())
            kinds = ", ".join(f"{n:,} {suffix}" for suffix, n in sorted(skipped.items(), key=lambda kv: -kv[1])[:6])
            self.notes.append(f"skipped {total:,} files that are not chat text (by name: {kinds})")

    def _scan_zip(self, p: Path) -> None:
        try:
            zf = zipfile.ZipFile(p)
            infos = zf.infolist()
        except (zipfile.BadZipFile, OSError, ValueError, EOFError, NotImplementedError) as e:
            raise corrupt(f"{self.display} is a damaged zip archive ({e})") from e
        self._zip = zf
        for info in infos:
            if info.is_dir() or info.file_size == 0:
                continue
            name = info.filename
            if name.startswith("__MACOSX/") or os.path.basename(name).startswith("._"):
                continue
            if os.path.splitext(name)[1].lower() not in TEXT_SUFFIXES:
                continue
            ratio = info.file_size / max(info.compress_size, 1)
            if info.file_size > MAX_MEMBER_BYTES or (info.file_size > BOMB_MIN_BYTES and ratio > MAX_ZIP_RATIO):
                raise corrupt(
                    f"{self.display}: {name} would expand to {info.file_size / 1e9:.1f} GB"
                    f" ({ratio:.0f}× its compressed size); this is not a chat export (a zip bomb?)",
                    "Unpack the archive yourself and import the chat's own text file.",
                )
            self.members.append(
                Member(name, f"{self.display}:{name}", info.file_size, lambda info=info: self._open_zip(info))
            )

    def _open_zip(self, info: zipfile.ZipInfo) -> IO[bytes]:
        assert self._zip is not None
        try:
            return self._zip.open(info)
        except (zipfile.BadZipFile, OSError, ValueError, EOFError, NotImplementedError, RuntimeError) as e:
            raise corrupt(f"{self.display}: cannot read {info.filename} from the zip ({e})") from e

    def all_names(self) -> list[str]:
        if self._zip is not None:
            return [i.filename for i in self._zip.infolist()]
        return [m.name for m in self.members]

    def close(self) -> None:
        if self._zip is not None:
            self._zip.close()
            self._zip = None

    def __enter__(self) -> Source:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# --- encodings --------------------------------------------------------------------------------


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


def _decode_line(raw: bytes, enc: str) -> tuple[str, str | None]:
    for e in (enc, *_FALLBACKS):
        try:
            return raw.decode(e), (None if e == enc else e)
        except UnicodeDecodeError:
            continue
    return raw.decode(enc, "replace"), "replacement characters"


_CLEAN = re.compile("[\u200b\u200e\u200f\u202a-\u202e\u2066-\u2069\ufeff]")


def clean(s: str) -> str:
    """Drop invisible direction marks and zero-width characters, NFC-normalize."""
    if not s.isascii():
        s = _CLEAN.sub("", s)
        s = s.replace("\u202f", " ").replace("\u00a0", " ")
        s = unicodedata.normalize("NFC", s)
    return s


def iter_line_blocks(
    member: Member,
    warnings: list[ImportWarning],
    progress: Progress = None,
    done_before: int = 0,
    total: int | None = None,
) -> Iterator[tuple[int, list[str]]]:
    """Yield ``(number of the first line, lines)`` blocks of about a megabyte, decoded and NFC-normalized.

    The file is streamed: memory use does not grow with file size. Lines that do not decode in
    the detected encoding are decoded with a fallback and reported as a warning.
    """
    enc, bom = sniff_encoding(member.head())
    total = member.size if total is None else total
    lineno = 1
    done = 0
    with member.open() as f:
        if bom:
            f.read(bom)
            done = bom
        if enc.startswith("utf-16"):
            dec = codecs.getincrementaldecoder(enc)("replace")
            pending = ""
            while True:
                chunk = f.read(CHUNK_BYTES)
                done += len(chunk)
                text = pending + dec.decode(chunk, final=not chunk)
                if chunk:
                    cut = text.rfind("\n")
                    if cut < 0:
                        pending = text
                        continue
                    pending, text = text[cut + 1 :], text[: cut + 1]
                else:
                    pending = ""
                if text:
                    lines = _split(text)
                    if "\ufffd" in text:
                        for i, ln in enumerate(lines):
                            if "\ufffd" in ln:
                                warnings.append(
                                    ImportWarning("bytes that are not valid UTF-16 were replaced", lineno + i)
                                )
                    yield lineno, lines
                    lineno += len(lines)
                if progress:
                    progress(done_before + done, total)
                if not chunk:
                    return
        pending_b = b""
        while True:
            chunk = f.read(CHUNK_BYTES)
            done += len(chunk)
            buf = pending_b + chunk
            if chunk:
                cut = buf.rfind(b"\n")
                if cut < 0:
                    pending_b = buf
                    if len(pending_b) > 64 * CHUNK_BYTES:
                        raise corrupt(
                            f"{member.display}: line {lineno} is longer than 64 MB; this is not a chat export"
                        )
                    continue
                pending_b, buf = buf[cut + 1 :], buf[: cut + 1]
            else:
                pending_b = b""
            if buf:
                try:
                    text = buf.decode(enc)
                    lines = _split(text)
                except UnicodeDecodeError:
                    raw_lines = buf.split(b"\n")
                    if raw_lines and raw_lines[-1] == b"":
                        raw_lines.pop()
                    lines = []
                    for i, raw in enumerate(raw_lines):
                        s, used = _decode_line(raw, enc)
                        if used:
                            warnings.append(
                                ImportWarning(f"line is not valid {enc.upper()}; decoded as {used}", lineno + i)
                            )
                        lines.append(s)
                    lines = _split("\n".join(lines) + "\n")
                if lineno == 1 and lines and lines[0].startswith("\ufeff"):
                    lines[0] = lines[0][1:]
                yield lineno, lines
                lineno += len(lines)
            if progress:
                progress(done_before + done, total)
            if not chunk:
                return


def _split(text: str) -> list[str]:
    if "\u202f" in text:
        text = text.replace("\u202f", " ")
    if "\u00a0" in text:
        text = text.replace("\u00a0", " ")
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    if not text.isascii():
        text = unicodedata.normalize("NFC", text)
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return lines


def iter_lines(member: Member, warnings: list[ImportWarning], progress: Progress = None) -> Iterator[tuple[int, str]]:
    for first, lines in iter_line_blocks(member, warnings, progress):
        yield from enumerate(lines, first)


def read_text(member: Member, progress: Progress = None, done_before: int = 0, total: int | None = None) -> str:
    """The whole member decoded (for JSON/HTML/CSV formats); a decoding error names the byte offset."""
    data = read_bytes(member, progress, done_before, total)
    enc, bom = sniff_encoding(bytes(data[:HEAD_BYTES]))
    try:
        text = codecs.decode(memoryview(data)[bom:], enc)
    except UnicodeDecodeError as e:
        del data
        raise corrupt(
            f"{member.display}: bytes at offset {e.start + bom} are not valid {enc.upper()}"
            " (mixed or unknown text encodings)",
            "Re-export the chat as UTF-8.",
        ) from e
    del data  # the decoded text replaces the bytes
    if text.startswith("\ufeff"):
        text = text[1:]
    return text


def read_bytes(member: Member, progress: Progress = None, done_before: int = 0, total: int | None = None) -> bytearray:
    """The whole member, read into one buffer of its declared size (no growing copies)."""
    total = member.size if total is None else total
    if member.size > MAX_MEMBER_BYTES:
        raise corrupt(f"{member.display} is {member.size / 1e9:.1f} GB; larger than any chat export this reads")
    out = bytearray(member.size)
    view = memoryview(out)
    done = 0
    with member.open() as f:
        while done < len(out):
            n = f.readinto(view[done : done + CHUNK_BYTES * 4])  # type: ignore[attr-defined]
            if not n:
                break
            done += n
            if progress:
                progress(done_before + done, total)
        if done == len(out) and f.read(1):  # longer than it said it was (a file that grew, a lying header)
            raise corrupt(f"{member.display} changed while it was read, or its size is wrong")
    view.release()
    del out[done:]
    return out


def load_json(member: Member, progress: Progress = None, done_before: int = 0, total: int | None = None) -> Any:
    text = read_text(member, progress, done_before, total)
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        offset = len(text[: e.pos].encode("utf-8"))
        what = "is truncated" if e.pos >= len(text.rstrip()) else "is not valid JSON"
        raise corrupt(
            f"{member.display} {what}: {e.msg} at line {e.lineno}, column {e.colno} (byte offset {offset})"
        ) from e
    except RecursionError as e:
        raise corrupt(f"{member.display}: JSON nested too deeply") from e


def check_text_member(member: Member) -> None:
    reason = binary_reason(member.head())
    if reason:
        raise unknown(f"{member.display} {reason}")


STREAM_JSON_BYTES = 32 << 20  # larger JSON files are streamed element by element where the format allows
_WS = " \t\r\n"


def iter_json_array(
    member: Member, key: str, progress: Progress = None, done_before: int = 0, total: int | None = None
) -> tuple[dict[str, Any], Iterator[Any]] | None:
    """Stream the array under top-level `key` of a JSON object, one element at a time.

    Returns (the top-level scalars seen before the array, an iterator of its elements), or None when
    the file does not start that way (the caller then loads it whole). Memory holds one element and
    a read buffer, not the whole file; a broken element raises CorruptExportError with its offset.
    """
    enc, bom = sniff_encoding(member.head())
    total = member.size if total is None else total
    handle = member.open()
    decoder = codecs.getincrementaldecoder(enc)("strict")
    handle.read(bom)
    state = {"done": bom, "eof": False}

    def more(buf: str) -> str:
        chunk = handle.read(CHUNK_BYTES)
        state["done"] += len(chunk)
        if progress:
            progress(done_before + state["done"], total)
        if not chunk:
            state["eof"] = True
            return buf + decoder.decode(b"", final=True)
        try:
            return buf + decoder.decode(chunk)
        except UnicodeDecodeError as e:
            raise corrupt(f"{member.display}: bytes near offset {state['done']} are not valid {enc.upper()}") from e

    json_decoder = json.JSONDecoder()
    buf, pos = more(""), 0
    if buf.startswith("\ufeff"):
        pos = 1
    header: dict[str, Any] = {}

    def skip_ws() -> None:
        nonlocal buf, pos
        while True:
            while pos < len(buf) and buf[pos] in _WS:
                pos += 1
            if pos < len(buf) or state["eof"]:
                return
            buf, pos = more(buf[pos:]), 0

    def value() -> Any:
        nonlocal buf, pos
        while True:
            try:
                obj, end = json_decoder.raw_decode(buf, pos)
            except json.JSONDecodeError as e:
                if state["eof"]:
                    raise corrupt(f"{member.display} is not valid JSON near character {e.pos}: {e.msg}") from e
                buf, pos = more(buf[pos:]), 0
                continue
            if end == len(buf) and not state["eof"]:  # a number may go on in the next chunk
                buf, pos = more(buf[pos:]), 0
                continue
            pos = end
            return obj

    skip_ws()
    if buf[pos : pos + 1] != "{":
        handle.close()
        return None
    pos += 1
    while True:  # the top-level keys before the array
        skip_ws()
        if buf[pos : pos + 1] != '"':
            handle.close()
            return None
        name = value()
        skip_ws()
        if buf[pos : pos + 1] != ":":
            handle.close()
            return None
        pos += 1
        skip_ws()
        if name == key:
            break
        if buf[pos : pos + 1] in ("{", "["):  # a nested value before the array: not the simple layout
            handle.close()
            return None
        header[name] = value()
        skip_ws()
        if buf[pos : pos + 1] == ",":
            pos += 1
    if buf[pos : pos + 1] != "[":
        handle.close()
        return None
    pos += 1

    def elements() -> Iterator[Any]:
        nonlocal pos
        try:
            while True:
                skip_ws()
                if buf[pos : pos + 1] == "]":
                    return
                yield value()
                skip_ws()
                if buf[pos : pos + 1] == ",":
                    pos += 1
                elif buf[pos : pos + 1] != "]":
                    raise corrupt(
                        f"{member.display}: the {key!r} list is broken after element (offset ~{state['done']})"
                    )
        finally:
            handle.close()

    return header, elements()
