"""WhatsApp ``.txt`` exports (Android ``date, time - Name: text`` and iOS ``[date, time] Name: text``).

Speed matters here (exports reach millions of lines): the layout is detected once from the start
of the file, then one compiled regex per layout splits header lines, and dates and times are parsed
from precomputed field positions with caches instead of a general date parser per line.
"""

from __future__ import annotations

import re
from datetime import datetime

from voice_app.chatlog.formats import TEXT as TEXT_FAMILY
from voice_app.chatlog.formats import Format, corrupt
from voice_app.chatlog.model import SYSTEM, TEXT, Conversation, ImportWarning, Message
from voice_app.chatlog.source import Member, Progress, iter_line_blocks
from voice_app.chatlog.whatsapp_lines import EXACT_RAW as _EXACT_RAW
from voice_app.chatlog.whatsapp_lines import classify, is_banner

AMPM = r"(?:[AaPp]\.?\s?[Mm]\.?|上午|下午|午前|午後|오전|오후|vm\.|nm\.)"
_PM = {"p", "下午", "午後", "오후", "n"}
_DATE_LOOSE = r"\d{1,4}(?P<sep>[./-])\s?\d{1,2}(?P=sep)\s?\d{1,4}\.?"
_TIME = rf"(?:{AMPM}\s?)?\d{{1,2}}[:.]\d{{2}}(?:[:.]\d{{2}})?(?:\s?{AMPM})?"
_LEAD = "[\u200e\u200f\u202a-\u202e]*"
MAX_MESSAGE_CHARS = 64 * 1024  # longer continuations (pages of blank lines) are cut, so memory stays bounded

# Any known header layout; used for detection and to tell a damaged header from a continuation line.
LOOSE = re.compile(rf"^{_LEAD}(\[)?({_DATE_LOOSE}),?\s+(?:klo\s+)?({_TIME})(?(1)\]\s?|\s[-–]\s)(.*)$")
_DIGITS = re.compile(r"\d+")
_AMPM_RE = re.compile(AMPM)

_CLEAN_NAME = re.compile("[\u200b\u200e\u200f\u202a-\u202e\u2066-\u2069]")


class Layout:
    """The header layout of one export: bracket style, date field order, and the compiled regex."""

    def __init__(self, ios: bool, sep: str, order: str) -> None:
        self.ios = ios
        self.sep = sep
        self.order = order  # "dmy", "mdy" or "ymd"
        s = re.escape(sep)
        date = rf"\d{{1,4}}{s}\s?\d{{1,2}}{s}\s?\d{{1,4}}\.?"
        if ios:
            pat = rf"^{_LEAD}\[({date}),?\s+(?:klo\s+)?({_TIME})\]\s?(.*)$"
        else:
            pat = rf"^{_LEAD}({date}),?\s+(?:klo\s+)?({_TIME})\s[-–]\s(.*)$"
        self.regex = re.compile(pat)
        self._dates: dict[str, tuple[int, int, int] | None] = {}
        self._times: dict[str, tuple[int, int, int] | None] = {}

    def date(self, s: str) -> tuple[int, int, int] | None:
        try:
            return self._dates[s]
        except KeyError:
            pass
        a, b, c = (int(x) for x in _DIGITS.findall(s)[:3])
        if self.order == "ymd":
            y, m, d = a, b, c
        elif self.order == "mdy":
            m, d, y = a, b, c
        else:
            d, m, y = a, b, c
        if y < 100:
            y += 2000
        r: tuple[int, int, int] | None = (y, m, d)
        try:
            datetime(y, m, d)
        except ValueError:
            r = None
        self._dates[s] = r
        return r

    def time(self, s: str) -> tuple[int, int, int] | None:
        try:
            return self._times[s]
        except KeyError:
            pass
        nums = [int(x) for x in _DIGITS.findall(s)]
        h, mi = nums[0], nums[1]
        sec = nums[2] if len(nums) > 2 else 0
        m = _AMPM_RE.search(s)
        if m:
            tok = m.group(0)[0].lower() if m.group(0)[0] in "AaPpVvNn" else m.group(0)
            if tok in _PM:
                if h < 12:
                    h += 12
            elif h == 12:
                h = 0
        r: tuple[int, int, int] | None = (h, mi, sec) if h < 24 and mi < 60 and sec < 60 else None
        self._times[s] = r
        return r


def _fields(date_str: str) -> tuple[int, int, int]:
    a, b, c = (int(x) for x in _DIGITS.findall(date_str)[:3])
    return a, b, c


def _order_from(samples: list[tuple[int, int, int]]) -> str | None:
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


def _order_by_monotony(seq: list[tuple[int, int, int]]) -> str | None:
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


def sniff(lines: list[str]) -> bool:
    """True if these first lines of a text look like a WhatsApp export."""
    nonempty = [ln for ln in lines if ln.strip()][:60]
    if not nonempty:
        return False
    hits = sum(1 for ln in nonempty if LOOSE.match(ln))
    return bool(LOOSE.match(nonempty[0])) or hits >= max(1, min(3, len(nonempty) // 4))


def detect_layout(member: Member, first_lines: list[str], warnings: list[ImportWarning]) -> Layout:
    ios_votes = android_votes = 0
    seps: dict[str, int] = {}
    samples: list[tuple[int, int, int]] = []
    twelve_hour = False
    for ln in first_lines:
        m = LOOSE.match(ln)
        if not m:
            continue
        if m.group(1):
            ios_votes += 1
        else:
            android_votes += 1
        sep = m.group(3)
        seps[sep] = seps.get(sep, 0) + 1
        samples.append(_fields(m.group(2)))
        if _AMPM_RE.search(m.group(4)):
            twelve_hour = True
    if not samples:
        raise corrupt(f"{member.display}: no WhatsApp message header found in the first lines")
    ios = ios_votes > android_votes
    sep = max(seps, key=lambda k: seps[k])
    order = _order_from(samples)
    if order is None:
        order = _prescan_order(member, sep)
    if order is None:
        order = _order_by_monotony(samples)
    if order is None:
        # Nothing in the whole file tells day from month: US-style 12-hour m/d/yy is the only
        # common month-first layout.
        order = "mdy" if (twelve_hour and sep == "/") else "dmy"
        warnings.append(
            ImportWarning(f"day and month order is ambiguous in every date; assumed {order[0]}/{order[1]}/{order[2]}")
        )
    return Layout(ios, sep, order)


def _prescan_order(member: Member, sep: str) -> str | None:
    """Scan every header date of the file (streaming) for a day or month above 12."""
    s = re.escape(sep)
    rx = re.compile(rf"^{_LEAD}\[?(\d{{1,2}}){s}\s?(\d{{1,2}}){s}\s?(\d{{2,4}})", re.M)
    seq: list[tuple[int, int, int]] = []
    for _, lines in iter_line_blocks(member, []):
        found = [(int(a), int(b), int(c)) for a, b, c in rx.findall("\n".join(lines))]
        order = _order_from(found)
        if order:
            return order
        for f in found:
            if (not seq or seq[-1] != f) and len(seq) < 200000:
                seq.append(f)
    return _order_by_monotony(seq)


def _finish_multiline(msg: Message, raw_first: str, extra: list[str], ios: bool) -> None:
    text = raw_first + "\n" + "\n".join(extra)
    sys_marked = ios and text[:1] == "\u200e"
    if "\u200e" in text or "\u200f" in text:
        text = text.replace("\u200e", "").replace("\u200f", "")
    text, kind, edited = classify(text)
    if msg.kind == SYSTEM or (kind == TEXT and sys_marked):
        kind = SYSTEM
    msg.text, msg.kind, msg.edited = text, kind, edited


def parse(member: Member, progress: Progress = None, done_before: int = 0, total: int | None = None) -> Conversation:
    warnings: list[ImportWarning] = []
    messages: list[Message] = []
    append = messages.append
    senders: dict[str, str] = {}
    layout: Layout | None = None
    regex_match = None
    dates: dict[str, tuple[int, int, int] | None] = {}
    times: dict[str, tuple[int, int, int] | None] = {}
    exact = _EXACT_RAW
    loose_match = LOOSE.match
    ios = False

    last: Message | None = None  # the message continuation lines belong to
    last_raw = ""
    extra: list[str] | None = None
    extra_chars, cut = 0, False
    skipping: ImportWarning | None = None  # damaged header whose continuation lines are being skipped
    skipped_lines = 0
    preamble_start = 0
    preamble_count = 0
    last_key: tuple[str, str] | None = None
    last_dt: datetime | None = None

    for first, lines in iter_line_blocks(member, warnings, progress, done_before, total):
        if layout is None:
            layout = detect_layout(member, lines[:5000], warnings)
            regex_match = layout.regex.match
            dates = layout._dates
            times = layout._times
            ios = layout.ios
        assert regex_match is not None
        lineno = first - 1
        for line in lines:
            lineno += 1
            m = regex_match(line)
            if m is None:
                if last is not None:
                    if line[:1] in "[0123456789\u200e" and loose_match(line):
                        warnings.append(
                            ImportWarning("could not parse message header (unexpected layout); line skipped", lineno)
                        )
                    elif extra is None:
                        extra = [line]
                        extra_chars, cut = len(line), False
                    elif extra_chars < MAX_MESSAGE_CHARS:
                        extra.append(line)
                        extra_chars += len(line) + 1
                    elif not cut:  # once per message
                        cut = True
                        warnings.append(
                            ImportWarning(
                                f"a message runs past {MAX_MESSAGE_CHARS:,} characters; the rest of it was cut",
                                lineno,
                            )
                        )
                elif skipping:
                    skipped_lines += 1
                elif line.strip():
                    if loose_match(line):
                        warnings.append(ImportWarning("could not parse message header; line skipped", lineno))
                    else:
                        if not preamble_count:
                            preamble_start = lineno
                        preamble_count += 1
                continue
            d_str, t_str, rest = m.groups()
            if extra is not None:
                _finish_multiline(last, last_raw, extra, ios)  # type: ignore[arg-type]
                extra = None
            key = (d_str, t_str)
            if key == last_key:
                ts = last_dt
            else:
                d = dates.get(d_str)
                if d is None:
                    d = layout.date(d_str)
                t = times.get(t_str)
                if t is None:
                    t = layout.time(t_str)
                if d is None or t is None:
                    last = None
                    if skipping and skipped_lines:
                        skipping.message += f" ({skipped_lines} following lines skipped with it)"
                    bad = d_str if d is None else t_str
                    skipping = ImportWarning(f"could not parse date/time {bad!r}; message skipped", lineno)
                    warnings.append(skipping)
                    skipped_lines = 0
                    continue
                ts = datetime(d[0], d[1], d[2], t[0], t[1], t[2])
                last_key, last_dt = key, ts
            if skipping:
                if skipped_lines:
                    skipping.message += f" ({skipped_lines} following lines skipped with it)"
                skipping = None
            if preamble_count:
                warnings.append(
                    ImportWarning(
                        f"{preamble_count} line(s) of text before the first message were skipped", preamble_start
                    )
                )
                preamble_count = 0
            i = rest.find(": ")
            if i < 0 and rest.endswith(":") and 0 < len(rest) <= 81:
                i = len(rest) - 1
            if 0 < i <= 80:
                name = rest[:i]
                sender = senders.get(name)
                if sender is None:
                    sender = _CLEAN_NAME.sub("", name).strip()
                    if sender.startswith("~"):
                        sender = sender[1:].strip()
                    senders[name] = sender
                last_raw = text = rest[i + 2 :]
                kind = exact.get(text)
                edited = False
                if kind is None:
                    if "\u200e" in text or "\u200f" in text:
                        sys_marked = ios and text[:1] == "\u200e"
                        text, kind, edited = classify(text.replace("\u200e", "").replace("\u200f", ""))
                        if sys_marked and kind == TEXT and not text.startswith("<"):
                            kind = SYSTEM
                    elif text[-1:] in ">)":
                        text, kind, edited = classify(text)
                    else:
                        kind = TEXT
                if kind == SYSTEM or (len(messages) < 3 and kind == TEXT and is_banner(text)):
                    kind = SYSTEM
                    sender = ""
                last = Message(ts, sender, text, kind, edited)  # type: ignore[arg-type]
            else:
                last_raw = text = _CLEAN_NAME.sub("", rest)
                last = Message(ts, "", text, SYSTEM)  # type: ignore[arg-type]
            append(last)
    if extra is not None and last is not None:
        _finish_multiline(last, last_raw, extra, ios)
    if skipping and skipped_lines:
        skipping.message += f" ({skipped_lines} following lines skipped with it)"
    if preamble_count:
        warnings.append(
            ImportWarning(f"{preamble_count} line(s) of text without any message header were skipped", preamble_start)
        )
    if layout is None:
        raise corrupt(f"{member.display} is empty: there are no lines in it")
    if not messages:
        raise corrupt(f"{member.display}: no WhatsApp message could be parsed")
    return Conversation("whatsapp", [], messages, warnings, member.display)


FORMATS = [
    Format(
        "whatsapp",
        "WhatsApp chat export (.txt or .zip, Android and iOS)",
        TEXT_FAMILY,
        40,
        lambda head: sniff(head.lines),
        lambda members, opts: parse(members[0], opts.progress_fn, 0, opts.total),
        listed=1,
    )
]
