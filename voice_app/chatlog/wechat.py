"""WeChat (WeChatMsg/MemoTrace CSV and TXT, PyWxDump/WeClone CSV) and QQ message-manager TXT."""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator
from datetime import datetime

from voice_app.chatlog.dates import loose_datetime
from voice_app.chatlog.formats import CSV, Format, Head, corrupt
from voice_app.chatlog.formats import TEXT as TEXT_FAMILY
from voice_app.chatlog.model import CALL, DELETED, MEDIA, SYSTEM, TEXT, Conversation, ImportWarning, Message
from voice_app.chatlog.options import Options, clean, warn
from voice_app.chatlog.source import Member, iter_lines

# WeChat message Type codes (WeChatMsg/MemoTrace "Type" column)
_TYPE_KIND = {
    1: TEXT,
    3: MEDIA,  # image
    34: MEDIA,  # voice
    42: MEDIA,  # contact card
    43: MEDIA,  # video
    47: MEDIA,  # sticker
    48: MEDIA,  # location
    49: MEDIA,  # app message: file, link, music, quote …
    50: CALL,  # voice/video call
    10000: SYSTEM,
    10002: SYSTEM,  # recall / system notice
}
_TYPE_LABEL = {3: "图片", 34: "语音", 42: "名片", 43: "视频", 47: "表情包", 48: "位置", 49: "文件/链接", 50: "通话"}
# PyWxDump / WeClone "type_name" values
_TYPENAME_KIND = {
    "文本": TEXT,
    "引用回复": TEXT,
    "图片": MEDIA,
    "语音": MEDIA,
    "视频": MEDIA,
    "动画表情": MEDIA,
    "表情": MEDIA,
    "文件": MEDIA,
    "分享链接": MEDIA,
    "卡片式链接": MEDIA,
    "位置": MEDIA,
    "名片": MEDIA,
    "合并转发的聊天记录": MEDIA,
    "小程序": MEDIA,
    "音视频通话": CALL,
    "语音通话": CALL,
    "视频通话": CALL,
    "系统通知": SYSTEM,
    "拍一拍": SYSTEM,
    "撤回消息": DELETED,
    # English type names (WeClone's sample format)
    "text": TEXT,
    "quote": TEXT,
    "reply": TEXT,
    "image": MEDIA,
    "voice": MEDIA,
    "video": MEDIA,
    "sticker": MEDIA,
    "emoji": MEDIA,
    "animated emoji": MEDIA,
    "file": MEDIA,
    "link": MEDIA,
    "location": MEDIA,
    "card": MEDIA,
    "merged forward": MEDIA,
    "mini program": MEDIA,
    "call": CALL,
    "voice call": CALL,
    "video call": CALL,
    "system": SYSTEM,
    "system notification": SYSTEM,
    "pat": SYSTEM,
    "recall": DELETED,
}
_RECALL = re.compile(r"撤回了一条消息|recalled a message")


def dict_rows(
    member: Member, warnings: list[ImportWarning], opts: Options, delimiter: str = ","
) -> Iterator[tuple[int, dict[str, str]]]:
    """CSV rows as dicts (streamed; the line number is the row's first physical line)."""
    line_iter = iter_lines(member, warnings, opts.at(0))
    last = [0]

    def physical() -> Iterator[str]:
        for n, ln in line_iter:
            last[0] = n
            yield ln + "\n"

    reader = csv.reader(physical(), delimiter=delimiter)
    try:
        header = [h.strip().lstrip("\ufeff") for h in next(reader)]
    except StopIteration:
        return
    except csv.Error as e:
        raise corrupt(f"{member.display}: unreadable CSV header ({e})") from e
    while True:
        start = last[0] + 1
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as e:
            warn(warnings, f"unreadable CSV row ({e}); skipped", start, member.display)
            continue
        if not row or all(not c for c in row):
            continue
        if len(row) < len(header):
            row += [""] * (len(header) - len(row))
        yield start, dict(zip(header, row, strict=False))


_ID = re.compile(r"^(?:wxid_[\w-]+|[\w.-]+@(?:chatroom|openim)|gh_\w+|(?=[a-z0-9_-]*[a-z])[A-Za-z0-9_-]{6,30})$")


def is_account_id(value: str) -> bool:
    """A WeChat account id (``wxid_…``, a custom id with digits) rather than a name a person goes by."""
    return bool(_ID.match(value)) and (
        value.startswith(("wxid_", "gh_")) or "@" in value or any(c.isdigit() for c in value)
    )


def _display(low: dict[str, str], raw: str) -> str:
    """The name the user knows the sender by: the remark they set, else the nickname, else the id."""
    if raw and not is_account_id(raw):
        return raw
    return clean(low.get("remark", "")).strip() or clean(low.get("nickname", "")).strip() or raw


def parse_csv(members: list[Member], opts: Options) -> Conversation:
    member = members[0]
    warnings: list[ImportWarning] = []
    messages: list[Message] = []
    owner_rows: list[int] = []  # indexes of the owner's messages
    raw_ids: list[str] = []  # each message's sender as the file writes it
    owner_ids: set[str] = set()
    owner_names: dict[str, int] = {}
    for lineno, row in dict_rows(member, warnings, opts):
        low = {k.lower(): v for k, v in row.items() if k}
        stamp = low.get("strtime") or low.get("createtime") or low.get("time") or ""
        try:
            if not stamp.strip():
                raise ValueError("no time column")
            ts = loose_datetime(stamp)
        except (ValueError, OverflowError, OSError) as e:
            warn(warnings, f"could not parse time {stamp.strip()[:40]!r} ({e}); row skipped", lineno, member.display)
            continue
        if "type_name" in low or "is_sender" in low:  # PyWxDump / WeClone
            text = clean(low.get("msg") or low.get("content") or "")
            type_name = low.get("type_name", "文本").strip()
            kind = _TYPENAME_KIND.get(type_name) or _TYPENAME_KIND.get(
                type_name.casefold(), MEDIA if type_name else TEXT
            )
            is_me = low.get("is_sender", "0").strip() == "1"
            raw = clean(low.get("talker", "")).strip()
            if not text and kind == MEDIA:
                text = f"[{type_name}]"
        else:  # WeChatMsg / MemoTrace
            try:
                code = int(low.get("type", "1") or 1)
            except ValueError:
                code = 1
            kind = _TYPE_KIND.get(code, MEDIA)
            text = clean(low.get("strcontent", ""))
            is_me = low.get("issender", "0").strip() == "1"
            raw = clean(low.get("sender", "")).strip()
            if kind in (MEDIA, CALL) and (not text or text.startswith("<")):
                text = f"[{_TYPE_LABEL.get(code, '消息')}]"
        if kind == SYSTEM and _RECALL.search(text):
            kind = DELETED
        if is_me:
            owner_rows.append(len(messages))
            if raw:
                owner_ids.add(raw)
                if not is_account_id(raw):
                    owner_names[raw] = owner_names.get(raw, 0) + 1
            sender = raw
        else:
            sender = "" if kind == SYSTEM else _display(low, raw)
        raw_ids.append(raw)
        messages.append(Message(ts, sender, text, kind))
    if not messages and not warnings:
        raise corrupt(f"{member.display}: the WeChat CSV has a header but no messages")
    me = opts.mapping.get("me") or (max(owner_names, key=lambda n: owner_names[n]) if owner_names else "我")
    aliases: dict[str, str] = {}
    mine = set(owner_rows)
    for i, m in enumerate(messages):
        if i in mine or (raw_ids[i] in owner_ids and m.kind != SYSTEM):  # the owner, from any of their devices
            m.sender = me
        if raw_ids[i] and raw_ids[i] != m.sender and m.sender and is_account_id(raw_ids[i]):
            aliases.setdefault(raw_ids[i], m.sender)
    return Conversation("wechat_csv", [], messages, warnings, member.display, aliases=aliases)


_HEADER = re.compile(r"^(\d{4}-\d{1,2}-\d{1,2} \d{1,2}:\d{2}:\d{2}) (.+?)\s*$")
_QQ_ID = re.compile(r"[(<（][^()<>（）]*[)>）]$")
_MEDIA_TXT = re.compile(r"^\[(?:图片|语音|视频|表情|动画表情|文件|表情包|图片消息|链接|位置|名片)\]$")


def _parse_blocks(member: Member, opts: Options, fmt: str, qq: bool) -> Conversation:
    warnings: list[ImportWarning] = []
    messages: list[Message] = []
    cur: tuple[datetime, str, list[str]] | None = None
    preamble: list[int] = []
    title = None

    def flush() -> None:
        if cur is None:
            return
        ts, sender, body = cur
        while body and not body[-1].strip():
            body.pop()
        text = clean("\n".join(body))
        kind = TEXT
        if _MEDIA_TXT.match(text):
            kind = MEDIA
        elif _RECALL.search(text) and len(text) < 60:
            kind = DELETED
        elif sender in ("系统消息", "系统"):
            kind = SYSTEM
        messages.append(Message(ts, "" if kind == SYSTEM else sender, text, kind))

    for lineno, line in iter_lines(member, warnings, opts.at(0)):
        m = _HEADER.match(line)
        if m:
            try:
                ts = datetime.strptime(m.group(1), "%Y-%m-%d %H:%M:%S")
            except ValueError:
                warn(warnings, f"could not parse date {m.group(1)!r}; message skipped", lineno, member.display)
                flush()
                cur = None
                continue
            flush()
            name = clean(m.group(2))
            if qq:
                name = _QQ_ID.sub("", name).strip() or name
            cur = (ts, name, [])
            continue
        if cur is not None:
            cur[2].append(line)
        elif line.strip():
            if qq and line.startswith("消息对象:"):
                title = clean(line.split(":", 1)[1].strip())
            elif not qq or not (line.startswith(("消息", "=")) or "消息记录" in line):
                preamble.append(lineno)
    flush()
    if preamble:
        warn(warnings, f"{len(preamble)} line(s) before the first message were skipped", preamble[0], member.display)
    if not messages:
        raise corrupt(f'{member.display}: no message header ("YYYY-MM-DD HH:MM:SS name") found')
    return Conversation(fmt, [], messages, warnings, member.display, title)


def parse_txt(members: list[Member], opts: Options) -> Conversation:
    return _parse_blocks(members[0], opts, "wechat_txt", qq=False)


def parse_qq(members: list[Member], opts: Options) -> Conversation:
    return _parse_blocks(members[0], opts, "qq_txt", qq=True)


_WECHAT_TXT = re.compile(r"^\d{4}-\d{1,2}-\d{1,2} \d{1,2}:\d{2}:\d{2} \S.*$")


def _sniff_csv(head: Head) -> bool:
    cols = {c.lower() for c in head.csv_header or ()}
    if {"strcontent", "issender"} <= cols or {"localid", "type", "strtime"} <= cols:
        return True
    return "is_sender" in cols and ("msg" in cols or "type_name" in cols)


def _sniff_txt(head: Head) -> bool:
    return bool(_WECHAT_TXT.match(head.first)) and len(head.nonempty) >= 2


def _sniff_qq(head: Head) -> bool:
    return "消息记录" in "".join(head.nonempty[:3]) and any(ln.startswith("消息对象") for ln in head.nonempty[:20])


FORMATS = [
    Format(
        "wechat_csv", "WeChat CSV (WeChatMsg/MemoTrace, PyWxDump/WeClone)", CSV, 10, _sniff_csv, parse_csv, listed=5
    ),
    Format("wechat_txt", "WeChat TXT (WeChatMsg/MemoTrace)", TEXT_FAMILY, 60, _sniff_txt, parse_txt, listed=6),
    Format("qq_txt", "QQ message manager TXT export", TEXT_FAMILY, 10, _sniff_qq, parse_qq, listed=7),
]
