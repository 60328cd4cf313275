"""iMessage conversations exported as TXT by imessage-exporter.

Each message is a block: a timestamp line (``May 17, 2022  5:29:42 PM`` plus optional read
receipts in parentheses), the sender (``Me`` for yourself), the body lines, then a blank line.
"""

from __future__ import annotations

import re
from datetime import datetime

from voice_app.chatlog.formats import TEXT as TEXT_FAMILY
from voice_app.chatlog.formats import Format, Head, corrupt
from voice_app.chatlog.model import DELETED, MEDIA, SYSTEM, TEXT, Conversation, ImportWarning, Message
from voice_app.chatlog.options import Options, clean, warn
from voice_app.chatlog.source import Member, iter_lines

_STAMP = re.compile(r"^([A-Z][a-z]{2}) (\d{1,2}), (\d{4})\s+(\d{1,2}):(\d{2}):(\d{2})\s?([AP]M)\b")
_MONTHS = {
    m: i for i, m in enumerate(["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"], 1)
}
_ATTACH = re.compile(r"^(?:/|~/).+\.(?:heic|jpe?g|png|gif|mov|mp4|m4a|caf|pdf|webp|vcf)$|^Attachment missing", re.I)
_TAPBACK = re.compile(r"^\s*(Loved|Liked|Disliked|Laughed at|Emphasized|Questioned|Reacted \S+ to) by (.+?)\s*$")
TAPBACK_EMOJI = {
    "Loved": "❤️",
    "Liked": "👍",
    "Disliked": "👎",
    "Laughed at": "😂",
    "Emphasized": "‼️",
    "Questioned": "❓",
}
_OBJECT = (
    r"(?:“(?P<q1>.*)”|\"(?P<q2>.*)\"|(?P<thing>an? (?:image|photo|attachment|video|movie|sticker|audio message|GIF)))"
)
_TEXT_TAPBACK = re.compile(
    rf"^(?:(?P<verb>Loved|Liked|Disliked|Laughed at|Emphasized|Questioned|Reacted (?P<emoji>\S+) to)"
    rf"|Removed (?:a|an) [\w\s!?]{{1,20}}? from) {_OBJECT}$",
    re.S,
)
_EDITED_LATER = re.compile(r"^\s*Edited (?:\d+ )?[\w ,]+ later: (.*)$")
_EDITED = re.compile(r"^\s*Edited \d+ (?:time|times)|^\s*Edited (?:\d+ )?(?:seconds?|minutes?|hours?) later", re.I)


def _stamp(m: re.Match[str]) -> datetime:
    mon, day, year, h, mi, s, ap = m.groups()
    hour = int(h) % 12 + (12 if ap == "PM" else 0)
    return datetime(int(year), _MONTHS[mon], int(day), hour, int(mi), int(s))


_READ = re.compile(r"^\s*(?:\((?:Read|Delivered)[^)]*\))?\s*$")
_DROP = ("This message responded to an earlier message.", "Sticker from ")


def fold_text_tapbacks(messages: list[Message]) -> None:
    """Tapbacks that arrived as text (``Loved “see you soon”``, sent from or to a phone without iMessage)
    are reactions to the message they quote, not messages: they are moved onto it (or dropped)."""
    out: list[Message] = []
    for m in messages:
        t = _TEXT_TAPBACK.match(m.text) if m.kind == TEXT and m.text[:1] in "LDERQ" else None
        if t is None:
            out.append(m)
            continue
        verb = t.group("verb")
        if not verb:
            continue  # "Removed a heart from …"
        quoted = (t.group("q1") or t.group("q2") or "").rstrip("…").rstrip(".")
        for target in reversed(out[-500:]):
            if (target.text.startswith(quoted) and quoted) if not t.group("thing") else target.kind == MEDIA:
                emoji = t.group("emoji") or TAPBACK_EMOJI.get(verb, verb)
                target.reactions = (*target.reactions, (m.sender, emoji))
                break
    messages[:] = out


def parse(members: list[Member], opts: Options) -> Conversation:
    member = members[0]
    warnings: list[ImportWarning] = []
    messages: list[Message] = []
    ts: datetime | None = None
    sender: str | None = None
    body: list[str] = []
    edited = [False]
    prev_blank = True
    nested = False  # inside a thread reply drawn indented under its parent (it is also drawn on its own)

    def flush() -> None:
        if ts is None or sender is None:
            return
        lines = list(body)
        while lines and not lines[-1].strip():
            lines.pop()
        reactions: list[tuple[str, str]] = []
        keep: list[str] = []
        for ln in lines:
            t = _TAPBACK.match(ln)
            if t:
                verb = t.group(1)
                emoji = TAPBACK_EMOJI.get(verb, verb.removeprefix("Reacted ").removesuffix(" to"))
                reactions.append((clean(t.group(2)), emoji))
            elif ln.strip() in ("Tapbacks:", "Reactions:") or ln.strip().startswith(_DROP):
                continue
            else:
                keep.append(ln)
        text = clean("\n".join(keep).strip())
        kind = TEXT
        if text.startswith("This message was unsent") or text.startswith("You unsent a message"):
            kind = DELETED
        elif keep and all(_ATTACH.match(k.strip()) for k in keep if k.strip()):
            kind = MEDIA
        messages.append(Message(ts, sender, text, kind, edited[0], None, tuple(reactions)))

    for lineno, line in iter_lines(member, warnings, opts.at(0)):
        blank = not line.strip()
        if nested:
            if blank or line.startswith("    "):
                prev_blank = blank
                continue
            nested = False
        m = _STAMP.match(line)
        rest = line[m.end() :] if m else ""
        if m and (_READ.match(rest) or prev_blank or sender is None):
            flush()
            try:
                ts = _stamp(m)
            except (ValueError, KeyError):
                warn(warnings, f"could not parse date {line.strip()!r}; message skipped", lineno, member.display)
                ts = None
            sender, body, edited[0] = None, [], False
            if not _READ.match(rest) and ts is not None:  # a one-line announcement: "<date> You renamed …"
                messages.append(Message(ts, "", clean(rest.strip()), SYSTEM))
                ts = None
            prev_blank = blank
            continue
        prev_blank = blank
        if ts is None:
            if not blank:
                warn(warnings, "text outside any message; skipped", lineno, member.display)
            continue
        if sender is None:
            sender = clean(line.strip()) or "Me"
            continue
        if m:  # the first version of an edited message: "<date> text", then "Edited … later: text"
            body.append(rest.strip())
            continue
        e = _EDITED_LATER.match(line)
        if e:
            body[:] = [e.group(1)]
            edited[0] = True
            continue
        if line.startswith("    ") and _STAMP.match(line.strip()):
            nested = True
            continue
        if _EDITED.match(line):
            edited[0] = True
            continue
        body.append(line)
    flush()
    fold_text_tapbacks(messages)
    if not messages:
        raise corrupt(f"{member.display}: no iMessage block (date line, sender, text) found")
    return Conversation("imessage", [], messages, warnings, member.display)


_IMESSAGE = re.compile(r"^[A-Z][a-z]{2} \d{1,2}, \d{4}\s+\d{1,2}:\d{2}:\d{2}\s?[AP]M")


def _sniff(head: Head) -> bool:
    return bool(_IMESSAGE.match(head.first))


FORMATS = [Format("imessage", "iMessage TXT (imessage-exporter)", TEXT_FAMILY, 50, _sniff, parse, listed=8)]
