"""Large JSON exports read element by element: one array under a top-level key, without loading the file."""

from __future__ import annotations

import codecs
import json
from collections.abc import Iterator
from typing import Any

from voice_app.chatlog.encoding import sniff_encoding
from voice_app.chatlog.formats import corrupt
from voice_app.chatlog.source import CHUNK_BYTES, Member, Progress

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
        try:
            if not chunk:
                state["eof"] = True
                return buf + decoder.decode(b"", final=True)
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
