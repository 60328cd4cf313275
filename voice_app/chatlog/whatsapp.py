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
from voice_app.chatlog.whatsapp_layout import LOOSE, Layout, Sig, detect_layouts, layout_for, signature, time_key
from voice_app.chatlog.whatsapp_lines import EXACT_RAW as _EXACT_RAW
from voice_app.chatlog.whatsapp_lines import classify, is_banner
from voice_app.chatlog.whatsapp_system import SENTENCE_ENDS, mark_notices

MAX_MESSAGE_CHARS = 64 * 1024  # longer continuations (pages of blank lines) are cut, so memory stays bounded

_DIGITS = re.compile(r"\d+")
_CLEAN_NAME = re.compile("[\u200b\u200e\u200f\u202a-\u202e\u2066-\u2069\ufeff]")


def sniff(lines: list[str]) -> bool:
    """True if these first lines of a text look like a WhatsApp export."""
    nonempty = [ln for ln in lines if ln.strip()][:60]
    if not nonempty:
        return False
    hits = sum(1 for ln in nonempty if LOOSE.match(ln))
    return bool(LOOSE.match(nonempty[0])) or hits >= max(1, min(3, len(nonempty) // 4))


def _finish_multiline(msg: Message, raw_first: str, extra: list[str], ios: bool) -> None:
    text = raw_first + "\n" + "\n".join(extra)
    sys_marked = ios and text[:1] == "\u200e"
    if "\u200e" in text or "\u200f" in text:
        text = text.replace("\u200e", "").replace("\u200f", "")
    text, kind, edited = classify(text)
    if msg.kind == SYSTEM or (kind == TEXT and sys_marked):
        kind = SYSTEM
    msg.text, msg.kind, msg.edited = text, kind, edited


_QUOTES = (('"', '"'), ("“", "”"), ("«", "»"), ("„", "“"), ("「", "」"))


def _sender_name(name: str) -> str:
    """The name before ": ", or "" when it is the start of a notice whose text has a colon in it
    (``Alex changed the subject from "Trip: Lisbon" to …``): a quotation left open, or a sentence."""
    sender = _CLEAN_NAME.sub("", name).strip()
    if sender.startswith("~"):
        sender = sender[1:].strip()
    for a, b in _QUOTES:
        if a in sender and (sender.count(a) > sender.count(b) if a != b else sender.count(a) % 2):
            return ""
    return "" if len(sender.split()) > 10 else sender


def _other(layouts: dict[Sig, Layout], cur: Layout, twelve: bool, d_str: str) -> Layout:
    sig = (cur.ios, cur.sep, twelve)
    found = layouts.get(sig)
    if found is None:
        nums = [int(x) for x in _DIGITS.findall(d_str)[:2]]
        found = layouts[sig] = layout_for(sig, cur, *nums)
    return found


def parse(member: Member, progress: Progress = None, done_before: int = 0, total: int | None = None) -> Conversation:
    warnings: list[ImportWarning] = []
    messages: list[Message] = []
    append = messages.append
    senders: dict[str, str] = {}
    layout: Layout | None = None
    layouts: dict[Sig, Layout] = {}
    twelve_words: dict[tuple[str | None, str | None], bool] = {}
    regex_match = None
    dates: dict[str, tuple[int, int, int] | None] = {}
    times: dict[str, tuple[int, int, int] | None] = {}
    exact = _EXACT_RAW
    loose_match = LOOSE.match

    last: Message | None = None  # the message continuation lines belong to
    last_raw = ""
    last_layout: Layout | None = None  # the layout of the message continuation lines belong to
    primary_twelve = False
    candidates: list[Message] = []  # people's messages that end like a sentence: the notices are among them
    ends = SENTENCE_ENDS
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
            layouts = detect_layouts(member, lines[:5000], warnings)
            layout = next(iter(layouts.values()))
            regex_match = layout.regex.match
            primary_twelve = layout.twelve
            dates = layout._dates
            times = layout._times
        assert regex_match is not None
        lineno = first - 1
        for line in lines:
            lineno += 1
            m = regex_match(line)
            cur = layout
            if m is None:
                c = line[:1]
                lm = loose_match(line) if c and (c in "[\u200e\u200f\u202b\u202a\ufeff" or c.isdigit()) else None
                if lm is not None:  # a header in another layout (exports of two phones joined in one file)
                    sig, a, b = signature(lm, layout)
                    cur = layouts.get(sig) or layouts.setdefault(sig, layout_for(sig, layout, a, b))
                    m = cur.regex.match(line)
                if m is None:
                    if last is not None:
                        if lm is not None:
                            warnings.append(
                                ImportWarning(
                                    "could not parse message header (unexpected layout); line skipped", lineno
                                )
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
                        if lm is not None:
                            warnings.append(ImportWarning("could not parse message header; line skipped", lineno))
                        else:
                            if not preamble_count:
                                preamble_start = lineno
                            preamble_count += 1
                    continue
            d_str, pre, t_str, post, rest = m.groups()
            if pre or post:
                tw = twelve_words.get((pre, post))
                if tw is None:
                    tw = twelve_words[(pre, post)] = cur.has_meridiem(pre, post)
                if tw != cur.twelve:  # 12-hour lines among 24-hour ones (or the reverse): another phone's layout
                    cur = _other(layouts, cur, tw, d_str)
                t_str = time_key(pre, t_str, post)
            elif primary_twelve and cur is layout:
                cur = _other(layouts, cur, False, d_str)
            if extra is not None:
                _finish_multiline(last, last_raw, extra, last_layout.ios)  # type: ignore[arg-type,union-attr]
                extra = None
            key = (d_str, t_str)
            if key == last_key and cur is layout:
                ts = last_dt
            else:
                if cur is layout:
                    d = dates.get(d_str)
                    if d is None:
                        d = layout.date(d_str)
                    t = times.get(t_str)
                    if t is None:
                        t = layout.time(t_str)
                else:
                    d, t = cur.date(d_str), cur.time(t_str)
                if d is None or t is None:
                    last = None
                    if skipping and skipped_lines:
                        skipping.message += f" ({skipped_lines} following lines skipped with it)"
                    bad = d_str if d is None else t_str.replace("\0", " ").strip()
                    skipping = ImportWarning(f"could not parse date/time {bad!r}; message skipped", lineno)
                    warnings.append(skipping)
                    skipped_lines = 0
                    continue
                ts = datetime(d[0], d[1], d[2], t[0], t[1], t[2])
                if cur is layout:
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
            last_layout = cur
            i = rest.find(": ")
            if i < 0 and rest.endswith(":") and 0 < len(rest) <= 81:
                i = len(rest) - 1
            sender = None
            if 0 < i <= 80:
                name = rest[:i]
                sender = senders.get(name)
                if sender is None:
                    sender = senders[name] = _sender_name(name)
            if sender:
                last_raw = text = rest[i + 2 :]
                kind = exact.get(text)
                edited = False
                if kind is None:
                    if "\u200e" in text or "\u200f" in text:
                        sys_marked = cur.ios and text[:1] == "\u200e"
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
                if kind is TEXT and text[-1:] in ends:
                    candidates.append(last)
            else:
                last_raw = text = _CLEAN_NAME.sub("", rest)
                last = Message(ts, "", text, SYSTEM)  # type: ignore[arg-type]
            append(last)
    if extra is not None and last is not None:
        _finish_multiline(last, last_raw, extra, last_layout.ios if last_layout else False)
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
    mark_notices(messages, candidates)
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
