"""Public API: load/detect/summarize/resolve_participant/merge, encodings, bad input, progress, demo data."""

from __future__ import annotations

import json
import sqlite3
import sys
import zipfile
from datetime import datetime
from pathlib import Path

import pytest

from voice_app.chatlog import (
    SUPPORTED_FORMATS,
    Conversation,
    Message,
    detect,
    load,
    merge,
    resolve_participant,
    summarize,
)
from voice_app.core.errors import CorruptExportError, ImportFormatError, ParticipantNotFoundError, UnknownFormatError

DEMO = Path(__file__).resolve().parents[2] / "voice_app" / "data" / "demo"
WA = "13/01/2022, 21:05 - Alex: hi there\n13/01/2022, 21:06 - Sam: hey 😀\n13/01/2022, 21:07 - Alex: 你好\n"


# --- demo data ----------------------------------------------------------------------------------------


def test_demo_whatsapp():
    conv = load(DEMO / "whatsapp_chat.txt")
    s = summarize(conv)
    assert s["format"] == "whatsapp"
    assert [p["name"] for p in s["participants"]] == ["Sam", "Alex"]
    assert 250 <= s["messages"] <= 400
    assert s["first"] == "2023-03-04T21:12:00" and s["last"].startswith("2023-09-02")
    assert s["kinds"]["media"] >= 2 and s["kinds"]["deleted"] == 1 and s["kinds"]["system"] == 1
    assert s["warnings"] == []
    texts = [m.text for m in conv.messages]
    assert any("beanie" in t for t in texts) and any("haha" in t for t in texts)
    assert any("\n" in t for t in texts)  # a multi-line message
    assert any(m.edited for m in conv.messages)


def test_demo_telegram_and_merge_with_whatsapp_slice():
    tg = load(DEMO / "telegram_result.json")
    assert tg.format == "telegram_json" and tg.title == "Alex"
    assert set(tg.participants) == {"Sam", "Alex"}
    assert 100 <= len(tg.messages) <= 250
    assert any(m.kind == "call" for m in tg.messages) and any(m.reactions for m in tg.messages)
    assert any(m.reply_to for m in tg.messages)


def test_summarize_shape_exact(write):
    p = write("chat.txt", WA + "14/01/2022, 08:00 - Sam: <Media omitted>\n")
    s = summarize(load(p))
    assert s == {
        "format": "whatsapp",
        "participants": [{"name": "Alex", "messages": 2}, {"name": "Sam", "messages": 2}],
        "messages": 4,
        "first": "2022-01-13T21:05:00",
        "last": "2022-01-14T08:00:00",
        "kinds": {"text": 3, "media": 1},
        "warnings": [],
    }
    json.dumps(s)


def test_summarize_empty_conversation():
    s = summarize(Conversation("whatsapp", [], []))
    assert s["first"] is None and s["last"] is None and s["messages"] == 0 and s["participants"] == []


def test_resolve_participant():
    conv = Conversation("x", ["Alex Kim", "Sam"], [], source="chat.txt")
    assert resolve_participant(conv, "alex kim") == "Alex Kim"
    assert resolve_participant(conv, "  ALEX   KIM ") == "Alex Kim"
    assert resolve_participant(conv, "alexkim") == "Alex Kim"
    assert resolve_participant(conv, "sam") == "Sam"
    with pytest.raises(ParticipantNotFoundError) as e:
        resolve_participant(conv, "Jordan")
    assert "'Alex Kim'" in e.value.message and "'Sam'" in e.value.message and "chat.txt" in e.value.message


def test_fingerprint_is_stable_and_discriminating():
    a = Message(datetime(2022, 1, 1, 10), "Alex", "hi")
    assert a.fingerprint() == Message(datetime(2022, 1, 1, 10), "Alex", "hi").fingerprint()
    assert a.fingerprint() != Message(datetime(2022, 1, 1, 10), "Alex", "hi", "media").fingerprint()
    assert a.fingerprint() != Message(datetime(2022, 1, 1, 10, 0, 1), "Alex", "hi").fingerprint()
    assert len(a.fingerprint()) == 24


def test_merge_overlapping_exports(write):
    older = write("a.txt", WA)
    newer = write("b.txt", WA.split("\n", 1)[1] + "14/01/2022, 08:00 - Sam: morning\n")
    conv = merge([load(older), load(newer)])
    assert [m.text for m in conv.messages] == ["hi there", "hey 😀", "你好", "morning"]
    assert conv.format == "whatsapp" and conv.participants == ["Alex", "Sam"]


def test_merge_keeps_same_text_at_different_times(write):
    a = load(write("a.txt", "13/01/2022, 21:05 - Alex: ok\n13/01/2022, 21:06 - Alex: ok\n"))
    assert len(merge([a, a]).messages) == 2


# --- encodings ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "utf-16", "utf-16-le", "utf-16-be", "gb18030"])
def test_encodings(write, encoding):
    p = write("chat.txt", WA, encoding)
    conv = load(p)
    assert [m.text for m in conv.messages] == ["hi there", "hey 😀", "你好"]
    assert conv.warnings == []


def test_gbk_without_emoji(write):
    p = write("chat.txt", "13/01/2022, 21:05 - 小林: 你好，今天吃什么？\n", "gbk")
    conv = load(p)
    assert (conv.messages[0].sender, conv.messages[0].text) == ("小林", "你好，今天吃什么？")


def test_mixed_encodings_line_is_repaired_with_warning(write):
    data = WA.encode("utf-8") + "13/01/2022, 21:08 - Sam: 再见\n".encode("gbk") + b"13/01/2022, 21:09 - Alex: bye\n"
    conv = load(write("chat.txt", data))
    assert [m.text for m in conv.messages][-2:] == ["再见", "bye"]
    assert len(conv.warnings) == 1 and conv.warnings[0].line == 4 and "gb18030" in conv.warnings[0].message


def test_mixed_encodings_in_json_names_offset(write):
    data = b'{"name": "A", "type": "personal_chat", "messages": [{"id": 1, "from_id": "u", "text": "\xff\xfe"}]}'
    with pytest.raises(CorruptExportError, match=r"result\.json.*offset \d+"):
        load(write("result.json", data))


# --- bad input ----------------------------------------------------------------------------------------


def _assert_lists_formats(err: ImportFormatError):
    assert err.fix is not None
    for fid in SUPPORTED_FORMATS:
        assert fid in err.fix


def test_unknown_format(write):
    p = write("notes.txt", "Dear diary,\ntoday nothing happened.\n")
    with pytest.raises(UnknownFormatError) as e:
        load(p)
    assert "notes.txt" in e.value.message and "Dear diary" in e.value.message
    _assert_lists_formats(e.value)
    with pytest.raises(UnknownFormatError):
        detect(p)


def test_unknown_json(write):
    p = write("data.json", json.dumps({"hello": [1, 2, 3]}))
    with pytest.raises(UnknownFormatError, match=r"data\.json"):
        load(p)


@pytest.mark.parametrize("cut", [10, 200, -5])
def test_truncated_json(cut):
    full = (DEMO / "telegram_result.json").read_bytes()
    import tempfile

    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / "result.json"
        p.write_bytes(full[:cut])
        with pytest.raises(CorruptExportError) as e:
            load(p)
    assert "result.json" in e.value.message and "line" in e.value.message and "byte offset" in e.value.message
    _assert_lists_formats(e.value)


def test_binary_file(write):
    p = write("chat.txt", bytes(range(256)) * 10)
    with pytest.raises(UnknownFormatError) as e:
        load(p)
    assert "chat.txt" in e.value.message and "binary" in e.value.message and "offset 0" in e.value.message
    _assert_lists_formats(e.value)


def test_binary_file_with_forced_format(write):
    p = write("chat.txt", b"\x00\x01\x02" * 100)
    with pytest.raises(UnknownFormatError, match=r"chat\.txt"):
        load(p, format="whatsapp")


def test_sqlite_database(tmp_path):
    p = tmp_path / "chat.db"
    con = sqlite3.connect(p)
    con.execute("create table message (text)")
    con.commit()
    con.close()
    with pytest.raises(UnknownFormatError, match=r"chat\.db is an SQLite database"):
        load(p)


def test_empty_file(write):
    with pytest.raises(CorruptExportError) as e:
        load(write("chat.txt", b""))
    assert "chat.txt" in e.value.message and "empty" in e.value.message
    _assert_lists_formats(e.value)


def test_whitespace_only_file(write):
    with pytest.raises(UnknownFormatError, match=r"chat\.txt"):
        load(write("chat.txt", "\n\n   \n"))


def test_zip_without_chat(tmp_path):
    z = tmp_path / "photos.zip"
    with zipfile.ZipFile(z, "w") as zf:
        zf.writestr("IMG_0001.jpg", b"\xff\xd8\xff")
        zf.writestr("notes/readme.txt", "just some notes\n")
    with pytest.raises(UnknownFormatError) as e:
        load(z)
    assert "photos.zip" in e.value.message
    _assert_lists_formats(e.value)
    z2 = tmp_path / "only_photos.zip"
    with zipfile.ZipFile(z2, "w") as zf:
        zf.writestr("IMG_0001.jpg", b"\xff\xd8\xff")
    with pytest.raises(UnknownFormatError, match=r"only_photos\.zip.*no chat history.*IMG_0001\.jpg"):
        load(z2)


def test_damaged_zip(write):
    with pytest.raises(CorruptExportError, match=r"broken\.zip"):
        load(write("broken.zip", b"PK\x03\x04" + b"\x00" * 50))


def test_missing_path(tmp_path):
    with pytest.raises(ImportFormatError, match=r"nope\.txt"):
        load(tmp_path / "nope.txt")


def test_empty_directory(tmp_path):
    with pytest.raises(UnknownFormatError, match=r"empty"):
        load(tmp_path)


def test_bad_format_id(write):
    with pytest.raises(UnknownFormatError, match=r"snapchat"):
        load(write("chat.txt", WA), format="snapchat")


def test_forced_format_mismatch(write):
    with pytest.raises(ImportFormatError, match=r"chat\.txt"):
        load(write("chat.txt", WA), format="telegram_json")


# --- streaming and progress -----------------------------------------------------------------------------


def test_progress_reports_bytes(write):
    p = write("chat.txt", WA * 50)
    calls = []
    load(p, progress=lambda done, total: calls.append((done, total)))
    size = p.stat().st_size
    assert calls and calls[-1] == (size, size)
    assert all(t == size for _, t in calls) and [d for d, _ in calls] == sorted(d for d, _ in calls)


def test_small_blocks_do_not_split_messages(write, monkeypatch):
    """Force 64-byte reads: multi-line messages and multi-byte characters cross every block boundary."""
    src = sys.modules["voice_app.chatlog.source"]
    monkeypatch.setattr(src, "CHUNK_BYTES", 64)
    body = "".join(
        f"13/01/2022, 21:{i % 60:02d} - {'Alex' if i % 2 else 'Sam'}: 第{i}行 ✨\ncontinued {i}\n" for i in range(300)
    )
    for enc in ("utf-8", "utf-16"):
        conv = load(write("chat.txt", body, enc))
        assert len(conv.messages) == 300
        assert sorted(m.text for m in conv.messages) == sorted(f"第{i}行 ✨\ncontinued {i}" for i in range(300))
        assert conv.warnings == []


def test_large_file_is_streamed(tmp_path):
    """A 40 MB export is parsed without holding the text in memory (only the messages)."""
    import tracemalloc

    p = tmp_path / "big.txt"
    line = "13/01/2022, 21:05 - Alex: " + "x" * 200 + "\n"
    with p.open("w") as f:
        for _ in range(20):
            f.write("13/01/2022, 21:05 - Sam: hi\n" + ("a" * 2000 + "\n") * 1000)
        f.write(line)
    tracemalloc.start()
    conv = load(p)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert len(conv.messages) == 21
    # messages legitimately hold ~40 MB of continuation text here; the file itself is never read whole twice
    assert peak < p.stat().st_size * 2.5


def test_every_format_module_registers_itself() -> None:
    from voice_app.chatlog.formats import CSV, JSON, MARKUP, TEXT, registry

    formats = registry()
    assert {fid: f.title for fid, f in formats.items()} == SUPPORTED_FORMATS
    assert len(formats) >= 16 and {"whatsapp", "telegram_json", "wechat_csv", "google_chat"} <= set(formats)
    for fid, f in formats.items():
        assert f.id == fid and f.title and f.family in (JSON, MARKUP, TEXT, CSV)
        assert callable(f.sniff) and callable(f.parse)
    assert {fid for fid, f in formats.items() if f.paged} == {"telegram_html", "messenger"}
    assert next(iter(formats)) == "whatsapp"  # the list users are shown starts with the most common export
