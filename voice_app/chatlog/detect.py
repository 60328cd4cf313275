"""Content-based format detection (file names only pick candidates inside zips and folders)."""

from __future__ import annotations

import csv
import io
import json
import re

from voice_app.chatlog import whatsapp
from voice_app.chatlog.source import Member, binary_reason, sniff_encoding

_TELEGRAM_JSON = re.compile(
    r'"(?:from_id|date_unixtime|personal_information|text_entities)"\s*:'
    r'|"type"\s*:\s*"(?:personal_chat|private_group|private_supergroup|saved_messages|bot_chat|public_channel)"'
)
_SIGNAL = re.compile(r"^\[\d{4}-\d{2}-\d{2},? \d{1,2}:\d{2}\] [^:]+:")
_IMESSAGE = re.compile(r"^[A-Z][a-z]{2} \d{1,2}, \d{4}\s+\d{1,2}:\d{2}:\d{2}\s?[AP]M")
_WECHAT_TXT = re.compile(r"^\d{4}-\d{1,2}-\d{1,2} \d{1,2}:\d{2}:\d{2} \S.*$")
_LINE_HEAD = re.compile(
    r"^(?:\[LINE\] |Chat history with |\[LINE\]|.*とのトーク履歴|.*的聊天记录|.*的聊天記錄|与.*的聊天记录)"
)
_LINE_MSG = re.compile(r"^(?:[AP]M ?|午前|午後|上午|下午)?\d{1,2}:\d{2}(?: ?[AP]M)?\t")


def head_text(member: Member) -> str | None:
    head = member.head()
    if binary_reason(head):
        return None
    enc, bom = sniff_encoding(head)
    text = head[bom:].decode(enc, "replace")
    if len(head) == 64 * 1024:
        cut = text.rfind("\n")
        if cut > 0:
            text = text[:cut]
    return text.lstrip("\ufeff")


def sniff(member: Member) -> str | None:
    text = head_text(member)
    if text is None:
        return None
    return sniff_text(text)


def sniff_text(text: str) -> str | None:
    s = text.lstrip()
    if not s:
        return None
    if s[0] in "{[":
        fmt = _sniff_json(s)
        if fmt is not None or s[0] == "{":
            return fmt
    if s[0] == "<":
        low = s[:8192].lower()
        if "<smses" in low or "<sms " in low:
            return "sms_xml"
        if 'class="history"' in low or ('class="page_wrap"' in low and 'class="message' in low):
            return "telegram_html"
        return None
    lines = s.splitlines()[:200]
    nonempty = [ln for ln in lines if ln.strip()]
    first = nonempty[0] if nonempty else ""
    if "消息记录" in "".join(nonempty[:3]) and any(ln.startswith("消息对象") for ln in nonempty[:20]):
        return "qq_txt"
    if _LINE_HEAD.match(first) and (first.startswith("[LINE]") or any(_LINE_MSG.match(ln) for ln in nonempty[:40])):
        return "line"
    if sum(1 for ln in nonempty[:40] if _SIGNAL.match(ln)) >= max(1, min(3, len(nonempty) // 3)) and _SIGNAL.match(
        first
    ):
        return "signal"
    if whatsapp.sniff(lines):
        return "whatsapp"
    if _IMESSAGE.match(first):
        return "imessage"
    if _WECHAT_TXT.match(first) and len(nonempty) >= 2:
        return "wechat_txt"
    return _sniff_csv(s)


def _sniff_json(s: str) -> str | None:
    head = s[:65536]
    first_line = head.split("\n", 1)[0].strip()
    if first_line.startswith("{") and first_line.endswith("}") and "\n" in head.strip():
        try:
            obj = json.loads(first_line)
        except ValueError:
            obj = None
        if isinstance(obj, dict) and "messages" not in obj:
            return "generic_jsonl"
    if _TELEGRAM_JSON.search(head) or ('"chats"' in head and '"list"' in head):
        return "telegram_json"
    if '"sender_name"' in head and '"timestamp_ms"' in head:
        return "messenger"
    if '"participants"' in head and '"messages"' in head and '"thread_path"' in head:
        return "messenger"
    if '"guild"' in head and '"channel"' in head and '"messages"' in head:
        return "discord_json"
    if '"created_date"' in head and '"creator"' in head:
        return "google_chat"
    if '"messages"' in head and '"sender_name"' in head:
        return "messenger"
    return None


def csv_header(s: str) -> list[str] | None:
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


def _sniff_csv(s: str) -> str | None:
    header = csv_header(s)
    if not header or len(header) < 2:
        return None
    cols = {c.lower() for c in header}
    if {"strcontent", "issender"} <= cols or {"localid", "type", "strtime"} <= cols:
        return "wechat_csv"
    if "is_sender" in cols and ("msg" in cols or "type_name" in cols):
        return "wechat_csv"
    if {"authorid", "author", "date", "content"} <= cols:
        return "discord_csv"
    from voice_app.chatlog.generic import automap

    if automap(header) is not None:
        return "generic_csv"
    return None
