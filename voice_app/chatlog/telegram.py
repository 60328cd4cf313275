"""Telegram Desktop exports: ``result.json`` (one chat or the whole account) and paged HTML."""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator
from datetime import datetime
from html.parser import HTMLParser
from typing import Any

from voice_app.chatlog.formats import JSON, MARKUP, Format, Head, corrupt
from voice_app.chatlog.jsonstream import STREAM_JSON_BYTES, iter_json_array
from voice_app.chatlog.model import CALL, MEDIA, SYSTEM, TEXT, Conversation, ImportWarning, Message
from voice_app.chatlog.options import BAD_DATA, Options, clean, from_epoch, parse_iso, pick_chat, warn, warn_skipped
from voice_app.chatlog.source import Member, load_json, read_text

_MEDIA_KEYS = ("photo", "file", "media_type", "sticker_emoji", "location_information", "contact_information", "poll")


def _text_of(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        parts = []
        for part in value:
            if isinstance(part, str):
                parts.append(part)
            elif isinstance(part, dict):
                t = part.get("text", "")
                parts.append(t if isinstance(t, str) else "")
        return "".join(parts)
    return "" if value is None else str(value)


def _chat_messages(chat: dict[str, Any], display: str, warnings: list[ImportWarning]) -> list[Message]:
    raw = chat.get("messages")
    if not isinstance(raw, list | Iterator):
        raise corrupt(f'{display}: the chat {chat.get("name")!r} has no "messages" list')
    by_id: dict[str, str] = {}
    out: list[Message] = []
    for i, m in enumerate(raw):
        try:
            if not isinstance(m, dict):
                warn(warnings, f"message #{i + 1}: not an object; skipped", file=display)
                continue
            try:
                ts = parse_iso(str(m["date"])) if "date" in m else from_epoch(m["date_unixtime"])
            except (KeyError, ValueError, TypeError, OverflowError) as e:
                warn(
                    warnings,
                    f"message #{i + 1} (id {m.get('id')}): could not parse its date ({e}); skipped",
                    file=display,
                )
                continue
            text = clean(_text_of(m.get("text", "")))
            reply_to = None
            if "reply_to_message_id" in m:
                reply_to = by_id.get(str(m["reply_to_message_id"]), f"#{m['reply_to_message_id']}")
            reactions: list[tuple[str, str]] = []
            for r in m.get("reactions") or ():
                if not isinstance(r, dict):
                    continue
                emoji = clean(r.get("emoji") or r.get("document_id") or "")
                recent = r.get("recent") or []
                if isinstance(recent, list) and recent:
                    for who in recent:
                        if isinstance(who, dict):
                            reactions.append((clean(who.get("from", "")), emoji))
                else:
                    reactions.extend(("", emoji) for _ in range(int(r.get("count", 1) or 1)))
            if m.get("type") == "service":
                action = str(m.get("action", ""))
                sender = clean(m.get("actor", ""))
                if action == "phone_call" or action == "group_call":
                    dur = m.get("duration_seconds")
                    reason = m.get("discard_reason")
                    desc = "call" + (f", {dur} s" if dur else "") + (f" ({reason})" if reason else "")
                    msg = Message(ts, sender, text or desc, CALL)
                else:
                    msg = Message(ts, "", text or f"{sender} {action.replace('_', ' ')}".strip(), SYSTEM)
            else:
                sender = sys.intern(clean(m.get("from") or m.get("actor") or ""))  # one string per person
                kind = TEXT
                if any(k in m for k in _MEDIA_KEYS):
                    kind = MEDIA
                    if not text:
                        text = f"<{m.get('media_type') or ('photo' if 'photo' in m else 'file')}>"
                msg = Message(
                    ts, sender, text, kind, "edited" in m or "edited_unixtime" in m, reply_to, tuple(reactions)
                )
            by_id[str(m.get("id"))] = msg.text
            out.append(msg)
        except BAD_DATA as e:
            warn_skipped(warnings, i, e, display)
            continue
    return out


def parse_json(members: list[Member], opts: Options) -> Conversation:
    member = members[0]
    if member.size > STREAM_JSON_BYTES:  # a single chat's export, streamed message by message
        streamed = iter_json_array(member, "messages", opts.at(0))
        if streamed is not None:
            header, items = streamed
            warnings: list[ImportWarning] = []
            messages = _chat_messages({**header, "messages": items}, member.display, warnings)
            return Conversation(
                "telegram_json", [], messages, warnings, member.display, clean(header.get("name")) or None
            )
    data = load_json(member, opts.at(0))
    warnings = []
    if isinstance(data, dict) and isinstance(data.get("chats"), dict) and "list" in data["chats"]:
        chats: dict[str, list[Message]] = {}
        titles = {}
        for chat in data["chats"].get("list") or []:
            if not isinstance(chat, dict) or not isinstance(chat.get("messages"), list):
                continue
            name = clean(chat.get("name") or f"chat {chat.get('id')}")
            if name in chats:
                name = f"{name} ({chat.get('id')})"
            chats[name] = _chat_messages(chat, member.display, warnings)
            titles[name] = chat.get("type")
        personal = {n: msgs for n, msgs in chats.items() if titles[n] == "personal_chat"} or chats
        title, messages = pick_chat(personal, opts.mapping.get("chat"), "chat", warnings, member.display)
        return Conversation("telegram_json", [], messages, warnings, member.display, title or None)
    if not isinstance(data, dict) or not isinstance(data.get("messages"), list):
        raise corrupt(f'{member.display}: Telegram JSON without a "messages" list (not a chat export?)')
    messages = _chat_messages(data, member.display, warnings)
    return Conversation("telegram_json", [], messages, warnings, member.display, clean(data.get("name")) or None)


# --- HTML -----------------------------------------------------------------------------------------

_TITLE_DATE = re.compile(r"(\d{1,2})\.(\d{1,2})\.(\d{4}) (\d{1,2}):(\d{2})(?::(\d{2}))?")
_PAGE_NO = re.compile(r"messages(\d*)\.html?$", re.I)


class _TelegramHTML(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[tuple[str, set[str]]] = []
        self.messages: list[dict[str, Any]] = []
        self.cur: dict[str, Any] | None = None
        self.field: str | None = None
        self.field_depth = 0
        self.buf: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        classes = set((a.get("class") or "").split())
        if tag in ("br",):
            if self.field:
                self.buf.append("\n")
            return
        if tag in ("img", "meta", "link", "input", "hr"):
            return
        self.stack.append((tag, classes))
        depth = len(self.stack)
        if tag == "div" and "message" in classes and self.field is None:
            self.cur = {
                "service": "service" in classes,
                "joined": "joined" in classes,
                "id": a.get("id"),
                "line": self.getpos()[0],
                "from": None,
                "text": None,
                "date": None,
                "media": False,
                "edited": False,
                "reply": None,
                "reactions": [],
            }
            self.messages.append(self.cur)
            if self.cur["service"]:
                self._start("service", depth)
            return
        if self.cur is None:
            return
        if "date" in classes and "details" in classes and a.get("title"):
            self.cur["date"] = a["title"]
            if "edited" in (a.get("title") or "").lower():
                self.cur["edited"] = True
        if self.field == "reply" and tag == "a" and "go_to_message" in (a.get("href") or ""):
            self.cur["reply_id"] = (a.get("href") or "").rsplit("go_to_message", 1)[-1]
        if self.field is not None:
            return
        if "from_name" in classes:
            self._start("from", depth)
        elif "text" in classes and tag == "div":
            self._start("text", depth)
        elif "reply_to" in classes:
            self._start("reply", depth)
        elif "reaction" in classes:
            self._start("reaction", depth)
        elif classes & {"media_wrap", "photo_wrap", "video_file_wrap", "animated_wrap", "sticker_wrap"} or any(
            c.startswith("media_") for c in classes
        ):
            self.cur["media"] = True
        if "forwarded" in classes:
            self.cur["forwarded"] = True

    def _start(self, name: str, depth: int) -> None:
        self.field, self.field_depth, self.buf = name, depth, []

    def handle_endtag(self, tag: str) -> None:
        if tag in ("br", "img", "meta", "link", "input", "hr"):
            return
        if not self.stack:
            return
        depth = len(self.stack)
        # tolerate sloppy nesting: pop to the matching tag
        while self.stack and self.stack[-1][0] != tag:
            self.stack.pop()
        if self.stack:
            self.stack.pop()
        if self.field is not None and len(self.stack) < self.field_depth and self.cur is not None:
            value = "".join(self.buf).strip()
            if self.field == "from":
                self.cur["from"] = value
            elif (self.field == "text" and self.cur["text"] is None) or self.field == "service":
                self.cur["text"] = value
            elif self.field == "reply":
                self.cur["reply"] = value
            elif self.field == "reaction":
                self.cur["reactions"].append(value)
            self.field = None
        del depth

    def handle_data(self, data: str) -> None:
        if self.field is not None:
            self.buf.append(data)


def _html_date(title: str) -> datetime:
    m = _TITLE_DATE.search(title)
    if not m:
        raise ValueError(title)
    d, mo, y, h, mi, s = m.groups()
    return datetime(int(y), int(mo), int(d), int(h), int(mi), int(s or 0))


def _page_key(member: Member) -> tuple[int, str]:
    m = _PAGE_NO.search(member.name)
    return (int(m.group(1) or 1) if m else 0, member.name)


def parse_html(members: list[Member], opts: Options) -> Conversation:
    warnings: list[ImportWarning] = []
    messages: list[Message] = []
    offset = 0
    prev_sender = ""
    title = None
    by_id: dict[str, str] = {}
    for member in sorted(members, key=_page_key):
        text = read_text(member, opts.at(offset))
        offset += member.size
        if title is None:
            mt = re.search(r'<div class="text bold">\s*([^<]+?)\s*</div>', text)
            title = clean(mt.group(1)) if mt else None
        p = _TelegramHTML()
        p.feed(text)
        p.close()
        for raw in p.messages:
            if raw["service"]:
                continue  # date separators and service notices without a timestamp
            if raw["date"] is None:
                warn(warnings, f"message {raw['id']}: no date; skipped", raw["line"], member.display)
                continue
            try:
                ts = _html_date(raw["date"])
            except ValueError:
                warn(
                    warnings,
                    f"message {raw['id']}: could not parse date {raw['date']!r}; skipped",
                    raw["line"],
                    member.display,
                )
                continue
            sender = clean(raw["from"]) if raw["from"] else prev_sender
            if raw["from"]:
                prev_sender = sender
            body = clean(raw["text"] or "")
            kind = TEXT
            if raw["media"]:
                kind = MEDIA
                body = body or "<media>"
            reactions = tuple(_split_reaction(r) for r in raw["reactions"] if r)
            reply = None
            if raw.get("reply_id"):
                reply = by_id.get(raw["reply_id"], "#" + raw["reply_id"])
            elif raw["reply"]:
                reply = clean(raw["reply"])
            if raw["id"]:
                by_id[str(raw["id"]).removeprefix("message")] = body
            messages.append(Message(ts, sender, body, kind, raw["edited"], reply, reactions))
    return Conversation("telegram_html", [], messages, warnings, members[0].display, title)


def _split_reaction(value: str) -> tuple[str, str]:
    parts = value.split()
    if not parts:
        return ("", "")
    emoji = parts[0]
    who = " ".join(parts[1:])
    if who.isdigit():
        who = ""
    return (clean(who), clean(emoji))


_TELEGRAM_JSON = re.compile(
    r'"(?:from_id|date_unixtime|personal_information|text_entities)"\s*:'
    r'|"type"\s*:\s*"(?:personal_chat|private_group|private_supergroup|saved_messages|bot_chat|public_channel)"'
)


def _sniff_json(head: Head) -> bool:
    text = head.json_head
    return bool(_TELEGRAM_JSON.search(text)) or ('"chats"' in text and '"list"' in text)


def _sniff_html(head: Head) -> bool:
    low = head.text[:8192].lower()
    return 'class="history"' in low or ('class="page_wrap"' in low and 'class="message' in low)


FORMATS = [
    Format(
        "telegram_json",
        "Telegram Desktop export, JSON (result.json, single chat or whole account)",
        JSON,
        20,
        _sniff_json,
        parse_json,
        listed=2,
    ),
    Format(
        "telegram_html",
        "Telegram Desktop export, HTML (messages.html pages, folder or .zip)",
        MARKUP,
        20,
        _sniff_html,
        parse_html,
        listed=3,
        paged=True,
    ),
]
