"""LINE chat history TXT (English, Japanese and Chinese app languages).

A header (``[LINE] Chat history with Alex`` / ``[LINE] Alexとのトーク履歴`` / ``[LINE] 与Alex的聊天记录``),
then day lines (``2023/05/01(Mon)``, ``Mon, 05/01/2023``, ``2023/05/01（周一）``) and tab-separated
message lines ``time<TAB>sender<TAB>text``; multi-line texts are wrapped in double quotes.
"""

from __future__ import annotations

import re
from datetime import date, datetime

from voice_app.chatlog.dates import is_pm, meridiem_key, year_of
from voice_app.chatlog.formats import TEXT as TEXT_FAMILY
from voice_app.chatlog.formats import Format, Head, corrupt
from voice_app.chatlog.model import CALL, DELETED, MEDIA, SYSTEM, TEXT, Conversation, ImportWarning, Message
from voice_app.chatlog.options import Options, clean, warn
from voice_app.chatlog.source import Member, iter_lines

_DAY_YMD = re.compile(
    r"^(\d{4})\s?[/.-]\s?(\d{1,2})\s?[/.-]\s?(\d{1,2})\.?\s*(?:[(（][^)）]*[)）]|,?\s?[^\s\d\t]{1,20})?\s*$"
)
_DAY_MDY = re.compile(r"^(?:[A-Za-z]{3,9}\.?,? )?(\d{1,2})/(\d{1,2})/(\d{4})\s*(?:\([A-Za-z]{3}\))?\s*$")
# time<TAB>name<TAB>text; the AM/PM word of the app's language before or after the time
_MSG = re.compile(
    r"^(?:([^\W\d_]{1,4}\.?(?: ?[^\W\d_]{1,2}\.)?) ?)?(\d{1,2}):(\d{2})(?: ?([^\W\d_]{1,4}\.?(?: ?[^\W\d_]{1,2}\.)?))?"
    r"\t(?:([^\t]*)\t)?(.*)$"
)
_MEDIA = {
    "[Photo]", "[Sticker]", "[Video]", "[File]", "[Voice message]", "[Audio]", "[Location]", "[Contact]", "[Album]",
    "[写真]", "[スタンプ]", "[動画]", "[ファイル]", "[ボイスメッセージ]", "[位置情報]", "[連絡先]", "[アルバム]",
    "[照片]", "[图片]", "[圖片]", "[贴图]", "[貼圖]", "[影片]", "[视频]", "[文件]", "[檔案]",
    "[语音讯息]", "[語音訊息]",
}  # fmt: skip
_UNSENT = re.compile(r"unsent a message|送信を取り消しました|已收回訊息|收回了讯息|撤回了一条消息|已收回讯息")
_CALL = re.compile(
    r"^☎|^(?:Call time|Missed call|Canceled call|通話時間|不在着信|キャンセル|通话时间|通話時間|未接来电|未接來電)"
)


def parse(members: list[Member], opts: Options) -> Conversation:
    member = members[0]
    warnings: list[ImportWarning] = []
    messages: list[Message] = []
    day: date | None = None
    title = None
    open_quote: Message | None = None

    for lineno, line in iter_lines(member, warnings, opts.at(0)):
        if open_quote is not None:
            if line.endswith('"'):
                open_quote.text = clean(open_quote.text + "\n" + line[:-1])
                open_quote = None
            else:
                open_quote.text += "\n" + line
            continue
        if lineno <= 3 and (line.startswith("[LINE]") or "Chat history" in line or "トーク履歴" in line):
            name = re.sub(r"^\[LINE\]\s*", "", line)
            title = (
                re.sub(r"^Chat history with |とのトーク履歴$|^[与與]|的聊天(?:记录|記錄)$", "", name).strip() or None
            )
            continue
        if not line.strip() or re.match(r"^(?:Saved on|保存日時|保存日期|儲存日期|저장한 날짜|บันทึกเมื่อ)", line):
            continue
        d = _DAY_YMD.match(line) or _DAY_MDY.match(line)
        if d:
            a, b, c = (int(x) for x in d.groups())
            try:
                day = date(year_of(str(a)), b, c) if d.re is _DAY_YMD else date(year_of(str(c)), a, b)
            except ValueError:
                warn(warnings, f"could not parse date line {line.strip()!r}", lineno, member.display)
                day = None
            continue
        m = _MSG.match(line)
        if m is None or day is None:
            if messages and not line.startswith(("[LINE]",)):
                messages[-1].text += "\n" + clean(line)
            else:
                warn(warnings, "line outside any message; skipped", lineno, member.display)
            continue
        pre, h, mi, post, sender, text = m.groups()
        hour = int(h)
        pm = is_pm(meridiem_key(pre or post or ""))
        if pm and hour < 12:
            hour += 12
        elif pm is False and hour == 12:
            hour = 0
        try:
            ts = datetime(day.year, day.month, day.day, hour, int(mi))
        except ValueError:
            warn(warnings, "could not parse time; line skipped", lineno, member.display)
            continue
        if sender is None:  # system line: time<TAB>text
            messages.append(Message(ts, "", clean(text), SYSTEM))
            continue
        sender = clean(sender)
        text = clean(text)
        kind = TEXT
        if text in _MEDIA:
            kind = MEDIA
        elif _UNSENT.search(text) and len(text) < 80:
            kind = DELETED
        elif _CALL.match(text):
            kind = CALL
        msg = Message(ts, sender, text, kind)
        if text.startswith('"') and not (len(text) > 1 and text.endswith('"')):
            msg.text = text[1:]
            open_quote = msg
        elif text.startswith('"') and text.endswith('"') and len(text) > 1 and "\n" in text:
            msg.text = text[1:-1]
        messages.append(msg)
    if not messages:
        raise corrupt(f"{member.display}: no LINE message (time<TAB>name<TAB>text) found")
    return Conversation("line", [], messages, warnings, member.display, title)


_LINE_HEAD = re.compile(
    r"^(?:\[LINE\] |Chat history with |\[LINE\]|.*とのトーク履歴|.*的聊天记录|.*的聊天記錄|与.*的聊天记录)"
)
_LINE_MSG = re.compile(r"^(?:[^\W\d_]{1,4}\.? ?)?\d{1,2}:\d{2}(?: ?[^\W\d_]{1,4}\.?)?\t")


def _sniff(head: Head) -> bool:
    first = head.first
    return bool(_LINE_HEAD.match(first)) and (
        first.startswith("[LINE]") or any(_LINE_MSG.match(ln) for ln in head.nonempty[:40])
    )


FORMATS = [
    Format("line", "LINE chat history TXT (English, Japanese, Chinese)", TEXT_FAMILY, 20, _sniff, parse, listed=12)
]
