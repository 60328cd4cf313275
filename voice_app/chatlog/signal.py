"""Signal chats exported by signal-export as Markdown (``chat.md``).

Lines look like ``[2023-05-01 18:22] Alex: text``; attachments are Markdown links/images,
quotes start with ``>``, and reactions follow as ``(- Sam: ❤️ -)``.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from voice_app.chatlog.formats import TEXT as TEXT_FAMILY
from voice_app.chatlog.formats import Format, Head, corrupt
from voice_app.chatlog.model import DELETED, MEDIA, TEXT, Conversation, ImportWarning, Message
from voice_app.chatlog.options import Options, clean, warn
from voice_app.chatlog.source import Member, iter_lines

_HEADER = re.compile(r"^\[(\d{4})-(\d{2})-(\d{2}),? (\d{1,2}):(\d{2})(?::(\d{2}))?\] ([^:]+?): ?(.*)$")
_REACTION = re.compile(r"\(- ?([^:()]+?): ?(\S+?) ?-\)")
_ATTACHMENT = re.compile(r"^!?\[[^\]]*\]\([^)]*\)$")


def parse(members: list[Member], opts: Options) -> Conversation:
    member = members[0]
    warnings: list[ImportWarning] = []
    messages: list[Message] = []
    cur: list[Any] | None = None  # [ts, sender, lines]

    def flush() -> None:
        if cur is None:
            return
        ts, sender, lines = cur
        while lines and not lines[-1].strip():
            lines.pop()
        text = "\n".join(lines)
        reactions = tuple((clean(a), clean(b)) for a, b in _REACTION.findall(text))
        text = clean(_REACTION.sub("", text).strip())
        reply_to = None
        body = text.split("\n")
        if body and body[0].startswith(">"):
            quoted = [b[1:].strip() for b in body if b.startswith(">")]
            reply_to = "\n".join(quoted).strip() or None
            text = "\n".join(b for b in body if not b.startswith(">")).strip()
        kind = TEXT
        if text and all(_ATTACHMENT.match(b.strip()) for b in text.split("\n") if b.strip()):
            kind = MEDIA
        elif text in ("This message was deleted.", "This message was deleted"):
            kind = DELETED
        messages.append(Message(ts, sender, text, kind, False, reply_to, reactions))

    for lineno, line in iter_lines(member, warnings, opts.at(0)):
        m = _HEADER.match(line)
        if m:
            flush()
            y, mo, d, h, mi, s, sender, text = m.groups()
            try:
                ts = datetime(int(y), int(mo), int(d), int(h), int(mi), int(s or 0))
            except ValueError:
                warn(warnings, "could not parse date; message skipped", lineno, member.display)
                cur = None
                continue
            cur = [ts, clean(sender.strip()), [text]]
        elif cur is not None:
            cur[2].append(line)
        elif line.strip():
            warn(warnings, "text before the first message; skipped", lineno, member.display)
    flush()
    if not messages:
        raise corrupt(f'{member.display}: no Signal message line ("[YYYY-MM-DD HH:MM] Name: text") found')
    return Conversation("signal", [], messages, warnings, member.display)


_SIGNAL = re.compile(r"^\[\d{4}-\d{2}-\d{2},? \d{1,2}:\d{2}\] [^:]+:")


def _sniff(head: Head) -> bool:
    lines = head.nonempty
    hits = sum(1 for ln in lines[:40] if _SIGNAL.match(ln))
    return hits >= max(1, min(3, len(lines) // 3)) and bool(_SIGNAL.match(head.first))


FORMATS = [Format("signal", "Signal Markdown (signal-export chat.md)", TEXT_FAMILY, 30, _sniff, parse, listed=9)]
