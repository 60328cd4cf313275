# ruff: noqa: E501  (fixture data lines are kept verbatim)
"""Telegram Desktop JSON/HTML and Facebook Messenger/Instagram JSON."""

from __future__ import annotations

import json
import shutil
import zipfile
from datetime import datetime
from pathlib import Path

import pytest

from voice_app.chatlog import detect, load

FIXTURES = Path(__file__).parent / "fixtures"


def tg_message(i, date, sender, text, **extra):
    return {"id": i, "type": "message", "date": date, "date_unixtime": "0", "from": sender,
            "from_id": f"user{len(sender)}", "text": text, **extra}  # fmt: skip


def test_telegram_single_chat_string_and_entity_text(write):
    doc = {
        "name": "Alex",
        "type": "personal_chat",
        "id": 77,
        "messages": [
            tg_message(1, "2023-06-03T22:11:05", "Alex", "plain text"),
            tg_message(
                2,
                "2023-06-03T22:11:40",
                "Sam",
                ["look at ", {"type": "bold", "text": "this"}, " ", {"type": "link", "text": "https://x.y"}],
                reply_to_message_id=1,
                edited="2023-06-03T22:12:00",
            ),
            tg_message(3, "2023-06-03T22:12:00", "Alex", "", photo="photos/p.jpg", width=10, height=10),
            tg_message(4, "2023-06-03T22:13:00", "Alex", "voice", media_type="voice_message", file="voice/1.ogg"),
            {
                "id": 5,
                "type": "service",
                "date": "2023-06-03T22:20:00",
                "actor": "Sam",
                "actor_id": "user3",
                "action": "phone_call",
                "duration_seconds": 62,
                "text": "",
            },
            {
                "id": 6,
                "type": "service",
                "date": "2023-06-03T22:30:00",
                "actor": "Alex",
                "action": "pin_message",
                "message_id": 1,
                "text": "",
            },
            tg_message(
                7,
                "2023-06-03T22:31:00",
                "Sam",
                "❤",
                reactions=[
                    {
                        "type": "emoji",
                        "count": 1,
                        "emoji": "😂",
                        "recent": [{"from": "Alex", "from_id": "user4", "date": "2023-06-03T22:32:00"}],
                    }
                ],
            ),
        ],
    }
    p = write("result.json", json.dumps(doc, ensure_ascii=False))
    assert detect(p) == "telegram_json"
    conv = load(p)
    got = [(m.timestamp, m.sender, m.text, m.kind) for m in conv.messages]
    assert got == [
        (datetime(2023, 6, 3, 22, 11, 5), "Alex", "plain text", "text"),
        (datetime(2023, 6, 3, 22, 11, 40), "Sam", "look at this https://x.y", "text"),
        (datetime(2023, 6, 3, 22, 12), "Alex", "<photo>", "media"),
        (datetime(2023, 6, 3, 22, 13), "Alex", "voice", "media"),
        (datetime(2023, 6, 3, 22, 20), "Sam", "call, 62 s", "call"),
        (datetime(2023, 6, 3, 22, 30), "", "Alex pin message", "system"),
        (datetime(2023, 6, 3, 22, 31), "Sam", "❤", "text"),
    ]
    assert conv.messages[1].edited and conv.messages[1].reply_to == "plain text"
    assert conv.messages[6].reactions == (("Alex", "😂"),)
    assert conv.title == "Alex"
    assert conv.participants == ["Alex", "Sam"]


def test_telegram_full_account_export_picks_largest_personal_chat(write):
    def chat(name, typ, n):
        return {"name": name, "type": typ, "id": len(name),
                "messages": [tg_message(i, f"2023-01-0{1 + i % 9}T10:00:00", name, f"m{i}") for i in range(n)]}  # fmt: skip

    doc = {
        "about": "Here is the data you requested.",
        "personal_information": {"user_id": 1, "first_name": "Sam"},
        "chats": {"about": "This page lists all chats.", "list": [
            chat("Alex", "personal_chat", 5), chat("Mum", "personal_chat", 2), chat("Book club", "private_group", 9),
        ]},
    }  # fmt: skip
    p = write("result.json", json.dumps(doc))
    assert detect(p) == "telegram_json"
    conv = load(p)
    assert conv.title == "Alex" and len(conv.messages) == 5
    assert any("imported 'Alex'" in str(w) for w in conv.warnings)
    conv = load(p, mapping={"chat": "mum"})
    assert conv.title == "Mum" and [m.text for m in conv.messages] == ["m0", "m1"]


def test_telegram_date_unixtime_only(write):
    doc = {
        "name": "A",
        "type": "personal_chat",
        "messages": [
            {"id": 1, "type": "message", "date_unixtime": "1685829065", "from": "A", "from_id": "user1", "text": "x"}
        ],
    }
    conv = load(write("result.json", json.dumps(doc)))
    assert conv.messages[0].timestamp == datetime(2023, 6, 3, 21, 51, 5)  # UTC in tests


def test_telegram_bad_message_is_warning(write):
    doc = {
        "name": "A",
        "type": "personal_chat",
        "messages": [tg_message(1, "not a date", "A", "x"), tg_message(2, "2023-01-01T00:00:00", "A", "ok"), 42],
    }
    conv = load(write("result.json", json.dumps(doc)))
    assert [m.text for m in conv.messages] == ["ok"]
    assert len(conv.warnings) == 2 and "message #1" in str(conv.warnings[0])


def _html_expect(conv):
    got = [(m.timestamp, m.sender, m.text, m.kind) for m in conv.messages]
    assert got == [
        (datetime(2023, 6, 3, 22, 11, 5), "Alex", "the seagull was a worthy successor to the goose", "text"),
        (datetime(2023, 6, 3, 22, 11, 40), "Alex", "he took my sandwich and my pride & joy\nseriously", "text"),
        (datetime(2023, 6, 3, 22, 12, 2), "Sam", "haha", "text"),
        (datetime(2023, 6, 3, 22, 13), "Sam", "I love you trouble", "text"),  # joined, continues from page 1
        (datetime(2023, 6, 3, 22, 14, 10), "Alex", "<media>", "media"),
        (datetime(2023, 6, 3, 22, 14, 30), "Alex", "love you beanie", "text"),
    ]
    assert conv.messages[2].reply_to == "the seagull was a worthy successor to the goose"
    assert conv.participants == ["Alex", "Sam"]


def test_telegram_html_directory_with_pages(tmp_path):
    d = tmp_path / "ChatExport_2023-07-01"
    shutil.copytree(FIXTURES / "telegram_html", d)
    (d / "css").mkdir()
    (d / "css" / "style.css").write_text("body{}")
    assert detect(d) == "telegram_html"
    _html_expect(load(d))


def test_telegram_html_zip_of_pages(tmp_path):
    z = tmp_path / "export.zip"
    with zipfile.ZipFile(z, "w") as zf:
        for name in ("messages2.html", "messages.html"):  # order in the zip must not matter
            zf.write(FIXTURES / "telegram_html" / name, f"ChatExport/{name}")
    assert detect(z) == "telegram_html"
    _html_expect(load(z))


def test_telegram_html_single_page(tmp_path):
    conv = load(FIXTURES / "telegram_html" / "messages.html")
    assert conv.format == "telegram_html" and len(conv.messages) == 3


def _messenger_expect(conv):
    got = [(m.timestamp, m.sender, m.text, m.kind) for m in conv.messages]
    assert got == [
        (datetime(2023, 6, 3, 20, 0), "Zoë Ålander", "café tonight? ☕", "text"),
        (datetime(2023, 6, 3, 20, 1), "Sam Park", "yes please", "text"),
        (datetime(2023, 6, 3, 20, 2), "Sam Park", "see you there 😍", "text"),
        (datetime(2023, 6, 3, 20, 4), "Zoë Ålander", "<photos>", "media"),
        (datetime(2023, 6, 3, 20, 5), "Zoë Ålander", "https://example.com/menu", "media"),
        (datetime(2023, 6, 3, 20, 10), "Sam Park", "You unsent a message", "deleted"),
        (datetime(2023, 6, 3, 21, 0), "Zoë Ålander", "Zoë called you.", "call"),
    ]
    assert conv.messages[2].reactions == (("Zoë Ålander", "❤"),)
    assert conv.participants == ["Zoë Ålander", "Sam Park"]
    assert conv.title == "Zoë Ålander"


def test_messenger_thread_folder_merges_pages_newest_first_and_repairs_mojibake():
    d = FIXTURES / "messenger" / "inbox" / "alex_8812"
    assert detect(d) == "messenger"
    _messenger_expect(load(d))


def test_messenger_single_file(tmp_path):
    conv = load(FIXTURES / "messenger" / "inbox" / "alex_8812" / "message_1.json")
    assert conv.format == "messenger" and len(conv.messages) == 5


def test_messenger_zip_download(tmp_path):
    z = tmp_path / "facebook-sam.zip"
    src = FIXTURES / "messenger" / "inbox" / "alex_8812"
    with zipfile.ZipFile(z, "w") as zf:
        for f in sorted(src.iterdir()):
            zf.write(f, f"messages/inbox/alex_8812/{f.name}")
        zf.writestr("messages/inbox/alex_8812/photos/1.jpg", b"\xff\xd8\xff")
    _messenger_expect(load(z))


def test_instagram_style_without_thread_path(write):
    doc = {"participants": [{"name": "alex.k"}, {"name": "sam"}], "messages": [
        {"sender_name": "alex.k", "timestamp_ms": 1685822400000, "content": "Liked a message", "reactions": []},
        {"sender_name": "sam", "timestamp_ms": 1685822300000, "content": "hi \u00f0\u009f\u0091\u008b"}]}  # fmt: skip
    p = write("message_1.json", json.dumps(doc))
    assert detect(p) == "messenger"
    conv = load(p)
    assert [m.text for m in conv.messages] == ["hi 👋", "Liked a message"]


@pytest.mark.parametrize("fmt", ["telegram_json", "messenger"])
def test_json_without_messages_is_corrupt(write, fmt):
    from voice_app.core.errors import CorruptExportError

    p = write("x.json", json.dumps({"name": "A", "type": "personal_chat", "sender_name": "x"}))
    with pytest.raises(CorruptExportError, match=r"x\.json"):
        load(p, format=fmt)


def test_telegram_json_inside_zip_with_media(tmp_path):
    z = tmp_path / "Telegram Desktop.zip"
    doc = {"name": "Alex", "type": "personal_chat", "id": 1, "messages": [
        tg_message(1, "2023-06-03T22:11:05", "Alex", "hello from a zip")]}  # fmt: skip
    with zipfile.ZipFile(z, "w") as zf:
        zf.writestr("ChatExport_2023-07-01/result.json", json.dumps(doc))
        zf.writestr("ChatExport_2023-07-01/photos/photo_1.jpg", b"\xff\xd8\xff")
        zf.writestr("ChatExport_2023-07-01/css/style.css", "body {}")
    assert detect(z) == "telegram_json"
    conv = load(z)
    assert [(m.sender, m.text) for m in conv.messages] == [("Alex", "hello from a zip")]


def test_warnings_name_the_page_in_multi_file_exports(tmp_path):
    d = tmp_path / "export"
    shutil.copytree(FIXTURES / "telegram_html", d)
    page = (d / "messages2.html").read_text()
    (d / "messages2.html").write_text(page.replace('title="03.06.2023 22:14:10 UTC+02:00"', 'title="garbage"'))
    conv = load(d)
    assert len(conv.messages) == 5
    (w,) = conv.warnings
    assert str(w).startswith("line ") and " of messages2.html: " in str(w) and "garbage" in str(w)
