"""Discord conversations copied from the client window and pasted into a text file (no export tool)."""

# The clipboard holds each group of messages as a header and the message lines under it. Headers come
# as ``Name — 03/12/2024 3:14 PM`` on one line, or as the name, a ``—`` line and the time on three
# lines (newer clients), or ``Name Today at 3:14 PM`` (older ones). Messages sent in a row by the same
# person follow with their short time, ``[3:15 PM]`` (on its own line or before the text); pastes
# without those markers hold one message per line. Dates are read in the file's own order (day or
# month first, measured over the file); "Today"/"Yesterday" in the client's language are days before
# the day the file was saved (or ``mapping={"today": "2024-03-12"}``).

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from voice_app.chatlog.dates import is_pm, meridiem_key, year_of
from voice_app.chatlog.formats import TEXT as TEXT_FAMILY
from voice_app.chatlog.formats import Format, Head, corrupt
from voice_app.chatlog.model import MEDIA, SYSTEM, TEXT, Conversation, ImportWarning, Message
from voice_app.chatlog.options import Options, clean, warn
from voice_app.chatlog.source import Member, iter_lines
from voice_app.chatlog.whatsapp_layout import default_order, order_by_monotony, order_from

_TIME = r"(?P<time>\d{1,2}[:.]\d{2})(?:\s?(?P<ap>[AaPp]\.?\s?[Mm]\.?|午前|午後|上午|下午|오전|오후))?"
_PRE_AP = r"(?:(?P<pre>上午|下午|午前|午後|오전|오후)\s?)?"
_DATE = r"(?P<date>\d{1,4}[./-]\d{1,2}[./-]\d{1,4})\.?"
_REL = r"(?P<rel>[^\W\d_][^\d\[\]—–:]{1,22}?)"
_STAMP = rf"(?:(?:{_DATE}|{_REL}),?\s+{_PRE_AP}{_TIME}|{_DATE.replace('<date>', '<dateonly>')})"
STAMP = re.compile(rf"^\s*{_STAMP}\s*$")
ONE_LINE = re.compile(rf"^(?P<name>\S.{{0,79}}?)\s+[—–]\s+{_STAMP}\s*$")
DASH_STAMP = re.compile(rf"^\s*[—–]\s*{_STAMP}\s*$")
_EDITED = re.compile(r"\s*\((?:edited|bearbeitet|modifié|editado|modificato|изменено|編集済)\)\s*$", re.I)

# "Today" and "Yesterday" as clients in the common languages write them (prefixes, casefolded); other words
# are told apart by order: yesterday's messages come before today's.
_TODAY = ("today", "aujourd", "heute", "hoy", "oggi", "hoje", "сегодня", "今日", "今天", "vandaag", "dzisiaj",
          "bugün", "idag", "i dag", "tänään", "dnes", "오늘", "ma ")  # fmt: skip
_YESTERDAY = ("yesterday", "hier", "gestern", "ayer", "ieri", "ontem", "вчера", "昨日", "昨天", "gisteren",
              "wczoraj", "dün", "igår", "i går", "eilen", "včera", "어제", "tegnap")  # fmt: skip


_KNOWN = "|".join(re.escape(w) for w in (*_TODAY, *_YESTERDAY) if w.strip() == w)
OLD_STYLE = re.compile(
    rf"^(?P<name>\S.{{0,79}}?)\s+(?:(?P<rel>(?:{_KNOWN})[^\d\[\]]{{0,12}}?),?\s+{_PRE_AP}{_TIME}|{_DATE})\s*$", re.I
)
GROUPED = re.compile(rf"^\[{_PRE_AP}{_TIME}\]\s?(?P<text>.*)$")
DASH = re.compile(r"^\s*[—–]\s*$")


@dataclass
class _Raw:
    line: int
    name: str
    date: str | None
    rel: str | None
    time: str | None  # "h:mm", with its AM/PM word after a space when there is one
    grouped: bool = False
    body: list[str] = field(default_factory=list)


def _header(m: re.Match[str], line: int, name: str) -> _Raw | None:
    g = m.groupdict()
    rel = (g.get("rel") or "").strip() or None
    if rel is not None and not _is_rel(rel):
        return None
    t = g.get("time")
    ap = g.get("ap") or g.get("pre")
    day = g.get("date") or g.get("dateonly")
    return _Raw(line, clean(name).strip(), day, rel, f"{t} {ap}" if t and ap else t)


def _is_notice(name: str) -> bool:
    """A header whose "name" is a sentence: Discord names are at most 32 characters, notices are longer."""
    return len(name) > 32 or (len(name.split()) >= 4 and name.endswith("."))


def _is_rel(word: str) -> bool:
    """A relative day word: a known one, or a short phrase of letters (never a sentence)."""
    low = word.casefold()
    return low.startswith(_TODAY + _YESTERDAY) or len(low.split()) <= 3


def _parse_lines(member: Member, warnings: list[ImportWarning], opts: Options) -> list[_Raw]:
    raws: list[_Raw] = []
    prev = ""  # the previous line, a name when a header starts on the next one
    prev2 = ""
    before = 0
    for lineno, line in iter_lines(member, warnings, opts.at(0)):
        cur = raws[-1] if raws else None
        raw: _Raw | None = None
        m = ONE_LINE.match(line)
        if m:
            raw = _header(m, lineno, m.group("name"))
        elif (d := DASH_STAMP.match(line)) and prev.strip():
            raw = _header(d, lineno, prev)
            if raw is not None and cur is not None and cur.body and cur.body[-1] == prev:
                cur.body.pop()
        elif (s := STAMP.match(line)) and DASH.match(prev) and prev2.strip():
            raw = _header(s, lineno, prev2)
            if raw is not None and cur is not None:
                while cur.body and cur.body[-1] in (prev, prev2):
                    cur.body.pop()
        elif (g := GROUPED.match(line)) and cur is not None:
            t, ap = g.group("time"), g.group("ap") or g.group("pre")
            raw = _Raw(lineno, cur.name, cur.date, cur.rel, f"{t} {ap}" if ap else t, grouped=True)
            if g.group("text").strip():
                raw.body.append(g.group("text"))
        elif o := OLD_STYLE.match(line):
            raw = _header(o, lineno, o.group("name"))
        if raw is not None:
            raws.append(raw)
        elif cur is not None:
            if not DASH.match(line):
                cur.body.append(line)
        elif line.strip():
            before += 1
        prev2, prev = prev, line
    if before:
        warn(warnings, f"{before} line(s) before the first message header were skipped", 1, member.display)
    return raws


def _days(raws: list[_Raw], today: date) -> dict[str, date]:
    words: list[str] = []
    for r in raws:
        if r.rel and r.rel.casefold() not in words:
            words.append(r.rel.casefold())
    out: dict[str, date] = {}
    unknown = [w for w in words if not w.startswith(_TODAY + _YESTERDAY)]
    for w in words:
        if w.startswith(_TODAY):
            out[w] = today
        elif w.startswith(_YESTERDAY):
            out[w] = today - timedelta(days=1)
    for i, w in enumerate(reversed(unknown)):  # the last word used is today, the one before it yesterday
        out[w] = today - timedelta(days=i)
    return out


def parse(members: list[Member], opts: Options) -> Conversation:
    member = members[0]
    warnings: list[ImportWarning] = []
    raws = _parse_lines(member, warnings, opts)
    if not raws:
        raise corrupt(f'{member.display}: no Discord message header ("Name — date time") found')
    nums: list[tuple[int, int, int]] = []
    for r in raws:
        found = [int(x) for x in re.findall(r"\d+", r.date or "")[:3]]
        if len(found) == 3 and not r.grouped:
            nums.append((found[0], found[1], found[2]))
    order = (
        order_from(nums)
        or order_by_monotony(nums)
        or default_order(
            next((c for r in raws for c in (r.date or "") if c in "./-"), "/"),
            any(bool(r.time and " " in r.time) for r in raws),
        )
    )
    if opts.mapping.get("today"):
        today = date.fromisoformat(opts.mapping["today"])
    else:  # the day the paste was saved, so importing it again later gives the same dates
        today = (member.modified or datetime.now()).date()
    rel_days = _days(raws, today)
    markers = any(r.grouped for r in raws)
    messages: list[Message] = []
    for r in raws:
        try:
            ts = _timestamp(r, order, rel_days)
        except (ValueError, IndexError, OverflowError) as e:
            warn(warnings, f"could not read the time of this message ({e}); skipped", r.line, member.display)
            continue
        body = list(r.body)
        while body and not body[-1].strip():
            body.pop()
        while body and not body[0].strip():
            body.pop(0)
        if _is_notice(r.name):  # "Alex started a call that lasted 5 minutes. — Today at 3:14 PM"
            messages.append(Message(ts, "", r.name, SYSTEM))
            continue
        texts = ["\n".join(body)] if markers or not body else [ln for ln in body if ln.strip()]
        for text in texts:
            edited = bool(_EDITED.search(text))
            text = clean(_EDITED.sub("", text) if edited else text)
            kind = TEXT if text.strip() else MEDIA
            messages.append(Message(ts, r.name, text if text.strip() else "<attachment>", kind, edited))
    return Conversation("discord_paste", [], messages, warnings, member.display)


def _timestamp(r: _Raw, order: str, rel_days: dict[str, date]) -> datetime:
    if r.date:
        a, b, c = (int(x) for x in re.findall(r"\d+", r.date)[:3])
        y, mo, d = (
            (year_of(str(a)), b, c) if order == "ymd" else (year_of(str(c)), *((b, a) if order == "dmy" else (a, b)))
        )
        day = date(y, mo, d)
    elif r.rel:
        day = rel_days[r.rel.casefold()]
    else:
        raise ValueError("no date")
    h = mi = 0
    if r.time:
        t, _, ap = r.time.partition(" ")
        h, mi = (int(x) for x in re.split(r"[:.]", t)[:2])
        pm = is_pm(meridiem_key(ap)) if ap else None
        if pm and h < 12:
            h += 12
        elif pm is False and h == 12:
            h = 0
    return datetime(day.year, day.month, day.day, h, mi)


def _sniff(head: Head) -> bool:
    lines = head.nonempty[:12]
    for i, ln in enumerate(lines[:6]):
        m = ONE_LINE.match(ln)
        if m and _header(m, 0, m.group("name")) is not None and m.group("name").strip():
            return True
        if 0 < i < len(lines) - 1 and DASH.match(ln) and STAMP.match(lines[i + 1]):
            return True
        if i > 0 and DASH_STAMP.match(ln):
            return True
    return False


FORMATS = [
    Format(
        "discord_paste",
        "Discord messages copied from the app and pasted into a text file",
        TEXT_FAMILY,
        70,
        _sniff,
        parse,
        listed=12,
    )
]
