"""Android "SMS Backup & Restore" XML (``<smses>`` with ``<sms>`` and ``<mms>`` elements).

The backup holds every conversation of the phone; the one with the most messages is imported
unless ``mapping={"chat": "Alex"}`` names a contact (or phone number). Streamed with iterparse,
so multi-GB backups with MMS photos do not load into memory.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import IO

from voice_app.chatlog.formats import MARKUP, Format, Head, corrupt
from voice_app.chatlog.imessage import fold_text_tapbacks
from voice_app.chatlog.model import MEDIA, TEXT, Conversation, ImportWarning, Message
from voice_app.chatlog.options import Options, clean, from_epoch, pick_chat, warn
from voice_app.chatlog.source import Member

ME = "Me"


def _contact(el: ET.Element) -> str:
    name = (el.get("contact_name") or "").strip()
    if not name or name in ("(Unknown)", "null"):
        name = (el.get("address") or "").strip() or "(unknown)"
    return clean(name)


class _Counting:
    def __init__(self, f: IO[bytes], opts: Options) -> None:
        self.f, self.opts, self.done = f, opts, 0

    def read(self, n: int = -1) -> bytes:
        b = self.f.read(n)
        self.done += len(b)
        self.opts.progress_fn(self.done, self.opts.total)
        return b


def parse(members: list[Member], opts: Options) -> Conversation:
    member = members[0]
    warnings: list[ImportWarning] = []
    chats: dict[str, list[Message]] = {}
    count = 0
    try:
        with member.open() as f:
            for _event, el in ET.iterparse(_Counting(f, opts), events=("end",)):
                tag = el.tag
                if tag not in ("sms", "mms"):
                    if tag in ("smses", "allsms"):
                        el.clear()
                    continue
                count += 1
                try:
                    ts = from_epoch(int(el.get("date") or ""), ms=True)
                except (ValueError, OverflowError) as e:
                    warn(warnings, f"{tag} #{count}: bad date ({e}); skipped", file=member.display)
                    el.clear()
                    continue
                contact = _contact(el)
                if tag == "sms":
                    body = el.get("body") or ""
                    sent = (el.get("type") or "1") in ("2", "4", "5", "6")
                    msg = Message(ts, ME if sent else contact, clean(body), TEXT)
                else:
                    texts: list[str] = []
                    media: list[str] = []
                    for part in el.iter("part"):
                        ct = (part.get("ct") or "").lower()
                        if ct == "text/plain":
                            t = part.get("text")
                            if t and t != "null":
                                texts.append(t)
                        elif ct != "application/smil":
                            media.append(part.get("cl") or part.get("name") or ct)
                    sent = (el.get("msg_box") or "1") == "2"
                    sender = ME if sent else contact
                    if not sent:
                        for addr in el.iter("addr"):
                            if addr.get("type") == "137":  # PduHeaders.FROM
                                sender = (
                                    contact
                                    if "~" in (el.get("address") or "")
                                    else (clean(el.get("contact_name") or "") or clean(addr.get("address") or contact))
                                )
                                break
                    text = clean("\n".join(texts))
                    kind = TEXT
                    if not text:
                        kind = MEDIA
                        text = "<" + ", ".join(media or ["attachment"]) + ">"
                    msg = Message(ts, sender, text, kind)
                chats.setdefault(contact, []).append(msg)
                el.clear()
    except ET.ParseError as e:
        line, col = e.position
        raise corrupt(f"{member.display}: broken XML at line {line}, column {col} ({e})") from e
    if not chats and count == 0:
        raise corrupt(f"{member.display}: no <sms> or <mms> element found")
    name, messages = pick_chat(chats, opts.mapping.get("chat"), "conversation", warnings, member.display)
    fold_text_tapbacks(messages)  # an iPhone's tapbacks arrive on Android as 'Loved “…”' texts
    return Conversation("sms_xml", [], messages, warnings, member.display, name or None)


def _sniff(head: Head) -> bool:
    low = head.text[:8192].lower()
    return "<smses" in low or "<sms " in low


FORMATS = [Format("sms_xml", "Android SMS Backup & Restore XML (SMS and MMS)", MARKUP, 10, _sniff, parse, listed=13)]
