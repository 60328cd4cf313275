"""Dates as chat apps write them: years of other calendars, the AM/PM words of each locale, loose numeric stamps."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta

# Japanese era letters (and names) → the Gregorian year before the era's first year.
ERA_OFFSETS = {"R": 2018, "H": 1988, "S": 1925, "T": 1911, "M": 1867, "令和": 2018, "平成": 1988, "昭和": 1925}
_ERA = re.compile(r"(令和|平成|昭和|[RHSTM])\s?(\d{1,2})")

# AM/PM words of the locales apps ship, written the way `meridiem_key` normalizes them (casefolded,
# without dots and spaces). A file's own words are also inferred from the order they appear in.
AM_WORDS = frozenset(
    [
        "a",
        "am",
        "vm",
        "fm",
        "ap",
        "de",
        "dop",
        "sa",
        "pg",
        "πμ",
        "öö",
        "قظ",
        "ص",
        "上午",
        "午前",
        "오전",
        "ก่อนเที่ยง",
        "पूर्वाह्न",
        "पूर्वान्ह",
        "ли",
        "rano",
        "paradites",
        "dp",
        "ஆமு",
    ]
)
PM_WORDS = frozenset(
    [
        "p",
        "pm",
        "nm",
        "em",
        "ip",
        "du",
        "odp",
        "ch",
        "ptg",
        "μμ",
        "ös",
        "بظ",
        "م",
        "下午",
        "午後",
        "오후",
        "หลังเที่ยง",
        "अपराह्न",
        "अपरान्ह",
        "сл",
        "popołudniu",
        "pasdites",
        "pd",
        "பிமு",
    ]
)
_KEY_DROP = re.compile(r"[.\s\u200e\u200f]")


def meridiem_key(token: str) -> str:
    """``"p.\u00a0m."`` → ``"pm"``: the form the AM/PM tables use."""
    return _KEY_DROP.sub("", token).casefold()


def is_pm(key: str) -> bool | None:
    """True for a PM word, False for an AM word, None for any other word (a glue word like "klo")."""
    if key in PM_WORDS:
        return True
    if key in AM_WORDS:
        return False
    return None


def year_of(token: str) -> int:
    """The Gregorian year of a date's year field: ``24``, ``2024``, ``2567 BE`` (Buddhist), ``R6`` (Japanese era)."""
    era = _ERA.search(token)
    if era:
        return ERA_OFFSETS[era.group(1)] + int(era.group(2))
    digits = "".join(c for c in token if c.isdigit())
    y = int(digits)
    if y < 100:
        return 2000 + y
    if "BE" in token or "พ.ศ" in token or y >= 2400:
        return y - 543  # Thai Buddhist era
    return y


def gregorian(y: int, m: int, d: int) -> date:
    """A calendar date, converting Solar Hijri years (Persian locales write 1402/12/21) to Gregorian."""
    if 1300 <= y < 1500 and m <= 12 and d <= 31:
        return _jalali(y, m, d)
    return date(y, m, d)


def _jalali(jy: int, jm: int, jd: int) -> date:
    # The usual arithmetic Solar Hijri conversion (33-year cycles), counted in days from a fixed epoch.
    jy += 1595
    days = -355668 + 365 * jy + (jy // 33) * 8 + ((jy % 33) + 3) // 4 + jd
    days += (jm - 1) * 31 if jm < 7 else (jm - 7) * 30 + 186
    return date(1, 1, 1) + timedelta(days=days - 366)


_STAMP = re.compile(
    r"^\s*(\d{4})\s?[-/.年]\s?(\d{1,2})\s?[-/.月]\s?(\d{1,2})日?(?:[\sT,]+(\d{1,2})[:时](\d{1,2})(?:[:分](\d{1,2}(?:\.\d+)?))?秒?)?"
    r"\s*(?:Z|[+-]\d{2}:?\d{2})?\s*$"
)


def loose_datetime(value: str) -> datetime:
    """A stamp as CSV exporters write it: ``2024-10-4 11:43``, ``2024/10/04 11:43:05``, ISO, epoch (s or ms)."""
    v = value.strip()
    if v.isdigit():
        n = int(v)
        from voice_app.chatlog.options import from_epoch

        return from_epoch(n, ms=len(v) > 11)
    m = _STAMP.match(v)
    if m:
        y, mo, d, h, mi, s = m.groups()
        sec = float(s) if s else 0.0
        return datetime(int(y), int(mo), int(d), int(h or 0), int(mi or 0), int(sec), round(sec % 1 * 1e6) % 1000000)
    from voice_app.chatlog.options import parse_iso

    return parse_iso(v.replace("/", "-"))


# Month names and abbreviations (stems, casefolded) in the languages exports are written in.
_MONTH_STEMS = {
    1: "jan janv ene gen jän stycz январ янв січ ocak ιαν",
    2: "feb fév fev fevr febr lut феврал фев лют şub φεβ",
    3: "mar märz mär mrt maart marc мар берез βερ мартa",
    4: "apr avr abr kwie апрел апр квіт nis απρ",
    5: "may mai mei maj mag maio mayo мая май трав μαΐ μαι",
    6: "jun juin giu czerw июн черв haz ιουν",
    7: "jul juil lug lip июл лип tem ιουλ",
    8: "aug aoû aou ago sierp август авг серп ağu αυγ",
    9: "sep sept set wrze сентябр сен верес eyl σεπ",
    10: "oct okt ott out paźd październ октябр окт жовт eki οκτ",
    11: "nov listop ноябр ноя листоп kas νοε",
    12: "dec dez déc dic gru grud декабр дек груд ara δεκ",
}
_STEMS = sorted(((s, n) for n, words in _MONTH_STEMS.items() for s in words.split()), key=lambda sn: -len(sn[0]))
_CJK_MONTH = re.compile(r"(\d{1,2})\s?(?:月|월)")
_AFTER = r"(?:\s?([^\W\d_]{1,4}\.?(?:\s?[^\W\d_]{1,3}\.?)?))?"
_CLOCK = re.compile(rf"(\d{{1,2}}):(\d{{2}})(?::(\d{{2}}))?{_AFTER}")
_DOTTED_CLOCK = re.compile(rf"(?<![\d.])(\d{{1,2}})[.h](\d{{2}})(?:\.(\d{{2}}))?(?![.\d]){_AFTER}")
_PRE_CLOCK = re.compile(r"([^\W\d_]{1,4}\.?(?:\s?[^\W\d_]{1,3}\.?)?)\s?$")


def month_of(word: str) -> int | None:
    w = word.casefold().strip(".,")
    if len(w) < 3:
        return None
    return next((n for s, n in _STEMS if w.startswith(s)), None)


def text_datetime(value: str, order: str = "dmy") -> datetime:
    """A date written out: ``Tuesday, March 12, 2024 at 3:14:00 PM UTC``, ``Dienstag, 12. März 2024 um 15:14``,
    ``12 мар. 2024 г., 15:14``, ``2024年3月12日 15:14`` (month names of many languages, any field order)."""
    try:
        return _text_datetime(value, order)
    except (IndexError, OverflowError, KeyError, TypeError) as e:
        raise ValueError(f"not a date: {value[:60]!r}") from e


def _text_datetime(value: str, order: str) -> datetime:
    v = value.replace("\u202f", " ").replace("\u00a0", " ")
    clock = _CLOCK.search(v) or _DOTTED_CLOCK.search(v)  # "15:14", else "15.14" / "15h14" (never a date's "01.02")
    h = mi = s = 0
    if clock:
        h, mi, s = int(clock.group(1)), int(clock.group(2)), int(clock.group(3) or 0)
        after = (clock.group(4) or "").split()
        before = (m.group(1) if (m := _PRE_CLOCK.search(v[: clock.start()])) else "").split()
        words = [" ".join(after), *after[:1], " ".join(before), *before[-1:]]
        pm = next((p for p in (is_pm(meridiem_key(w)) for w in words if w) if p is not None), None)
        if pm and h < 12:
            h += 12
        elif pm is False and h == 12:
            h = 0
        v = v[: clock.start()] + " " + v[clock.end() :]
    month = None
    cjk = _CJK_MONTH.search(v)
    if cjk:
        month = int(cjk.group(1))
        v = v[: cjk.start()] + " " + v[cjk.end() :]
    else:
        found = [m for m in (month_of(w) for w in re.findall(r"[^\W\d_]+\.?", v)) if m]
        month = found[-1] if found else None  # the last one: a weekday first ("martes", "mardi") can look like one
    nums = [int(x) for x in re.findall(r"\d+", v)]
    year = next((n for n in nums if n >= 100), None)
    rest = [n for n in nums if n != year or year is None]
    if month is None:  # all numeric: the fields in the given order
        if year is not None:
            rest = [n for n in nums if n != year]
            a, b = rest[0], rest[1]
            d, month = (b, a) if order == "mdy" else (a, b)
        else:
            a, b, c = nums[:3]
            y2, m2, d2 = (a, b, c) if order == "ymd" else (c, a, b) if order == "mdy" else (c, b, a)
            year, month, d = year_of(str(y2)), m2, d2
    else:
        d = rest[0]
        if year is None:
            year = year_of(str(rest[1])) if len(rest) > 1 else datetime.now().year
    g = gregorian(year_of(str(year)), month, d)
    return datetime(g.year, g.month, g.day, h, mi, s)
