"""Google Chat from Google Takeout (``Google Chat/Groups/<DM or space>/messages.json``)."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from voice_app.chatlog.dates import text_datetime
from voice_app.chatlog.formats import JSON, Format, Head, corrupt
from voice_app.chatlog.model import DELETED, MEDIA, TEXT, Conversation, ImportWarning, Message
from voice_app.chatlog.options import BAD_DATA, Options, clean, parse_iso, warn, warn_skipped
from voice_app.chatlog.source import Member, load_json

_DATE = re.compile(r"(?:[A-Za-z]+, )?([A-Za-z]+) (\d{1,2}), (\d{4})(?: at|,) (\d{1,2}):(\d{2})(?::(\d{2}))?\s?([AP]M)")
_MONTHS = {
    m: i
    for i, m in enumerate(
        [
            "January",
            "February",
            "March",
            "April",
            "May",
            "June",
            "July",
            "August",
            "September",
            "October",
            "November",
            "December",
        ],
        1,
    )
}


def _date(value: str) -> datetime:
    v = clean(value)
    m = _DATE.search(v)
    if not m:
        try:
            return parse_iso(v)
        except ValueError:
            return text_datetime(v)  # the account's language: "Dienstag, 12. März 2024 um 15:14:00 UTC"
    mon, d, y, h, mi, s, ap = m.groups()
    hour = int(h) % 12 + (12 if ap == "PM" else 0)
    return datetime(int(y), _MONTHS[mon], int(d), hour, int(mi), int(s or 0))


def parse(members: list[Member], opts: Options) -> Conversation:
    member = members[0]
    data = load_json(member, opts.at(0))
    if not isinstance(data, dict) or not isinstance(data.get("messages"), list):
        raise corrupt(f'{member.display}: Google Chat JSON without a "messages" list')
    warnings: list[ImportWarning] = []
    messages: list[Message] = []
    emails: dict[str, str] = {}
    raw: list[tuple[Message, list[Any]]] = []
    for i, m in enumerate(data["messages"]):
        try:
            if not isinstance(m, dict):
                warn(warnings, f"message #{i + 1}: not an object; skipped", file=member.display)
                continue
            creator = m.get("creator")
            creator = creator if isinstance(creator, dict) else {}
            name = clean(creator.get("name") or creator.get("email") or "")
            if creator.get("email"):
                emails[str(creator["email"])] = name
            try:
                ts = _date(str(m.get("created_date", "")))
            except (ValueError, KeyError) as e:
                warn(warnings, f"message #{i + 1}: could not parse date ({e}); skipped", file=member.display)
                continue
            text = clean(m.get("text", ""))
            kind = TEXT
            if m.get("deleted_date") or m.get("message_state") == "DELETED":
                kind = DELETED
            elif not text and (m.get("attached_files") or m.get("annotations")):
                kind = MEDIA
                files = m.get("attached_files") or [{}]
                first = files[0] if isinstance(files[0], dict) else {}
                text = f"<{clean(first.get('original_name') or first.get('export_name') or 'attachment')}>"
            reply = None
            q = m.get("quoted_message_metadata")
            if isinstance(q, dict):
                reply = clean(q.get("text")) or None
            msg = Message(ts, name, text, kind, bool(m.get("updated_date")), reply)
            raw.append((msg, m.get("reactions") or []))
            messages.append(msg)
        except BAD_DATA as e:
            warn_skipped(warnings, i, e, member.display)
            continue
    for msg, reactions in raw:
        out = []
        for r in reactions:
            if not isinstance(r, dict):
                continue
            emoji = r.get("emoji")
            emoji = emoji if isinstance(emoji, dict) else {}
            glyph = clean(emoji.get("unicode") or emoji.get("custom_emoji", {}).get("name", "") if emoji else "")
            for who in r.get("reactor_emails") or []:
                out.append((emails.get(str(who), clean(who)), glyph))
        msg.reactions = tuple(out)
    return Conversation("google_chat", [], messages, warnings, member.display)


def _sniff(head: Head) -> bool:
    return '"created_date"' in head.json_head and '"creator"' in head.json_head


FORMATS = [Format("google_chat", "Google Chat Takeout (messages.json)", JSON, 45, _sniff, parse, listed=14)]
