"""Fuzzing: random and mutated text/JSON through ``load`` never raise anything but ImportFormatError."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from voice_app.chatlog import Conversation, load, summarize
from voice_app.core.errors import ImportFormatError

DEMO = Path(__file__).resolve().parents[2] / "voice_app" / "data" / "demo"
FIX = Path(__file__).parent / "fixtures"
DEV = FIX / "dev"

SEEDS: list[bytes] = [
    (DEMO / "whatsapp_chat.txt").read_bytes()[:3000],
    (DEMO / "wechat_demo.csv").read_bytes()[:2500],
    (FIX / "telegram_html" / "messages.html").read_bytes(),
    (FIX / "messenger" / "inbox" / "alex_8812" / "message_1.json").read_bytes(),
    json.dumps(json.loads((DEMO / "telegram_result.json").read_text())["messages"][:12]).encode(),
    "[1/13/22, 9:05:30\u202fPM] Alex: \u200eimage omitted\n[1/13/22, 9:06:00\u202fPM] Sam: hi\n".encode(),
    b"[LINE] Chat history with Alex\nSaved on: 2023/05/02, 10:00\n\n2023/05/01, Mon\n18:22\tAlex\they\n",
    "消息记录\n消息对象:阿杰\n\n2021-05-01 9:05:07 小林(10001)\n周末去爬山吗\n".encode("gbk"),
    b"May 17, 2023  5:29:42 PM\nMe\nhi\n\n",
    b"[2023-05-01 18:22] Alex: hey!\n(- Sam: x -)\n",
    b"timestamp,sender,text\n2023-05-01T18:22:00,Alex,hey\n",
    b'{"t": 1, "sender": "a", "text": "b", "timestamp": 5}\n{"x": 2}\n',
    b'<?xml version="1.0"?><smses><sms date="1685613600000" type="1" body="hi" contact_name="A"/></smses>',
    b'{"guild": {}, "channel": {}, "messages": [{"id": "1", "timestamp": "2023-01-01T00:00:00Z", "content": "a"}]}',
    b'{"messages": [{"creator": {"name": "A"}, "created_date": "Monday, May 1, 2023 at 6:22:10 PM UTC"}]}',
    # the importers and layouts added for real-world variety
    (DEV / "Hangouts_2014.json").read_bytes()[:6000],
    (DEV / "imessage" / "Contact Sam.html").read_bytes(),
    (DEV / "imessage" / "+15559870000.txt").read_bytes(),
    (DEV / "discord_paste_multiline.txt").read_bytes(),
    (DEV / "discord_paste_2024.txt").read_bytes(),
    (DEV / "wa_android_ar.txt").read_bytes()[:1500],
    (DEV / "wa_ios_th_buddhist.txt").read_bytes()[:1500],
    (DEV / "wa_mixed_us_de.txt").read_bytes()[:2000],
    (DEV / "wechat" / "memotrace_wxid.csv").read_bytes()[:1500],
    (DEV / "line_ko.txt").read_bytes(),
    (DEV / "messenger_e2ee" / "message_1.json").read_bytes()[:2500],
]

# CHATLOG_FUZZ_EXAMPLES=5000 for a long run; the default keeps the suite fast.
FUZZ = settings(
    max_examples=int(os.environ.get("CHATLOG_FUZZ_EXAMPLES", "120")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
_tmp = tempfile.TemporaryDirectory(prefix="chatlog_fuzz_")
_n = [0]


def _load_bytes(data: bytes, name: str = "chat.txt", **kw) -> None:
    _n[0] += 1
    p = Path(_tmp.name) / f"{_n[0]}_{name}"
    p.write_bytes(data)
    try:
        conv = load(p, **kw)
    except ImportFormatError as e:
        assert str(p.name) in e.message or str(p) in e.message or "format id" in e.message
        # The catch-all in load() is a safety net; importers should report damage themselves.
        assert "unexpected content" not in e.message, e.message
        return
    finally:
        p.unlink()
    assert isinstance(conv, Conversation)
    json.dumps(summarize(conv))


@st.composite
def mutated(draw):
    seed = draw(st.sampled_from(SEEDS))
    data = bytearray(seed)
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.sampled_from(["cut", "insert", "flip", "truncate", "dup"]))
        if not data:
            break
        i = draw(st.integers(0, len(data) - 1))
        if op == "cut":
            del data[i : i + draw(st.integers(1, 40))]
        elif op == "insert":
            data[i:i] = draw(st.binary(min_size=1, max_size=12))
        elif op == "flip":
            data[i] = draw(st.integers(0, 255))
        elif op == "truncate":
            del data[i:]
        else:
            data[i:i] = data[max(0, i - 30) : i]
    return bytes(data)


@FUZZ
@given(mutated())
def test_mutated_exports(data):
    _load_bytes(data)


@FUZZ
@given(st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=300))
def test_random_text(text):
    _load_bytes(text.encode("utf-8"))


_LINEISH = st.lists(
    st.one_of(
        st.sampled_from(
            [
                "13/01/2022, 21:05 - ",
                "[1/13/22, 9:05:30 PM] ",
                "2023-05-01 18:22:00 ",
                "18:22\t",
                "[2023-05-01 18:22] ",
                "May 17, 2023  5:29:42 PM",
                "99/99/9999, 99:99 - ",
                "12/03/2024 à 15:14 - ",
                "[1/13/2565 BE, 21:05:00] ",
                "[3/27/R4, 21:41:35] ",
                "١٣\u200f/١\u200f/٢٠٢٢، ٩:٠٥ م - ",
                "2024. 3. 12. 오후 3:14 - ",
                "Alex — 03/12/2024 3:14 PM",
                " — ",
                "Today at 3:14 PM",
                "[3:15 PM]",
                "Système: ",
                "Messages and calls are end-to-end encrypted.",
                "\u200e",
                "\t",
            ]
        ),
        st.text(max_size=30),
        st.just("\n"),
        st.sampled_from(["Alex: ", "Sam", "<Media omitted>", "This message was deleted", ":", "\r\n"]),
    ),
    max_size=40,
)


@FUZZ
@given(_LINEISH)
def test_header_soup(parts):
    _load_bytes("".join(parts).encode("utf-8"))


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-(10**20), 10**20) | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=20,
)
_KEYS = st.sampled_from(
    ["id", "type", "date", "date_unixtime", "from", "from_id", "text", "actor", "action", "reactions", "edited",
     "reply_to_message_id", "photo", "sender_name", "timestamp_ms", "content", "is_unsent", "share", "photos",
     "call_duration", "timestamp", "author", "attachments", "reference", "creator", "created_date", "emoji",
     "recent", "messageId", "users", "count", "sender_id", "event_type", "chat_message", "event_id",
     "hangout_event", "membership_change", "senderName", "isUnsent", "media"]
)  # fmt: skip
MESSAGE = st.dictionaries(_KEYS, JSON_VALUES, max_size=8)
TEMPLATES = [
    lambda msgs: {"name": "A", "type": "personal_chat", "id": 1, "messages": msgs},
    lambda msgs: {"about": "", "chats": {"list": [{"name": "A", "type": "personal_chat", "messages": msgs}]}},
    lambda msgs: {"participants": [{"name": "A"}], "messages": msgs, "thread_path": "inbox/a"},
    lambda msgs: {"guild": {}, "channel": {"name": "x"}, "messages": msgs},
    lambda msgs: {"messages": [{"creator": {"name": "A"}, "created_date": "x"}, *msgs]},
    lambda msgs: {
        "conversations": [
            {
                "conversation": {"conversation_id": {"id": "c"}, "conversation": {"participant_data": msgs[:1]}},
                "events": msgs,
            }
        ]
    },
    lambda msgs: {"conversation_state": [{"conversation_id": {"id": "c"}, "conversation_state": {"event": msgs}}]},
    lambda msgs: {
        "participants": ["A", "B"],
        "threadName": "A",
        "messages": [{"senderName": "A", "timestamp": 1}, *msgs],
    },
]


@FUZZ
@given(st.integers(0, len(TEMPLATES) - 1), st.lists(MESSAGE, max_size=6))
def test_structured_json(template, msgs):
    _load_bytes(json.dumps(TEMPLATES[template](msgs)).encode(), "result.json")


@FUZZ
@given(JSON_VALUES)
def test_random_json(value):
    _load_bytes(json.dumps(value).encode(), "result.json")
