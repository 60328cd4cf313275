"""Google Hangouts from Google Takeout (``Hangouts/Hangouts.json``, the archive from before Google Chat)."""

# The file holds every conversation of the account: ``conversations[]`` (2016 on) or ``conversation_state[]``
# (2014-2015), each with its participants (``participant_data``, names in ``fallback_name``) and events
# (timestamps in microseconds; text in ``chat_message.message_content.segment``). The conversation
# with the most messages is imported unless ``mapping={"chat": NAME}`` names one; conversations are
# streamed one at a time, so a multi-GB archive is never loaded whole.

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from voice_app.chatlog.formats import JSON, Format, Head, corrupt
from voice_app.chatlog.jsonstream import iter_json_array
from voice_app.chatlog.model import CALL, MEDIA, SYSTEM, TEXT, Conversation, ImportWarning, Message
from voice_app.chatlog.options import BAD_DATA, Options, clean, from_epoch, pick_chat, warn, warn_skipped
from voice_app.chatlog.source import Member, load_json

ME = "Me"
_SYSTEM_EVENTS = {
    "ADD_USER": "{who} added {whom}",
    "REMOVE_USER": "{who} removed {whom}",
    "RENAME_CONVERSATION": "{who} renamed the conversation to {name}",
    "GROUP_LINK_SHARING_MODIFICATION": "{who} changed link sharing",
    "OTR_MODIFICATION": "{who} changed history settings",
}


def _gid(value: Any) -> str:
    return str(value.get("gaia_id") or value.get("chat_id") or "") if isinstance(value, dict) else ""


def _names(conv: dict[str, Any], self_id: str) -> dict[str, str]:
    names: dict[str, str] = {}
    for p in conv.get("participant_data") or ():
        if not isinstance(p, dict):
            continue
        gid = _gid(p.get("id"))
        phone = p.get("phone_number")
        phone = phone if isinstance(phone, dict) else {}
        name = clean(p.get("fallback_name") or "").strip()
        if not name or name.lower() == "unknown":
            name = ME if gid == self_id else clean(phone.get("e164") or "").strip() or f"user {gid[-6:]}"
        names[gid] = name
    return names


def _text(content: dict[str, Any]) -> tuple[str, str]:
    parts: list[str] = []
    for seg in content.get("segment") or ():
        if isinstance(seg, dict):
            parts.append("\n" if seg.get("type") == "LINE_BREAK" else str(seg.get("text") or ""))
    text = clean("".join(parts))
    if text.strip():
        return text, TEXT
    for att in content.get("attachment") or ():
        item = att.get("embed_item") if isinstance(att, dict) else None
        kinds = item.get("type") if isinstance(item, dict) else None
        kind = str(kinds[0]).lower() if isinstance(kinds, list) and kinds else "attachment"
        return f"<{kind.removeprefix('plus_')}>", MEDIA
    return text, TEXT


def _event(e: dict[str, Any], names: dict[str, str]) -> Message | None:
    ts = from_epoch(int(e["timestamp"]) / 1e6)
    gid = _gid(e.get("sender_id"))
    sender = names.get(gid) or f"user {gid[-6:]}"
    etype = str(e.get("event_type") or "")
    chat = e.get("chat_message")
    if isinstance(chat, dict):
        text, kind = _text(chat.get("message_content") or {})
        return Message(ts, sender, text, kind)
    if etype == "HANGOUT_EVENT":
        call = e.get("hangout_event") or {}
        if call.get("event_type") == "START_HANGOUT":
            return None  # the call is recorded once, by its END_HANGOUT event
        secs = call.get("hangout_duration_secs")
        return Message(ts, sender, f"call, {secs} s" if secs else "missed call", CALL)
    if etype in _SYSTEM_EVENTS:
        change = e.get("membership_change") or {}
        whom = ", ".join(names.get(_gid(p), "someone") for p in change.get("participant_ids") or ())
        name = clean((e.get("conversation_rename") or {}).get("new_name") or "")
        return Message(ts, "", _SYSTEM_EVENTS[etype].format(who=sender, whom=whom, name=name), SYSTEM)
    return Message(ts, "", etype.lower().replace("_", " ") or "event", SYSTEM)


def _unwrap(item: Any) -> tuple[dict[str, Any], list[Any]]:
    """(conversation, events) of one element of either Takeout layout."""
    if "conversation_state" in item:  # 2014-2015
        state = item["conversation_state"]
        return state.get("conversation") or {}, state.get("event") or []
    return (item.get("conversation") or {}).get("conversation") or {}, item.get("events") or []


Chat = tuple[str, list[str], list[Message]]


def _chats(items: Iterable[Any], display: str, warnings: list[ImportWarning]) -> Iterator[Chat]:
    for n, item in enumerate(items):
        try:
            conv, events = _unwrap(item)
            state = conv.get("self_conversation_state") or {}
            self_id = _gid((state.get("self_read_state") or {}).get("participant_id"))
            if not self_id and events and isinstance(events[0], dict):
                self_id = _gid((events[0].get("self_event_state") or {}).get("user_id"))
            names = _names(conv, self_id)
        except BAD_DATA as err:
            warn(warnings, f"conversation #{n + 1}: unexpected structure ({type(err).__name__}); skipped", file=display)
            continue
        messages: list[Message] = []
        seen: set[str] = set()
        for i, ev in enumerate(events):
            try:
                if not isinstance(ev, dict):
                    continue
                eid = str(ev.get("event_id") or "")
                if eid and eid in seen:
                    continue  # Takeout repeats some events
                seen.add(eid)
                msg = _event(ev, names)
            except BAD_DATA as err:
                warn_skipped(warnings, i, err, display)
                continue
            if msg is not None:
                messages.append(msg)
        others = [v for k, v in names.items() if k != self_id]
        title = clean(conv.get("name") or "") or ", ".join(others) or str((conv.get("id") or {}).get("id") or n)
        yield title, list(names.values()), messages


def parse(members: list[Member], opts: Options) -> Conversation:
    member = members[0]
    warnings: list[ImportWarning] = []
    items: Iterable[Any] | None = None
    for key in ("conversations", "conversation_state"):
        streamed = iter_json_array(member, key, opts.at(0))
        if streamed is not None:
            items = streamed[1]
            break
    if items is None:
        data = load_json(member, opts.at(0))
        if not isinstance(data, dict):
            raise corrupt(f"{member.display}: Hangouts JSON is not an object")
        items = data.get("conversations") or data.get("conversation_state")
        if not isinstance(items, list):
            raise corrupt(f'{member.display}: Hangouts JSON without "conversations"')
    chats: dict[str, list[Message]] = {}
    people: dict[str, list[str]] = {}
    for title, names, messages in _chats((i for i in items if isinstance(i, dict)), member.display, warnings):
        name = title if title not in chats else f"{title} ({len(chats) + 1})"
        chats[name], people[name] = messages, names
    if not chats:
        raise corrupt(f"{member.display}: the Hangouts archive holds no conversation")
    name, messages = pick_chat(chats, opts.mapping.get("chat"), "conversation", warnings, member.display)
    return Conversation("hangouts_json", people.get(name, []), messages, warnings, member.display, name or None)


def _sniff(head: Head) -> bool:
    text = head.json_head
    if '"conversation_state"' in text and '"conversation_id"' in text:
        return True
    return (
        '"conversations"' in text
        and '"conversation_id"' in text
        and ('"participant_data"' in text or '"sender_id"' in text or '"event_type"' in text)
    )


FORMATS = [Format("hangouts_json", "Google Hangouts Takeout (Hangouts.json)", JSON, 42, _sniff, parse, listed=15)]
