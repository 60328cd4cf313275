"""Opening export files: plain files, zips and folders; encoding detection; streaming lines."""

from __future__ import annotations

import codecs
import functools
import json
import os
import re
import unicodedata
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import IO, Any

from voice_app.chatlog.encoding import binary_reason, decode_line, sniff_encoding
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


@dataclass
class Member:
    """One file of a source: the file itself, a zip entry, or a file in a folder."""

    name: str
    display: str
    size: int
    opener: Callable[[], IO[bytes]]
    _head: bytes | None = field(default=None, repr=False)
    modified: datetime | None = None  # when the file was last written (what "Today" in a pasted chat means)

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
                self.members.append(Member(p.name, self.display, size, lambda: p.open("rb"), modified=_mtime(p)))

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
                self.members.append(Member(rel, str(fp), size, _opener(fp), modified=_mtime(fp)))
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
                Member(
                    name,
                    f"{self.display}:{name}",
                    info.file_size,
                    functools.partial(self._open_zip, info),
                    modified=_zip_time(info),
                )
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
                        s, used = decode_line(raw, enc)
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


def _mtime(path: Path) -> datetime | None:
    try:
        return datetime.fromtimestamp(path.stat().st_mtime)
    except (OSError, ValueError, OverflowError):
        return None


def _zip_time(info: zipfile.ZipInfo) -> datetime | None:
    try:
        return datetime(*info.date_time)
    except (ValueError, TypeError):
        return None


def _opener(path: Path) -> Callable[[], IO[bytes]]:
    return lambda: path.open("rb")
