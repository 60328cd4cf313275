# ruff: noqa: E501  (fixture data lines are kept verbatim)
"""Google Hangouts Takeout, imessage-exporter HTML, Discord pasted from the client: content, notices, errors."""

from __future__ import annotations

import json
import os
from datetime import datetime

import pytest

from voice_app.chatlog import detect, load, resolve_participant, summarize
from voice_app.core.errors import CorruptExportError


def rows(conv):
    return [(m.timestamp, m.sender, m.text, m.kind) for m in conv.messages]


def people(conv):
    return {p["name"]: p["messages"] for p in summarize(conv)["participants"] if p["messages"]}


# --- Google Hangouts ----------------------------------------------------------------------------------

ME, JO, KAI = "111", "222", "333"


def _ev(gid, us, kind="REGULAR_CHAT_MESSAGE", **extra):
    return {
        "sender_id": {"gaia_id": gid, "chat_id": gid},
        "timestamp": str(us),
        "event_type": kind,
        "event_id": f"e{us}",
        **extra,
    }


def _chat(*segments, attach=False):
    content = {"segment": list(segments)} if segments else {}
    if attach:
        content["attachment"] = [{"embed_item": {"type": ["PLUS_PHOTO"]}}]
    return {"chat_message": {"message_content": content}}


def _conv(cid, parts, events, name=None):
    conv = {
        "id": {"id": cid},
        "type": "GROUP" if name else "STICKY_ONE_TO_ONE",
        "participant_data": parts,
        "self_conversation_state": {"self_read_state": {"participant_id": {"gaia_id": ME}}},
    }
    if name:
        conv["name"] = name
    return {"conversation": {"conversation_id": {"id": cid}, "conversation": conv}, "events": events}


PARTS = [{"id": {"gaia_id": ME}, "fallback_name": "Robin"}, {"id": {"gaia_id": JO}, "fallback_name": "Jo Park"}]
T0 = 1462306507000000  # 2016-05-03 20:15:07 UTC


def test_hangouts_takeout_picks_the_largest_conversation(write):
    dm = [
        _ev(
            JO,
            T0,
            **_chat(
                {"type": "TEXT", "text": "hey"},
                {"type": "LINE_BREAK", "text": "\n"},
                {"type": "TEXT", "text": "you up?"},
            ),
        ),
        _ev(
            ME,
            T0 + 60_000_000,
            **_chat({"type": "TEXT", "text": "yes "}, {"type": "LINK", "text": "https://example.org"}),
        ),
        _ev(JO, T0 + 120_000_000, **_chat(attach=True)),
        _ev(ME, T0 + 180_000_000, "HANGOUT_EVENT", hangout_event={"event_type": "START_HANGOUT"}),
        _ev(
            ME,
            T0 + 480_000_000,
            "HANGOUT_EVENT",
            hangout_event={"event_type": "END_HANGOUT", "hangout_duration_secs": "300"},
        ),
        _ev(JO, T0 + 120_000_000, **_chat(attach=True)),  # a repeated event (same id) is read once
    ]
    group = [
        _ev(ME, T0, "RENAME_CONVERSATION", conversation_rename={"new_name": "crew"}),
        _ev(KAI, T0 + 1_000_000, **_chat({"type": "TEXT", "text": "hi all"})),
    ]
    data = {"conversations": [_conv("dm", PARTS, dm), _conv("g", [*PARTS, {"id": {"gaia_id": KAI}}], group, "crew")]}
    p = write("Takeout/Hangouts/Hangouts.json", json.dumps(data))
    assert detect(p) == "hangouts_json"
    conv = load(p)
    assert rows(conv) == [
        (datetime(2016, 5, 3, 20, 15, 7), "Jo Park", "hey\nyou up?", "text"),
        (datetime(2016, 5, 3, 20, 16, 7), "Robin", "yes https://example.org", "text"),
        (datetime(2016, 5, 3, 20, 17, 7), "Jo Park", "<photo>", "media"),
        (datetime(2016, 5, 3, 20, 23, 7), "Robin", "call, 300 s", "call"),
    ]
    assert conv.title == "Jo Park" and conv.participants == ["Robin", "Jo Park"]
    assert any("2 conversations" in w.message for w in conv.warnings)
    crew = load(p, mapping={"chat": "crew"})
    assert [(m.sender, m.kind) for m in crew.messages] == [("", "system"), ("user 333", "text")]
    assert crew.messages[0].text == "Robin renamed the conversation to crew"


def test_hangouts_2014_layout_and_own_name(write):
    events = [
        _ev(JO, T0, **_chat({"type": "TEXT", "text": "morning"})),
        _ev(ME, T0 + 5_000_000, **_chat({"type": "TEXT", "text": "hi"})),
    ]
    conv = {
        "participant_data": [{"id": {"gaia_id": ME}}, PARTS[1]],
        "self_conversation_state": {"self_read_state": {"participant_id": {"gaia_id": ME}}},
    }
    data = {
        "conversation_state": [
            {"conversation_id": {"id": "x"}, "conversation_state": {"conversation": conv, "event": events}}
        ]
    }
    p = write("Hangouts.json", json.dumps(data))
    assert detect(p) == "hangouts_json"
    assert people(load(p)) == {"Jo Park": 1, "Me": 1}


def test_hangouts_truncated_names_the_file(write):
    data = json.dumps({"conversations": [_conv("dm", PARTS, [_ev(JO, T0, **_chat({"type": "TEXT", "text": "hey"}))])]})
    p = write("Hangouts.json", data[: len(data) - 30])
    with pytest.raises(CorruptExportError) as e:
        load(p, format="hangouts_json")
    assert "Hangouts.json" in str(e.value)


# --- imessage-exporter HTML ---------------------------------------------------------------------------


def _msg(stamp, sender, inner, sent=False, extra=""):
    cls = '<div class="sent iMessage">' if sent else '<div class="received">'
    return (
        f'<div class="message">\n{cls}\n<p><span class="timestamp"><a title="Reveal in Messages app" href="sms://open?message-guid=X">{stamp}</a> </span>\n'
        f'<span class="sender">{sender}</span></p>\n<hr><div class="message_part">\n{inner}\n</div>\n{extra}</div>\n</div>\n'
    )


def test_imessage_html_threads_tapbacks_attachments_announcements(write):
    reply = _msg("May 17, 2023  5:31:00 PM", "Me", '<span class="bubble">on my way</span>', sent=True)
    html = '<html>\n<head>\n<meta charset="UTF-8">\n</head>\n<body>\n'
    html += _msg(
        "May 17, 2023  5:29:42 PM",
        "+15551234567",
        '<span class="bubble">are you home?<br>it&#x27;s late</span>',
        extra='<div class="tapbacks"><hr><p>Tapbacks:</p>\n<div class="tapback"><span class="tapback"><b>Loved</b> by Me</span></div>\n</div>\n'
        f'<div class="replies"><div class="reply">{reply}</div></div>\n',
    )
    html += _msg(
        "May 17, 2023  5:31:00 PM",
        "Me",
        '<span class="bubble">on my way</span>',
        sent=True,
        extra='<span class="reply_context">This message responded to an earlier message.</span>\n',
    )
    html += '<div class ="announcement"><p><span class="timestamp">May 17, 2023  5:40:00 PM</span> You named the conversation <b>home</b></p></div>\n'
    html += _msg(
        "May 17, 2023  5:41:10 PM",
        "+15551234567",
        '<div class="attachment"><img src="attachments/1/IMG_1.jpeg" loading="lazy"></div>',
    )
    html += _msg("not a date", "Me", '<span class="bubble">lost</span>', sent=True)
    html += "</body></html>\n"
    p = write("+15551234567.html", html)
    assert detect(p) == "imessage_html"
    conv = load(p)
    assert rows(conv) == [
        (datetime(2023, 5, 17, 17, 29, 42), "+15551234567", "are you home?\nit's late", "text"),
        (datetime(2023, 5, 17, 17, 31), "Me", "on my way", "text"),
        (datetime(2023, 5, 17, 17, 40), "", "You named the conversation home", "system"),
        (datetime(2023, 5, 17, 17, 41, 10), "+15551234567", "<attachment>", "media"),
    ]
    assert conv.messages[0].reactions == (("Me", "❤️"),)
    assert len(conv.warnings) == 1 and conv.warnings[0].line is not None and "date" in conv.warnings[0].message


def test_imessage_txt_edits_announcements_nested_replies(write):
    text = (
        "Jun 01, 2023  9:15:00 AM (Read by you after 1 minute)\n+15559870000\nmorning\n\n"
        "Jun 01, 2023  9:16:00 AM You renamed the conversation to us\n\n"
        "Jun 01, 2023  9:17:00 AM\nMe\nJun 01, 2023  9:17:00 AM helo\nEdited 5 seconds later: hello\n"
        "    Jun 01, 2023  9:18:00 AM\n    +15559870000\n    hi!\n\n"
        "Jun 01, 2023  9:18:00 AM\n+15559870000\nhi!\nThis message responded to an earlier message.\nTapbacks:\nLiked by Me\n\n"
    )
    conv = load(write("+15559870000.txt", text))
    assert rows(conv) == [
        (datetime(2023, 6, 1, 9, 15), "+15559870000", "morning", "text"),
        (datetime(2023, 6, 1, 9, 16), "", "You renamed the conversation to us", "system"),
        (datetime(2023, 6, 1, 9, 17), "Me", "hello", "text"),
        (datetime(2023, 6, 1, 9, 18), "+15559870000", "hi!", "text"),
    ]
    assert conv.messages[2].edited and conv.messages[3].reactions == (("Me", "👍"),)


def test_imessage_tapbacks_sent_as_text_are_reactions(write):
    text = (
        "Jun 01, 2023  9:15:00 AM\n+15559870000\nsee you at the station\n\n"
        "Jun 01, 2023  9:15:30 AM\nMe\nLoved “see you at the station”\n\n"
        "Jun 01, 2023  9:16:00 AM\nMe\n/Users/me/Library/Messages/Attachments/a/IMG_1.HEIC\n\n"
        "Jun 01, 2023  9:16:20 AM\n+15559870000\nLaughed at an image\n\n"
        "Jun 01, 2023  9:17:00 AM\n+15559870000\nRemoved a heart from “see you at the station”\n\n"
    )
    conv = load(write("+15559870000.txt", text))
    assert [(m.sender, m.kind, m.reactions) for m in conv.messages] == [
        ("+15559870000", "text", (("Me", "❤️"),)),
        ("Me", "media", (("+15559870000", "😂"),)),
    ]


# --- Discord pasted from the client -------------------------------------------------------------------


def test_discord_paste_three_line_headers_grouped_markers_and_notices(write):
    text = (
        "rowan\n — \n03/12/2024 3:14 PM\nhey are you around\n[3:15 PM]\nneed to talk\nabout the thing (edited)\n"
        "kit.\n — \n03/12/2024 9:02 PM\nyeah\n"
        "rowan started a call that lasted 12 minutes. — 03/13/2024 10:00 AM\n"
        "kit.\n — \n03/13/2024 10:20 AM\n\n"
    )
    p = write("dm.txt", text)
    assert detect(p) == "discord_paste"
    conv = load(p)
    assert rows(conv) == [
        (datetime(2024, 3, 12, 15, 14), "rowan", "hey are you around", "text"),
        (datetime(2024, 3, 12, 15, 15), "rowan", "need to talk\nabout the thing", "text"),
        (datetime(2024, 3, 12, 21, 2), "kit.", "yeah", "text"),
        (datetime(2024, 3, 13, 10, 0), "", "rowan started a call that lasted 12 minutes.", "system"),
        (datetime(2024, 3, 13, 10, 20), "kit.", "<attachment>", "media"),
    ]
    assert conv.messages[1].edited


def test_discord_paste_relative_days_from_the_save_date(write):
    text = "Nell — Yesterday at 22:01\ndid you get home ok\njuno — Today at 08:05\nyep\nsorry, fell asleep\n"
    p = write("paste.txt", text)
    os.utime(p, (datetime(2024, 11, 4, 12).timestamp(),) * 2)
    assert detect(p) == "discord_paste"
    conv = load(p)
    assert rows(conv) == [
        (datetime(2024, 11, 3, 22, 1), "Nell", "did you get home ok", "text"),
        (datetime(2024, 11, 4, 8, 5), "juno", "yep", "text"),
        (datetime(2024, 11, 4, 8, 5), "juno", "sorry, fell asleep", "text"),
    ]
    again = load(p)  # importing the same paste again gives the same messages (so nothing is added twice)
    assert [m.fingerprint() for m in again.messages] == [m.fingerprint() for m in conv.messages]
    assert load(p, mapping={"today": "2025-01-02"}).messages[0].timestamp == datetime(2025, 1, 1, 22, 1)


def test_discord_paste_day_first_dates_and_old_style(write):
    text = "Sam — 13/03/2024 09:15\nmorning\nAlex Today at 9:20 AM\nhi\n"
    conv = load(write("p.txt", text), mapping={"today": "2024-03-13"})
    assert rows(conv) == [
        (datetime(2024, 3, 13, 9, 15), "Sam", "morning", "text"),
        (datetime(2024, 3, 13, 9, 20), "Alex", "hi", "text"),
    ]


def test_plain_prose_is_not_a_discord_paste(write):
    p = write("notes.txt", "Shopping list\n - milk\n - eggs\nCall mum — tomorrow\n")
    with pytest.raises(Exception) as e:
        detect(p)
    assert "not a recognized chat export" in str(e.value)


# --- WeChat / QQ CSV ----------------------------------------------------------------------------------


def test_wechat_csv_loose_dates_remarks_aliases_and_owner(write):
    text = (
        "localId,TalkerId,Type,SubType,IsSender,CreateTime,Status,StrContent,StrTime,Remark,NickName,Sender\n"
        "1,2,1,0,0,0,2,在吗,2024-10-4 11:43,阿杰,Jay,wxid_x9ajie\n"
        "2,2,1,0,1,0,2,在,2024/10/4 11:44:05,阿杰,Jay,wxid_self77\n"
        "3,2,1,0,0,0,2,电脑上发的,2024-10-04T11:45:00,阿杰,Jay,wxid_self77\n"
        "4,2,1,0,0,0,2,bad,yesterday,阿杰,Jay,wxid_x9ajie\n"
    )
    p = write("chat.csv", text)
    conv = load(p)
    assert rows(conv) == [
        (datetime(2024, 10, 4, 11, 43), "阿杰", "在吗", "text"),
        (datetime(2024, 10, 4, 11, 44, 5), "我", "在", "text"),
        (datetime(2024, 10, 4, 11, 45), "我", "电脑上发的", "text"),
    ]
    assert conv.warnings[0].line == 5 and "yesterday" in conv.warnings[0].message
    assert resolve_participant(conv, "wxid_x9ajie") == "阿杰"
