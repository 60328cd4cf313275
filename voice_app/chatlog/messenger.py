"""Facebook Messenger and Instagram downloads (``message_1.json``, ``message_2.json`` … of one thread).

Meta writes UTF-8 text as if each byte were a Latin-1 character ("Ã©" for "é"); every string is
repaired. Each file lists messages newest first; the pages are merged and sorted by time.
"""

from __future__ import annotations

import re
from typing import Any

from voice_app.chatlog.formats import JSON, Format, Head, corrupt
from voice_app.chatlog.model import CALL, DELETED, MEDIA, SYSTEM, TEXT, Conversation, ImportWarning, Message
from voice_app.chatlog.options import BAD_DATA, Options, clean, fix_mojibake, from_epoch, warn, warn_skipped
from voice_app.chatlog.source import Member, load_json

_MEDIA = ("photos", "videos", "audio_files", "gifs", "files", "sticker")
_PAGE = re.compile(r"message_(\d+)\.json$", re.I)
_UNSENT = re.compile(r"^(?:.+ unsent a message\.?|You unsent a message\.?)$")


def _s(value: Any) -> str:
    return clean(fix_mojibake(value)) if isinstance(value, str) else clean(value)


def _page(member: Member) -> tuple[int, str]:
    m = _PAGE.search(member.name)
    return (int(m.group(1)) if m else 0, member.name)


def parse(members: list[Member], opts: Options) -> Conversation:
    warnings: list[ImportWarning] = []
    messages: list[Message] = []
    participants: dict[str, None] = {}
    title = None
    offset = 0
    for member in sorted(members, key=_page):
        data = load_json(member, opts.at(offset))
        offset += member.size
        if not isinstance(data, dict) or not isinstance(data.get("messages"), list):
            raise corrupt(f'{member.display}: Messenger JSON without a "messages" list')
        if title is None and (data.get("title") or data.get("threadName")):
            title = _s(data.get("title") or data.get("threadName"))
        for p in data.get("participants") or ():
            name = p.get("name") if isinstance(p, dict) else p  # the 2024 end-to-end encrypted download lists names
            if isinstance(name, str) and name:
                participants.setdefault(_s(name), None)
        page: list[Message] = []
        for i, m in enumerate(data["messages"]):
            try:
                if not isinstance(m, dict):
                    warn(warnings, f"message #{i + 1}: not an object; skipped", file=member.display)
                    continue
                if "senderName" in m or "isUnsent" in m:  # the 2024 download of end-to-end encrypted chats
                    m = _from_e2ee(m)
                try:
                    ts = from_epoch(m["timestamp_ms"], ms=True)
                except (KeyError, ValueError, TypeError, OverflowError) as e:
                    warn(warnings, f"message #{i + 1}: no usable timestamp_ms ({e}); skipped", file=member.display)
                    continue
                sender = _s(m.get("sender_name", ""))
                text = _s(m.get("content", ""))
                mtype = m.get("type", "Generic")
                reactions = tuple(
                    (_s(r.get("actor", "")), _s(r.get("reaction", "")))
                    for r in (m.get("reactions") or ())
                    if isinstance(r, dict)
                )
                kind = TEXT
                if m.get("is_unsent") or _UNSENT.match(text):
                    kind = DELETED
                    text = text or "This message was unsent"
                elif mtype == "Call" or "call_duration" in m:
                    kind = CALL
                    text = text or f"call, {m.get('call_duration', 0)} s"
                elif mtype in ("Subscribe", "Unsubscribe") or m.get("is_geoblocked_for_viewer") is True:
                    kind = SYSTEM
                elif any(m.get(k) for k in _MEDIA):
                    kind = MEDIA
                    if not text:
                        first = next(k for k in _MEDIA if m.get(k))
                        text = f"<{first}>"
                elif isinstance(m.get("share"), dict):
                    link = _s(m["share"].get("link", "")) or _s(m["share"].get("share_text", ""))
                    if not text:
                        text, kind = link, MEDIA
                    elif link and link not in text:
                        text = f"{text}\n{link}"
                elif not text:
                    kind = MEDIA if mtype == "Share" else SYSTEM
                    text = text or f"<{mtype.lower()}>"
                sender_out = "" if kind == SYSTEM else sender
                page.append(Message(ts, sender_out, text, kind, False, None, reactions))
            except BAD_DATA as e:
                warn_skipped(warnings, i, e, member.display)
                continue
        page.reverse()  # newest first in the file → oldest first, so same-ms ties keep their order
        messages.extend(page)
    messages.sort(key=lambda m: m.timestamp)
    return Conversation("messenger", list(participants), messages, warnings, members[0].display, title)


def _from_e2ee(m: dict[str, Any]) -> dict[str, Any]:
    """A message of the end-to-end encrypted chats download (camelCase keys) in the classic layout."""
    out = {k: v for k, v in m.items() if k not in ("senderName", "text", "timestamp", "isUnsent", "media", "type")}
    out["sender_name"] = m.get("senderName", "")
    out["content"] = m.get("text", "")
    out["timestamp_ms"] = m.get("timestamp")
    out["is_unsent"] = m.get("isUnsent")
    if m.get("media"):
        out["files"] = m["media"]
    mtype = str(m.get("type") or "text")
    out["type"] = {"text": "Generic", "call": "Call"}.get(mtype.lower(), mtype)
    return out


def _sniff(head: Head) -> bool:
    text = head.json_head
    if '"senderName"' in text and '"timestamp"' in text and '"messages"' in text:
        return True
    return ('"sender_name"' in text and '"timestamp_ms"' in text) or (
        '"messages"' in text and ('"sender_name"' in text or ('"participants"' in text and '"thread_path"' in text))
    )


FORMATS = [
    Format(
        "messenger",
        "Facebook Messenger / Instagram download (message_N.json)",
        JSON,
        50,  # after Discord and Google Chat, whose files can also hold "messages"
        _sniff,
        parse,
        listed=4,
        paged=True,
    )
]
