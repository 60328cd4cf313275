"""iMessage conversations exported as TXT by imessage-exporter.

Each message is a block: a timestamp line (``May 17, 2022  5:29:42 PM`` plus optional read
receipts in parentheses), the sender (``Me`` for yourself), the body lines, then a blank line.
"""

from __future__ import annotations

import re
from datetime import datetime

from voice_app.chatlog.formats import TEXT as TEXT_FAMILY
from voice_app.chatlog.formats import Format, Head, corrupt
from voice_app.chatlog.model import DELETED, MEDIA, TEXT, Conversation, ImportWarning, Message
from voice_app.chatlog.options import Options, clean, warn
from voice_app.chatlog.source import Member, iter_lines

_STAMP = re.compile(r"^([A-Z][a-z]{2}) (\d{1,2}), (\d{4})\s+(\d{1,2}):(\d{2}):(\d{2})\s?([AP]M)\b")
_MONTHS = {
    m: i for i, m in enumerate(["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"], 1)
}
_ATTACH = re.compile(r"^(?:/|~/).+\.(?:heic|jpe?g|png|gif|mov|mp4|m4a|caf|pdf|webp|vcf)$|^Attachment missing", re.I)
_TAPBACK = re.compile(r"^\s*(Loved|Liked|Disliked|Laughed at|Emphasized|Questioned|Reacted \S+ to) by (.+?)\s*$")
_TAPBACK_EMOJI = {
    "Loved": "❤️",
    "Liked": "👍",
    "Disliked": "👎",
    "Laughed at": "😂",
    "Emphasized": "‼️",
    "Questioned": "❓",
}
_EDITED = re.compile(r"^\s*Edited \d+ (?:time|times)|^\s*Edited (?:\d+ )?(?:seconds?|minutes?|hours?) later", re.I)


def _stamp(m: re.Match[str]) -> datetime:
    mon, day, year, h, mi, s, ap = m.groups()
    hour = int(h) % 12 + (12 if ap == "PM" else 0)
    return datetime(int(year), _MONTHS[mon], int(day), hour, int(mi), int(s))


def parse(members: list[Member], opts: Options) -> Conversation:
    member = members[0]
    warnings: list[ImportWarning] = []
    messages: list[Message] = []
    ts: datetime | None = None
    sender: str | None = None
    body: list[str] = []
    start = 0

    def flush() -> None:
        if ts is None or sender is None:
            return
        lines = list(body)
        while lines and not lines[-1].strip():
            lines.pop()
        reactions: list[tuple[str, str]] = []
        edited = False
        keep: list[str] = []
        for ln in lines:
            t = _TAPBACK.match(ln)
            if t:
                verb = t.group(1)
                emoji = _TAPBACK_EMOJI.get(verb, verb.removeprefix("Reacted ").removesuffix(" to"))
                reactions.append((clean(t.group(2)), emoji))
            elif _EDITED.match(ln):
                edited = True
            elif ln.strip() in ("Tapbacks:", "Reactions:"):
                continue
            else:
                keep.append(ln)
        text = clean("\n".join(keep).strip())
        kind = TEXT
        if text.startswith("This message was unsent") or text.startswith("You unsent a message"):
            kind = DELETED
        elif keep and all(_ATTACH.match(k.strip()) for k in keep if k.strip()):
            kind = MEDIA
        messages.append(Message(ts, sender, text, kind, edited, None, tuple(reactions)))

    for lineno, line in iter_lines(member, warnings, opts.at(0)):
        m = _STAMP.match(line)
        if m:
            flush()
            try:
                ts = _stamp(m)
            except (ValueError, KeyError):
                warn(warnings, f"could not parse date {line.strip()!r}; message skipped", lineno, member.display)
                ts = None
            sender, body, start = None, [], lineno
            continue
        if ts is None:
            if line.strip():
                warn(warnings, "text outside any message; skipped", lineno, member.display)
            continue
        if sender is None:
            sender = clean(line.strip()) or "Me"
            continue
        body.append(line)
    flush()
    del start
    if not messages:
        raise corrupt(f"{member.display}: no iMessage block (date line, sender, text) found")
    return Conversation("imessage", [], messages, warnings, member.display)


_IMESSAGE = re.compile(r"^[A-Z][a-z]{2} \d{1,2}, \d{4}\s+\d{1,2}:\d{2}:\d{2}\s?[AP]M")


def _sniff(head: Head) -> bool:
    return bool(_IMESSAGE.match(head.first))


FORMATS = [Format("imessage", "iMessage TXT (imessage-exporter)", TEXT_FAMILY, 50, _sniff, parse, listed=8)]
