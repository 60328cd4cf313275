"""iMessage conversations exported as HTML by imessage-exporter (its default output)."""

# Each message is a ``<div class="message">`` holding ``<div class="sent …">`` or ``<div class="received">``,
# a ``timestamp`` span (``May 17, 2022  5:29:42 PM``, maybe a link and a read receipt), a ``sender``
# span (``Me`` for yourself), ``message_part`` divs (``bubble`` text, attachments) and tapbacks.
# Thread replies are drawn twice, inside their thread and in time order; only the second counts.
# Announcements (renames, people added) are one-line system messages. The file is streamed.

from __future__ import annotations

import re
from datetime import datetime
from html.parser import HTMLParser

from voice_app.chatlog.formats import MARKUP, Format, Head, corrupt
from voice_app.chatlog.imessage import TAPBACK_EMOJI, fold_text_tapbacks
from voice_app.chatlog.model import DELETED, MEDIA, SYSTEM, TEXT, Conversation, ImportWarning, Message
from voice_app.chatlog.options import Options, clean, warn
from voice_app.chatlog.source import Member, iter_line_blocks

_STAMP = re.compile(r"([A-Z][a-z]{2})\s+(\d{1,2}),\s+(\d{4})\s+(\d{1,2}):(\d{2})(?::(\d{2}))?\s?([AP]M)")
_MONTHS = {
    m: i for i, m in enumerate(("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"), 1)
}
_TAP = re.compile(r"^\s*(\S.*?)\s+by\s+(.+?)\s*$")
_VOID = {"br", "hr", "img", "meta", "link", "input", "source", "wbr", "col", "area", "base", "embed", "param"}
_SKIP_TEXT = {"reply_context", "expressive", "reply_anchor", "transcription", "genmoji_prompt", "sticker_name"}


def stamp(text: str) -> datetime:
    m = _STAMP.search(text)
    if not m:
        raise ValueError(f"no date in {text.strip()[:60]!r}")
    mon, day, year, h, mi, s, ap = m.groups()
    hour = int(h) % 12 + (12 if ap == "PM" else 0)
    return datetime(int(year), _MONTHS[mon], int(day), hour, int(mi), int(s or 0))


class _Reader(HTMLParser):
    """Collects messages as the HTML streams through; keeps only the message being read."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[tuple[str, str]] = []  # open div/span/p/b elements: (tag, class)
        self.messages: list[Message] = []
        self.errors: list[tuple[int, str]] = []
        self.cur: dict[str, object] | None = None  # the message (or announcement) being read
        self.depth = 0  # stack depth of the element that opened it

    def _field(self) -> str | None:
        inner = self.stack[self.depth :]
        if any(cls.split(" ", 1)[0] == "replies" for _tag, cls in inner):
            return "skip"  # a thread reply drawn inside its thread: it is read where it is drawn on its own
        for _tag, cls in reversed(inner):
            first = cls.split(" ", 1)[0]
            if first in ("timestamp", "sender", "bubble", "tapback", "reaction", "deleted", "unsent", "edited"):
                return first
            if first in _SKIP_TEXT or first == "replies":
                return "skip"
            if first in ("message", "announcement"):
                return None
        return None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        cls = " ".join((v or "") for k, v in attrs if k == "class").strip()
        if tag in _VOID:
            if self.cur is not None and tag == "img" and self._field() != "skip":
                self.cur["media"] = True
            elif self.cur is not None and tag == "br":
                self.handle_data("\n")
            return
        if tag in ("video", "audio") and self.cur is not None and self._field() != "skip":
            self.cur["media"] = True
        if tag == "a" and self.cur is not None and any(k == "href" for k, _ in attrs) and self._field() is None:
            self.cur["media"] = True
        self.stack.append((tag, cls))
        first = cls.split(" ", 1)[0]
        in_replies = any(c.split(" ", 1)[0] == "replies" for _, c in self.stack[:-1])
        if tag == "div" and first in ("message", "announcement") and self.cur is None and not in_replies:
            self.cur = {"kind": first, "stamp": [], "sender": [], "text": [], "taps": [], "media": False}
            self.depth = len(self.stack)
            self.cur["line"] = self.getpos()[0]
        elif self.cur is not None and tag == "div" and first in ("sent", "received"):
            self.cur["me"] = first == "sent"
        elif self.cur is not None and first in ("attachment", "attachment_error", "sticker", "app") and tag == "div":
            self.cur["media"] = True
        elif self.cur is not None and first == "bubble" and self.cur["text"]:
            self.cur["text"].append("\n")  # type: ignore[attr-defined]
        elif self.cur is not None and first in ("tapback", "reaction") and tag in ("div", "span", "p"):
            self.cur["taps"].append([])  # type: ignore[attr-defined]

    def handle_endtag(self, tag: str) -> None:
        if tag in _VOID:
            return
        for i in range(len(self.stack) - 1, -1, -1):
            if self.stack[i][0] == tag:
                if self.cur is not None and i + 1 <= self.depth:
                    del self.stack[i:]
                    self._finish()
                    return
                del self.stack[i:]
                return

    def handle_data(self, data: str) -> None:
        if self.cur is None:
            return
        field = self._field()
        if field == "timestamp":
            self.cur["stamp"].append(data)  # type: ignore[attr-defined]
        elif field == "sender":
            self.cur["sender"].append(data)  # type: ignore[attr-defined]
        elif field in ("tapback", "reaction"):
            taps = self.cur["taps"]
            if taps:
                taps[-1].append(data)  # type: ignore[index]
        elif field in ("bubble", "deleted", "unsent", "edited") or (field is None and self.cur["kind"] != "message"):
            if field in ("deleted", "unsent"):
                self.cur["deleted"] = True
            self.cur["text"].append(data)  # type: ignore[attr-defined]

    def _finish(self) -> None:
        cur, self.cur = self.cur, None
        assert cur is not None
        line = int(cur["line"])  # type: ignore[call-overload]
        try:
            ts = stamp("".join(cur["stamp"]))  # type: ignore[arg-type]
        except (ValueError, KeyError) as e:
            self.errors.append((line, f"could not read the message date ({e}); message skipped"))
            return
        raw = clean("".join(cur["text"]))  # type: ignore[arg-type]
        text = "\n".join(ln.strip() for ln in raw.split("\n") if ln.strip())
        if cur["kind"] == "announcement":
            self.messages.append(Message(ts, "", text, SYSTEM))
            return
        sender = clean("".join(cur["sender"]).strip()) or ("Me" if cur.get("me") else "")  # type: ignore[arg-type]
        kind = TEXT
        if cur.get("deleted"):
            kind = DELETED
        elif not text and cur["media"]:
            kind, text = MEDIA, "<attachment>"
        reactions = []
        for parts in cur["taps"]:  # type: ignore[attr-defined]
            t = _TAP.match(clean("".join(parts)))
            if t:
                verb = t.group(1)
                reactions.append(
                    (t.group(2), TAPBACK_EMOJI.get(verb, verb.removeprefix("Reacted ").removesuffix(" to")))
                )
        self.messages.append(Message(ts, sender, text, kind, False, None, tuple(reactions)))


def parse(members: list[Member], opts: Options) -> Conversation:
    member = members[0]
    warnings: list[ImportWarning] = []
    reader = _Reader()
    for _first, lines in iter_line_blocks(member, warnings, opts.at(0)):
        reader.feed("\n".join(lines) + "\n")
    reader.close()
    fold_text_tapbacks(reader.messages)
    for line, message in reader.errors:
        warn(warnings, message, line, member.display)
    if not reader.messages:
        raise corrupt(f'{member.display}: no iMessage message (<div class="message"> with a timestamp) found')
    return Conversation("imessage_html", [], reader.messages, warnings, member.display)


def _sniff(head: Head) -> bool:
    low = head.text[:16384]
    return (
        'class="message"' in low and 'class="timestamp"' in low and ('class="sent' in low or 'class="received"' in low)
    )


FORMATS = [
    Format("imessage_html", "iMessage HTML (imessage-exporter)", MARKUP, 30, _sniff, parse, listed=9),
]
