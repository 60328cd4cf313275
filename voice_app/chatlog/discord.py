"""Discord channels exported by DiscordChatExporter (JSON and CSV)."""

from __future__ import annotations

from typing import Any

from voice_app.chatlog.dates import text_datetime
from voice_app.chatlog.formats import CSV, JSON, Format, Head, corrupt
from voice_app.chatlog.model import CALL, MEDIA, SYSTEM, TEXT, Conversation, ImportWarning, Message
from voice_app.chatlog.options import BAD_DATA, Options, clean, parse_iso, warn, warn_skipped
from voice_app.chatlog.source import Member, load_json

_TEXT_TYPES = {"Default", "Reply", "ThreadStarterMessage", "ChatInputCommand", "ContextMenuCommand", ""}


def _author(a: Any) -> str:
    if not isinstance(a, dict):
        return clean(a)
    return clean(a.get("nickname") or a.get("name") or "")


def parse_json(members: list[Member], opts: Options) -> Conversation:
    member = members[0]
    data = load_json(member, opts.at(0))
    if not isinstance(data, dict) or not isinstance(data.get("messages"), list):
        raise corrupt(f'{member.display}: DiscordChatExporter JSON without a "messages" list')
    warnings: list[ImportWarning] = []
    messages: list[Message] = []
    by_id: dict[Any, str] = {}
    for i, m in enumerate(data["messages"]):
        try:
            if not isinstance(m, dict):
                warn(warnings, f"message #{i + 1}: not an object; skipped", file=member.display)
                continue
            try:
                ts = parse_iso(str(m["timestamp"]))
            except (KeyError, ValueError) as e:
                warn(
                    warnings, f"message #{i + 1} (id {m.get('id')}): bad timestamp ({e}); skipped", file=member.display
                )
                continue
            mtype = str(m.get("type", "Default"))
            text = clean(m.get("content", ""))
            kind = TEXT
            if mtype == "Call":
                kind = CALL
                text = text or "call"
            elif mtype not in _TEXT_TYPES:
                kind = SYSTEM
                text = text or mtype
            elif not text and (m.get("attachments") or m.get("stickers") or m.get("embeds")):
                kind = MEDIA
                att = (m.get("attachments") or m.get("stickers") or [{}])[0]
                text = (
                    f"<{clean(att.get('fileName') or att.get('name') or 'attachment')}>"
                    if isinstance(att, dict)
                    else "<attachment>"
                )
            reactions: list[tuple[str, str]] = []
            for r in m.get("reactions") or ():
                if not isinstance(r, dict):
                    continue
                emoji = r.get("emoji", {})
                glyph = clean(emoji.get("name", "") if isinstance(emoji, dict) else emoji)
                users = r.get("users") or []
                if users:
                    reactions.extend((_author(u), glyph) for u in users)
                else:
                    reactions.extend(("", glyph) for _ in range(int(r.get("count", 1) or 1)))
            ref = m.get("reference")
            reply_to = None
            if isinstance(ref, dict) and ref.get("messageId"):
                reply_to = by_id.get(str(ref["messageId"]), f"#{ref['messageId']}")
            msg = Message(
                ts, "" if kind == SYSTEM else _author(m.get("author")), text, kind, bool(m.get("timestampEdited")),
                reply_to, tuple(reactions),
            )  # fmt: skip
            by_id[str(m.get("id"))] = text
            messages.append(msg)
        except BAD_DATA as e:
            warn_skipped(warnings, i, e, member.display)
            continue
    channel = data.get("channel")
    channel = channel if isinstance(channel, dict) else {}
    return Conversation("discord_json", [], messages, warnings, member.display, clean(channel.get("name")) or None)


def parse_csv(members: list[Member], opts: Options) -> Conversation:
    from datetime import datetime

    from voice_app.chatlog.wechat import dict_rows

    member = members[0]
    warnings: list[ImportWarning] = []
    messages: list[Message] = []
    for lineno, row in dict_rows(member, warnings, opts):
        date = row.get("Date", "").strip()
        try:
            try:
                ts = parse_iso(date)
            except ValueError:
                try:
                    ts = datetime.strptime(date, "%d-%b-%y %I:%M %p")
                except ValueError:
                    ts = text_datetime(date)  # DiscordChatExporter's --locale date layouts
        except ValueError:
            warn(warnings, f"could not parse date {date!r}; row skipped", lineno, member.display)
            continue
        text = clean(row.get("Content", ""))
        attachments = clean(row.get("Attachments", "")).strip()
        kind = TEXT
        if not text and attachments:
            text, kind = attachments, MEDIA
        reactions = tuple(
            ("", r.split("(")[0].strip()) for r in clean(row.get("Reactions", "")).split(",") if r.strip()
        )
        messages.append(Message(ts, clean(row.get("Author", "")).strip(), text, kind, False, None, reactions))
    if not messages and not warnings:
        raise corrupt(f"{member.display}: the Discord CSV has a header but no messages")
    return Conversation("discord_csv", [], messages, warnings, member.display)


def _sniff_json(head: Head) -> bool:
    text = head.json_head
    return '"guild"' in text and '"channel"' in text and '"messages"' in text


def _sniff_csv(head: Head) -> bool:
    return {"authorid", "author", "date", "content"} <= {c.lower() for c in head.csv_header or ()}


FORMATS = [
    Format("discord_json", "Discord JSON (DiscordChatExporter)", JSON, 40, _sniff_json, parse_json, listed=10),
    Format("discord_csv", "Discord CSV (DiscordChatExporter)", CSV, 20, _sniff_csv, parse_csv, listed=11),
]
