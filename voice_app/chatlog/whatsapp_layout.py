"""WhatsApp header layouts inferred from the file: brackets, date order and separators, years, AM/PM words."""

# A header is ``[date, time] Name: text`` (iOS) or ``date, time - Name: text`` (Android) in every
# locale; what varies is measured, not listed: the date separator and field order, the glue between
# date and time (``,`` ``،`` ``à`` ``klo`` …), dotted or colon times, a word before or after the time
# (AM/PM in the locale's language, told apart from glue words by the values it takes), years in other
# calendars, digits of other scripts and direction marks. One compiled regex per layout splits lines.

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime

from voice_app.chatlog.dates import ERA_OFFSETS, gregorian, is_pm, meridiem_key, year_of
from voice_app.chatlog.formats import corrupt
from voice_app.chatlog.model import ImportWarning
from voice_app.chatlog.source import Member, iter_line_blocks

_LEAD = "[\u200e\u200f\u202a-\u202e\u2066-\u2069\ufeff]*"
_MARK = "[\u200e\u200f]?"
_WORD = r"[^\W\d_]{1,4}\.?(?:\s?[^\W\d_]{1,3}\.?)?"
_YEAR = r"(?:\d{1,4}(?:\s?BE)?|[MTSHR]\d{1,2})"
_TIME = r"(\d{1,2}[:.]\d{2}(?:[:.]\d{2})?)"
_GLUE = rf"[,،]?\s*(?:({_WORD})\s?)?"
_POST = rf"(?:\s?({_WORD}))?"


def _date(sep: str) -> str:
    s = sep if sep.startswith("(?P") else re.escape(sep)
    back = "(?P=sep)" if sep.startswith("(?P") else s
    return rf"\d{{1,4}}{_MARK}{s}{_MARK}\s?\d{{1,2}}{_MARK}{back}{_MARK}\s?{_YEAR}\.?"


# Any header layout; used for detection and to tell a header of another layout from a continuation line.
# Groups: 1 "[", 2 date, 3 separator, 4 word before the time, 5 time, 6 word after it, 7 the rest.
LOOSE = re.compile(rf"^{_LEAD}(\[)?({_date('(?P<sep>[./-])')}){_GLUE}{_TIME}{_POST}(?(1)\]\s?|\s[-–]\s)(.*)$")
_DIGITS = re.compile(r"\d+")
_WORDS = re.compile(_WORD)
Sig = tuple[bool, str, bool]  # bracketed, date separator, 12-hour
_ERA_LETTERS = tuple(ERA_OFFSETS)


class Layout:
    """The header layout of one export: bracket style, date field order and separator, AM/PM words, the regex."""

    def __init__(
        self,
        ios: bool,
        sep: str,
        order: str,
        pm: frozenset[str] = frozenset(),
        am: frozenset[str] = frozenset(),
        seen: Seen | None = None,
    ):
        self.ios = ios
        self.sep = sep
        self.order = order  # "dmy", "mdy" or "ymd"
        self.pm, self.am = pm, am
        self.twelve = bool(pm or am)  # 12-hour times: lines without an AM/PM word belong to another layout
        self.regex = re.compile(_pattern(ios, sep, seen))
        self._dates: dict[str, tuple[int, int, int] | None] = {}
        self._times: dict[str, tuple[int, int, int] | None] = {}

    @property
    def key(self) -> Sig:
        return (self.ios, self.sep, self.twelve)

    def has_meridiem(self, pre: str | None, post: str | None) -> bool:
        """True when a header's word before or after the time is an AM/PM word (not glue like "à" or "klo")."""
        for w in (pre, post):
            if w:
                k = meridiem_key(w)
                if k in self.pm or k in self.am or is_pm(k) is not None:
                    return True
        return False

    def date(self, s: str) -> tuple[int, int, int] | None:
        try:
            return self._dates[s]
        except KeyError:
            pass
        r: tuple[int, int, int] | None
        try:
            r = self._parse_date(s)
        except (ValueError, IndexError, OverflowError):
            r = None
        self._dates[s] = r
        return r

    def _parse_date(self, s: str) -> tuple[int, int, int]:
        s = s.replace("\u200e", "").replace("\u200f", "")
        nums = _DIGITS.findall(s)
        a, b = int(nums[0]), int(nums[1])
        year_field = s[s.rfind(self.sep) + len(self.sep) :].strip().rstrip(".") if self.order != "ymd" else nums[0]
        if self.order == "ymd":
            m, d = b, int(nums[2])
            y = year_of(nums[0])
        else:
            y = year_of(year_field) if year_field.startswith(_ERA_LETTERS) or "BE" in year_field else year_of(nums[2])
            m, d = (b, a) if self.order == "dmy" else (a, b)
        g = gregorian(y, m, d)
        return g.year, g.month, g.day

    def time(self, s: str) -> tuple[int, int, int] | None:
        """``s`` is the time, or ``word\\0time\\0word`` when the header has a word before or after it."""
        try:
            return self._times[s]
        except KeyError:
            pass
        pre, t, post = s.split("\0") if "\0" in s else ("", s, "")
        nums = [int(x) for x in _DIGITS.findall(t)]
        h, mi = nums[0], nums[1]
        sec = nums[2] if len(nums) > 2 else 0
        for word in (pre, post):
            key = meridiem_key(word) if word else ""
            if key in self.pm or (key and key not in self.am and is_pm(key)):
                if h < 12:
                    h += 12
            elif (key in self.am or (key and is_pm(key) is False)) and h == 12:
                h = 0
        r = (h, mi, sec) if h < 24 and mi < 60 and sec < 60 else None
        self._times[s] = r
        return r


@dataclass
class Seen:
    """What the header lines of a layout used, so its regex asks for nothing else (kept fast)."""

    glue: set[str] = field(default_factory=set)  # text between the date and the time (", ", " ", "، " …)
    pre: bool = False  # a word before the time (上午, 오후, "à", "klo")
    post: bool = False  # a word after it (PM, p. m.)
    marks: bool = False  # direction marks inside the date
    era: bool = False  # "2565 BE", "R4"


def _pattern(ios: bool, sep: str, seen: Seen | None) -> str:
    if seen is None:  # a layout first met in the middle of a file: anything any header may hold
        date, glue, pre, post = _date(sep), r"[,،]?\s*", rf"(?:({_WORD})\s?)?", _POST
    else:
        s = re.escape(sep)
        m = _MARK if seen.marks else ""
        year = _YEAR if seen.era else r"\d{1,4}"
        date = rf"\d{{1,4}}{m}{s}{m}\s?\d{{1,2}}{m}{s}{m}\s?{year}\.?"
        glue = re.escape(next(iter(seen.glue))) if len(seen.glue) == 1 else r"[,،]?\s*"
        pre = rf"(?:({_WORD})\s?)?" if seen.pre else "()"
        post = _POST if seen.post else "()"
    if ios:
        return rf"^{_LEAD}\[({date}){glue}{pre}{_TIME}{post}\]\s?(.*)$"
    return rf"^{_LEAD}({date}){glue}{pre}{_TIME}{post}\s[-–]\s(.*)$"


def time_key(pre: str | None, t: str, post: str | None) -> str:
    return f"{pre or ''}\0{t}\0{post or ''}" if pre or post else t


def _fields(date_str: str, sep: str) -> tuple[int, int, int]:
    nums = [int(x) for x in _DIGITS.findall(date_str.replace("\u200e", "").replace("\u200f", ""))[:3]]
    if date_str.rstrip(". ").split(sep)[-1].strip().startswith(_ERA_LETTERS):
        nums[2] = 1000 + nums[2]  # an era year: not a day or month, whatever its value
    return nums[0], nums[1], nums[2]


def order_from(samples: list[tuple[int, int, int]]) -> str | None:
    """Field order the samples prove, or None while every sample is ambiguous."""
    if not samples:
        return None
    if any(a >= 100 for a, _, _ in samples):
        return "ymd"
    if any(a > 12 for a, _, _ in samples):
        return "dmy"
    if any(b > 12 for _, b, _ in samples):
        return "mdy"
    return None


def order_by_monotony(seq: list[tuple[int, int, int]]) -> str | None:
    def violations(order: str) -> int:
        prev = None
        bad = 0
        for a, b, c in seq:
            key = (c, a, b) if order == "mdy" else (c, b, a)
            if prev is not None and key < prev:
                bad += 1
            prev = key
        return bad

    if len(seq) < 2:
        return None
    dmy, mdy = violations("dmy"), violations("mdy")
    if dmy == mdy:
        return None
    return "dmy" if dmy < mdy else "mdy"


def _meridiem(seen: list[tuple[tuple[int, int, int], str, int]]) -> tuple[frozenset[str], frozenset[str]]:
    """PM and AM words of a file: known ones, and two unknown words told apart by which comes first in a day."""
    words = {w for _, w, _ in seen}
    pm = {w for w in words if is_pm(w)}
    am = {w for w in words if is_pm(w) is False}
    unknown = words - pm - am
    if len(unknown) == 2 and all(h <= 12 for _, w, h in seen if w in unknown):
        first: dict[tuple[int, int, int], str] = {}
        votes: dict[str, int] = dict.fromkeys(unknown, 0)
        for day, w, _ in seen:
            if w not in unknown:
                continue
            if day in first and first[day] != w:
                votes[first[day]] += 1  # the word a day starts with, when the other follows it, is AM
            first.setdefault(day, w)
        ranked = sorted(unknown, key=lambda w: -votes[w])
        if votes[ranked[0]] > votes[ranked[1]]:
            am.add(ranked[0])
            pm.add(ranked[1])
    return frozenset(pm), frozenset(am)


def _known_twelve(*words: str | None) -> bool:
    return any(w and is_pm(meridiem_key(w)) is not None for w in words)


def detect_layouts(member: Member, first_lines: list[str], warnings: list[ImportWarning]) -> dict[Sig, Layout]:
    """Every header layout in these first lines, the most used first."""
    found: dict[Sig, dict[str, list]] = {}
    for ln in first_lines:
        m = LOOSE.match(ln)
        if not m:
            continue
        twelve = _known_twelve(m.group(4), m.group(6))
        sig = (bool(m.group(1)), m.group(3), twelve)
        info = found.setdefault(sig, {"n": [0], "samples": [], "words": [], "twelve": [twelve], "seen": [Seen()]})
        info["n"][0] += 1
        seen: Seen = info["seen"][0]
        date = m.group(2)
        seen.glue.add(ln[m.end(2) : m.start(4) if m.group(4) is not None else m.start(5)])
        seen.pre = seen.pre or m.group(4) is not None
        seen.post = seen.post or m.group(6) is not None
        seen.marks = seen.marks or "\u200e" in date or "\u200f" in date
        seen.era = seen.era or any(c.isalpha() for c in date)
        fields = _fields(m.group(2), m.group(3))
        info["samples"].append(fields)
        hour = int(_DIGITS.findall(m.group(5))[0])
        for w in (m.group(4), m.group(6)):
            if w:
                info["words"].append((fields, meridiem_key(w), hour))
                if w.strip() not in ("AM", "PM"):
                    info["twelve"][0] = False  # "am", "a.m.", "p. m.", 下午 …: not the US month-first layout
    if not found:
        raise corrupt(f"{member.display}: no WhatsApp message header found in the first lines")
    layouts: dict[Sig, Layout] = {}
    for sig, info in sorted(found.items(), key=lambda kv: -kv[1]["n"][0]):
        ios, sep, twelve = sig
        samples = info["samples"]
        order = order_from(samples)
        if order is None and not layouts:
            order = _prescan_order(member, sep, twelve)
        if order is None:
            order = order_by_monotony(samples)
        if order is None:
            order = default_order(sep, info["twelve"][0])
            if not layouts:
                warnings.append(
                    ImportWarning(
                        f"day and month order is ambiguous in every date; assumed {order[0]}/{order[1]}/{order[2]}"
                    )
                )
        pm, am = _meridiem(info["words"])
        layout = Layout(ios, sep, order, pm, am, info["seen"][0])
        layouts.setdefault(layout.key, layout)
    return layouts


def default_order(sep: str, twelve_hour: bool) -> str:
    # Nothing tells day from month: US-style 12-hour m/d/yy ("PM") is the only common month-first layout.
    return "mdy" if (twelve_hour and sep == "/") else "dmy"


def layout_for(sig: Sig, like: Layout, a: int = 0, b: int = 0) -> Layout:
    """A layout the start of the file did not use (files joined from two phones), from one of its dates."""
    ios, sep, twelve = sig
    order = order_from([(a, b, 0)])
    if order is None:
        order = like.order if (sep, twelve) == (like.sep, like.twelve) else default_order(sep, twelve)
    pm, am = (like.pm or frozenset({"pm"}), like.am or frozenset({"am"})) if twelve else (frozenset(), frozenset())
    return Layout(ios, sep, order, pm, am)


def signature(m: re.Match[str], like: Layout) -> tuple[Sig, int, int]:
    """The layout key of a LOOSE match, and its first two date fields."""
    a, b, _ = _fields(m.group(2), m.group(3))
    return (bool(m.group(1)), m.group(3), like.has_meridiem(m.group(4), m.group(6))), a, b


def _prescan_order(member: Member, sep: str, twelve: bool) -> str | None:
    """Scan every header date of the file's layout (streaming) for a day or month above 12."""
    s = re.escape(sep)
    field = rf"{_MARK}{s}{_MARK}\s?"
    rx = re.compile(rf"^{_LEAD}\[?(\d{{1,2}}){field}(\d{{1,2}}){field}(\d{{2,4}})(.{{0,40}}?)(?:\]| [-–] )", re.M)
    seq: list[tuple[int, int, int]] = []
    for _, lines in iter_line_blocks(member, []):
        found = [
            (int(a), int(b), int(c))
            for a, b, c, rest in rx.findall("\n".join(lines))
            if _known_twelve(*_WORDS.findall(rest)) == twelve
        ]
        order = order_from(found)
        if order:
            return order
        for f in found:
            if (not seq or seq[-1] != f) and len(seq) < 200000:
                seq.append(f)
    return order_by_monotony(seq)


def timestamp(layout: Layout, d_str: str, t_key: str) -> datetime | None:
    d = layout.date(d_str)
    t = layout.time(t_key)
    if d is None or t is None:
        return None
    return datetime(d[0], d[1], d[2], t[0], t[1], t[2])
