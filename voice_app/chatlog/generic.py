"""Generic CSV and JSON Lines chat logs.

Columns/keys are named with ``mapping={"timestamp": "date", "sender": "from", "text": "body"}``
(optional ``"kind"`` column, ``"timestamp_format"`` for ``strptime``); without a mapping, common
names (date/time/timestamp, sender/from/author/name, text/message/body/content) are recognized.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from voice_app.chatlog.dates import loose_datetime, text_datetime
from voice_app.chatlog.formats import CSV, JSON, Format, Head, corrupt, unknown
from voice_app.chatlog.model import KINDS, TEXT, Conversation, ImportWarning, Message
from voice_app.chatlog.options import Options, clean, from_epoch, warn
from voice_app.chatlog.source import Member, iter_lines

_CANDIDATES = {
    "timestamp": (
        "timestamp",
        "datetime",
        "date_time",
        "time",
        "date",
        "sent_at",
        "created_at",
        "created",
        "ts",
        "sent",
        "date time",
        "时间",
        "发送时间",
        "日期",
        "日時",
        "날짜",
        "datum",
        "zeit",
        "heure",
        "fecha",
        "data",
        "дата",
        "время",
        "tarih",
    ),
    "sender": (
        "sender",
        "from",
        "author",
        "sender_name",
        "name",
        "user",
        "username",
        "speaker",
        "who",
        "sender name",
        "发送者",
        "发送人",
        "发言人",
        "昵称",
        "送信者",
        "보낸 사람",
        "absender",
        "expéditeur",
        "auteur",
        "remitente",
        "autor",
        "mittente",
        "afzender",
        "отправитель",
        "gönderen",
    ),
    "text": (
        "text",
        "message",
        "body",
        "content",
        "msg",
        "messages",
        "内容",
        "消息内容",
        "消息",
        "メッセージ",
        "내용",
        "nachricht",
        "inhalt",
        "texte",
        "mensaje",
        "mensagem",
        "messaggio",
        "testo",
        "bericht",
        "сообщение",
        "текст",
        "mesaj",
    ),
}
_KEYS = ("timestamp", "sender", "text")


def automap(columns: list[str]) -> dict[str, str] | None:
    """Column names for timestamp/sender/text, or None when one cannot be found."""
    lower = {c.strip().lower(): c for c in columns}
    out: dict[str, str] = {}
    for key, names in _CANDIDATES.items():
        for n in names:
            if n in lower and lower[n] not in out.values():
                out[key] = lower[n]
                break
        else:
            return None
    if "kind" in lower:
        out["kind"] = lower["kind"]
    return out


def _resolve(mapping: dict[str, str], columns: list[str], display: str) -> dict[str, str]:
    wanted = {k: v for k, v in mapping.items() if k in (*_KEYS, "kind")}
    auto = automap(columns) or {}
    out = {**auto, **wanted}
    missing = [k for k in _KEYS if k not in out]
    absent = [f"{k}={v!r}" for k, v in out.items() if v not in columns]
    if missing or absent:
        raise unknown(
            f"{display}: cannot tell which column holds the "
            + ", ".join(missing or [a.split("=")[0] for a in absent])
            + f" (columns: {', '.join(columns[:20])})",
            'Pass mapping={"timestamp": COLUMN, "sender": COLUMN, "text": COLUMN}.',
        )
    return out


def _ts(value: Any, fmt: str | None) -> datetime:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return from_epoch(value, ms=value > 1e11)
    v = clean(value).strip()
    if fmt:
        return datetime.strptime(v, fmt)
    if v.replace(".", "", 1).isdigit():
        f = float(v)
        return from_epoch(f, ms=f > 1e11)
    try:
        return loose_datetime(v)  # ISO, and "2024/10/4 11:43" without zero padding
    except ValueError:
        return text_datetime(v)  # "12/03/2024 15:14", "12 March 2024 15:14" …


def _message(row: dict[str, Any], cols: dict[str, str], fmt: str | None) -> Message:
    ts = _ts(row.get(cols["timestamp"]), fmt)
    kind = TEXT
    if "kind" in cols:
        k = clean(row.get(cols["kind"])).strip().lower()
        kind = k if k in KINDS else TEXT
    return Message(ts, clean(row.get(cols["sender"])).strip(), clean(row.get(cols["text"])), kind)


def parse_csv(members: list[Member], opts: Options) -> Conversation:
    from voice_app.chatlog.detect import csv_header, head_text
    from voice_app.chatlog.wechat import dict_rows

    member = members[0]
    head = head_text(member) or ""
    first = head.split("\n", 1)[0]
    delim = max(",\t;", key=first.count)
    header = csv_header(head) or []
    cols = _resolve(opts.mapping, header, member.display)
    fmt = opts.mapping.get("timestamp_format")
    warnings: list[ImportWarning] = []
    messages: list[Message] = []
    for lineno, row in dict_rows(member, warnings, opts, delimiter=delim):
        try:
            messages.append(_message(row, cols, fmt))
        except (ValueError, OverflowError, OSError, TypeError) as e:
            warn(warnings, f"could not parse row ({e}); skipped", lineno, member.display)
    if not messages and not warnings:
        raise corrupt(f"{member.display}: the CSV has a header but no rows")
    return Conversation("generic_csv", [], messages, warnings, member.display)


def parse_jsonl(members: list[Member], opts: Options) -> Conversation:
    member = members[0]
    warnings: list[ImportWarning] = []
    messages: list[Message] = []
    cols: dict[str, str] | None = None
    fmt = opts.mapping.get("timestamp_format")
    for lineno, line in iter_lines(member, warnings, opts.at(0)):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except (json.JSONDecodeError, RecursionError) as e:
            warn(warnings, f"not valid JSON ({getattr(e, 'msg', e)}); skipped", lineno, member.display)
            continue
        if not isinstance(row, dict):
            warn(warnings, "not a JSON object; skipped", lineno, member.display)
            continue
        if cols is None:
            cols = _resolve(opts.mapping, list(row), f"{member.display} line {lineno}")
        try:
            messages.append(_message(row, cols, fmt))
        except (ValueError, OverflowError, OSError, TypeError) as e:
            warn(warnings, f"could not parse record ({e}); skipped", lineno, member.display)
    if not messages and cols is None:
        raise corrupt(f"{member.display}: no JSON object found")
    return Conversation("generic_jsonl", [], messages, warnings, member.display)


def _sniff_jsonl(head: Head) -> bool:
    text = head.json_head
    first_line = text.split("\n", 1)[0].strip()
    if not (first_line.startswith("{") and first_line.endswith("}") and "\n" in text.strip()):
        return False
    try:
        obj = json.loads(first_line)
    except ValueError:
        return False
    return isinstance(obj, dict) and "messages" not in obj


def _sniff_csv(head: Head) -> bool:
    return head.csv_header is not None and automap(head.csv_header) is not None


FORMATS = [
    Format(
        "generic_csv",
        "Generic CSV with timestamp/sender/text columns (mapping= to name them)",
        CSV,
        90,  # any CSV with a time, a sender and a text column: after the apps' own layouts
        _sniff_csv,
        parse_csv,
        listed=15,
    ),
    Format(
        "generic_jsonl",
        "Generic JSON Lines with timestamp/sender/text keys (mapping= to name them)",
        JSON,
        10,
        _sniff_jsonl,
        parse_jsonl,
        listed=16,
    ),
]
