"""The format registry (each format module declares its `Format`s), the sniffers' view of a file, the typed errors."""

from __future__ import annotations

import csv
import functools
import importlib
import io
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from voice_app.core.errors import CorruptExportError, UnknownFormatError

if TYPE_CHECKING:
    from voice_app.chatlog.model import Conversation
    from voice_app.chatlog.options import Options
    from voice_app.chatlog.source import Member

# Sniff families: what the first character of the file says it can be.
JSON, MARKUP, TEXT, CSV = "json", "markup", "text", "csv"


@dataclass
class Head:
    """The start of a text file as the sniffers read it (computed once per file)."""

    text: str  # decoded, BOM and leading blank space removed

    @functools.cached_property
    def lines(self) -> list[str]:
        return self.text.splitlines()[:200]

    @functools.cached_property
    def nonempty(self) -> list[str]:
        return [ln for ln in self.lines if ln.strip()]

    @property
    def first(self) -> str:
        return self.nonempty[0] if self.nonempty else ""

    @functools.cached_property
    def json_head(self) -> str:
        return self.text[:65536]

    @functools.cached_property
    def csv_header(self) -> list[str] | None:
        return csv_header(self.text)


Parse = Callable[[list["Member"], "Options"], "Conversation"]


@dataclass(frozen=True)
class Format:
    """One export format: each format module lists its own in `FORMATS`; nothing else needs to know it."""

    id: str
    title: str  # what the user is told (and `voice-app inspect` prints)
    family: str  # JSON, MARKUP, TEXT or CSV: which files its sniffer is asked about
    priority: int  # sniffers run in this order within a family (specific layouts first)
    sniff: Callable[[Head], bool]
    parse: Parse
    listed: int = 100  # position in the list of supported formats shown to users
    paged: bool = False  # one export split over several files of a folder (all are read and merged)


@functools.lru_cache(maxsize=1)
def registry() -> dict[str, Format]:
    """Every format, from the `FORMATS` list of each module of this package (found, not listed by hand)."""
    import voice_app.chatlog as package

    found: list[Format] = []
    for info in pkgutil.iter_modules(package.__path__):
        module = importlib.import_module(f"{package.__name__}.{info.name}")
        found.extend(getattr(module, "FORMATS", ()))
    ids = [f.id for f in found]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    assert not duplicates, f"format ids declared twice: {duplicates}"
    return {f.id: f for f in sorted(found, key=lambda f: (f.listed, f.id))}


def supported_formats() -> dict[str, str]:
    """Format id → title, in the order users are shown them."""
    return {f.id: f.title for f in registry().values()}


def sniffers(family: str) -> list[Format]:
    return sorted((f for f in registry().values() if f.family == family), key=lambda f: f.priority)


def csv_header(s: str) -> list[str] | None:
    """The first line of `s` as CSV column names (delimiter sniffed), or None when it is not one."""
    first = s.split("\n", 1)[0]
    if "," not in first and "\t" not in first and ";" not in first:
        return None
    try:
        dialect = csv.Sniffer().sniff(first, delimiters=",\t;")
        delim = dialect.delimiter
    except csv.Error:
        delim = ","
    try:
        row = next(csv.reader(io.StringIO(first), delimiter=delim))
    except (csv.Error, StopIteration):
        return None
    return [c.strip().strip("\ufeff") for c in row]


def supported_list() -> str:
    return ", ".join(f"{k} ({v})" for k, v in supported_formats().items())


def fix_text(extra: str | None = None) -> str:
    base = "Supported formats: " + supported_list() + "."
    return f"{extra} {base}" if extra else base


def unknown(message: str, extra_fix: str | None = None) -> UnknownFormatError:
    return UnknownFormatError(message, fix_text(extra_fix))


def corrupt(message: str, extra_fix: str | None = None) -> CorruptExportError:
    return CorruptExportError(
        message, fix_text(extra_fix or "Export the chat again (the file may be truncated or damaged).")
    )
