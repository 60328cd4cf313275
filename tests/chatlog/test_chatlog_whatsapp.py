# ruff: noqa: E501  (fixture data lines are kept verbatim)
"""WhatsApp: every locale/time layout, iOS vs Android, zip, multi-line, markers, warnings."""

from __future__ import annotations

import zipfile
from datetime import datetime

import pytest

from voice_app.chatlog import detect, load
from voice_app.core.errors import CorruptExportError

LRM = "\u200e"
NNBSP = "\u202f"


def first_text(conv, sender):
    return next(m for m in conv.messages if m.sender == sender)


@pytest.mark.parametrize(
    ("header_a", "header_b", "ts_a", "ts_b"),
    [
        # Android, en-US: m/d/yy 12 h
        ("1/13/22, 9:05 PM - ", "1/14/22, 12:01 AM - ", datetime(2022, 1, 13, 21, 5), datetime(2022, 1, 14, 0, 1)),
        # Android, en-US with U+202F before PM (newer Android builds)
        (
            f"1/13/22, 9:05{NNBSP}PM - ",
            f"1/14/22, 12:01{NNBSP}AM - ",
            datetime(2022, 1, 13, 21, 5),
            datetime(2022, 1, 14, 0, 1),
        ),
        # Android, en-GB: dd/mm/yyyy 24 h
        ("13/01/2022, 21:05 - ", "14/01/2022, 00:01 - ", datetime(2022, 1, 13, 21, 5), datetime(2022, 1, 14, 0, 1)),
        # Android, de: dd.mm.yy 24 h
        ("13.01.22, 21:05 - ", "14.01.22, 00:01 - ", datetime(2022, 1, 13, 21, 5), datetime(2022, 1, 14, 0, 1)),
        # Android, es: d/m/yy with "p. m." / "a. m."
        (
            "13/1/22, 9:05 p. m. - ",
            "14/1/22, 12:01 a. m. - ",
            datetime(2022, 1, 13, 21, 5),
            datetime(2022, 1, 14, 0, 1),
        ),
        # Android, ISO-ish y-m-d
        ("2022-01-13, 21:05 - ", "2022-01-14, 00:01 - ", datetime(2022, 1, 13, 21, 5), datetime(2022, 1, 14, 0, 1)),
        # Android, zh-CN: y/m/d with 上午/下午 before the time
        ("2022/1/13 下午9:05 - ", "2022/1/14 上午12:01 - ", datetime(2022, 1, 13, 21, 5), datetime(2022, 1, 14, 0, 1)),
        # Android, ja: 午前/午後
        ("2022/01/13 午後9:05 - ", "2022/01/14 午前0:01 - ", datetime(2022, 1, 13, 21, 5), datetime(2022, 1, 14, 0, 1)),
        # Android, ko: "2022. 1. 13. 오후 9:05"
        (
            "2022. 1. 13. 오후 9:05 - ",
            "2022. 1. 14. 오전 12:01 - ",
            datetime(2022, 1, 13, 21, 5),
            datetime(2022, 1, 14, 0, 1),
        ),
        # Android, fi: "13.1.2022 klo 21.05" (dotted time)
        ("13.1.2022 klo 21.05 - ", "14.1.2022 klo 0.01 - ", datetime(2022, 1, 13, 21, 5), datetime(2022, 1, 14, 0, 1)),
        # iOS, en-US: [m/d/yy, h:mm:ss PM] with U+202F
        (
            f"[1/13/22, 9:05:30{NNBSP}PM] ",
            f"[1/14/22, 12:01:02{NNBSP}AM] ",
            datetime(2022, 1, 13, 21, 5, 30),
            datetime(2022, 1, 14, 0, 1, 2),
        ),
        # iOS, de: [dd.mm.yy, HH:MM:SS]
        (
            "[13.01.22, 21:05:30] ",
            "[14.01.22, 00:01:02] ",
            datetime(2022, 1, 13, 21, 5, 30),
            datetime(2022, 1, 14, 0, 1, 2),
        ),
        # iOS, en-GB: [dd/mm/yyyy, HH:MM:SS]
        (
            "[13/01/2022, 21:05:30] ",
            "[14/01/2022, 00:01:02] ",
            datetime(2022, 1, 13, 21, 5, 30),
            datetime(2022, 1, 14, 0, 1, 2),
        ),
        # iOS, nl with dashes: [13-01-2022 21:05:30]
        (
            "[13-01-2022 21:05:30] ",
            "[14-01-2022 00:01:02] ",
            datetime(2022, 1, 13, 21, 5, 30),
            datetime(2022, 1, 14, 0, 1, 2),
        ),
    ],
)
def test_layouts(write, header_a, header_b, ts_a, ts_b):
    p = write("chat.txt", f"{header_a}Alex: hey you\n{header_b}Sam: hi!\n")
    assert detect(p) == "whatsapp"
    conv = load(p)
    assert [(m.timestamp, m.sender, m.text, m.kind) for m in conv.messages] == [
        (ts_a, "Alex", "hey you", "text"),
        (ts_b, "Sam", "hi!", "text"),
    ]
    assert conv.participants == ["Alex", "Sam"]
    assert conv.warnings == []


def test_day_first_inferred_from_later_lines(write):
    # The first dates are ambiguous (both <= 12); a later one proves day-first.
    lines = ["01/02/2022, 10:00 - Alex: a", "05/02/2022, 10:00 - Sam: b", "25/02/2022, 10:00 - Alex: c"]
    conv = load(write("chat.txt", "\n".join(lines) + "\n"))
    assert [m.timestamp.date().isoformat() for m in conv.messages] == ["2022-02-01", "2022-02-05", "2022-02-25"]


def test_month_first_inferred_from_whole_file(write):
    # 6000 ambiguous lines, then one with a day of 13 → month-first for all (beyond the first block sample).
    body = "".join(f"1/2/22, 10:{i % 60:02d} AM - Alex: msg {i}\n" for i in range(6000))
    body += "1/13/22, 10:00 AM - Sam: later\n"
    conv = load(write("chat.txt", body))
    assert conv.messages[0].timestamp == datetime(2022, 1, 2, 10, 0)
    assert conv.messages[-1].timestamp == datetime(2022, 1, 13, 10, 0)


def test_ambiguous_dates_use_monotony(write):
    # Only days/months <= 12 everywhere; reading day-first gives a date sequence that goes back in time.
    lines = ["1/5/22, 10:00 - Alex: a", "2/5/22, 10:00 - Sam: b", "3/5/22, 10:00 - Alex: c", "1/6/22, 10:00 - Sam: d"]
    conv = load(write("chat.txt", "\n".join(lines) + "\n"))
    assert [m.timestamp.date().isoformat() for m in conv.messages] == [
        "2022-05-01", "2022-05-02", "2022-05-03", "2022-06-01",
    ]  # fmt: skip


def test_multiline_and_system_and_banner(write):
    text = (
        "13/01/2022, 21:00 - Messages and calls are end-to-end encrypted. No one outside of this chat, not even"
        " WhatsApp, can read or listen to them. Tap to learn more.\n"
        "13/01/2022, 21:01 - Alex: first line\n"
        "second line\n"
        "\n"
        "third line after a blank\n"
        "13/01/2022, 21:02 - Sam changed their phone number to a new number. Tap to message or add the new number.\n"
        "13/01/2022, 21:03 - Sam: ok\n"
    )
    conv = load(write("chat.txt", text))
    kinds = [(m.kind, m.sender) for m in conv.messages]
    assert kinds == [("system", ""), ("text", "Alex"), ("system", ""), ("text", "Sam")]
    assert conv.messages[1].text == "first line\nsecond line\n\nthird line after a blank"
    assert conv.participants == ["Alex", "Sam"]


@pytest.mark.parametrize(
    "banner",
    [
        "Los mensajes y las llamadas están cifrados de extremo a extremo. Nadie fuera de este chat puede leerlos.",
        "Nachrichten und Anrufe sind Ende-zu-Ende-verschlüsselt. Niemand außerhalb dieses Chats kann sie lesen.",
        "Les messages et les appels sont chiffrés de bout en bout.",
        "消息和通话已进行端到端加密。对话之外的任何人，甚至包括 WhatsApp 都无法读取或收听。",
    ],
)
def test_ios_encryption_banner_any_language(write, banner):
    text = f"[13.01.22, 21:00:00] Alex: {LRM}{banner}\n[13.01.22, 21:00:05] Alex: hallo\n"
    conv = load(write("chat.txt", text))
    assert (conv.messages[0].kind, conv.messages[0].sender, conv.messages[0].text) == ("system", "", banner)
    assert conv.messages[1].kind == "text"


def test_android_banner_without_lrm_but_with_sender_is_still_system(write):
    text = "13/01/2022, 21:00 - Alex: Messages and calls are end-to-end encrypted.\n13/01/2022, 21:01 - Alex: hi\n"
    conv = load(write("chat.txt", text))
    assert conv.messages[0].kind == "system"


@pytest.mark.parametrize(
    "placeholder",
    [
        "<Media omitted>", "image omitted", "video omitted", "audio omitted", "sticker omitted", "GIF omitted",
        "document omitted", "<attached: 00000012-PHOTO-2022-01-13-21-05-30.jpg>",
        "IMG-20220113-WA0001.jpg (file attached)",
        "<Medien ausgeschlossen>", "Bild weggelassen", "<Anhang: 00000007-AUDIO-2022.opus>", "IMG-1.jpg (Datei angehängt)",
        "<Multimedia omitido>", "imagen omitida", "<adjunto: 0001-PHOTO.jpg>", "IMG-1.jpg (archivo adjunto)",
        "<Médias omis>", "image absente", "<pièce jointe : 0001-PHOTO.jpg>", "IMG-1.jpg (fichier joint)",
        "<Mídia oculta>", "imagem ocultada", "<anexado: 0001-PHOTO.jpg>", "IMG-1.jpg (arquivo anexado)",
        "<省略影音内容>", "<媒体文件已省略>", "图片已忽略",
    ],
)  # fmt: skip
def test_media_placeholders(write, placeholder):
    android = f"13/01/2022, 21:05 - Alex: {placeholder}\n13/01/2022, 21:06 - Sam: nice\n"
    ios = f"{LRM}[13/01/2022, 21:05:00] Alex: {LRM}{placeholder}\n[13/01/2022, 21:06:00] Sam: nice\n"
    for text in (android, ios):
        conv = load(write("chat.txt", text))
        m = conv.messages[0]
        assert (m.kind, m.sender, m.text) == ("media", "Alex", placeholder)


@pytest.mark.parametrize(
    "marker",
    [
        "This message was deleted", "You deleted this message", "You deleted this message.",
        "Diese Nachricht wurde gelöscht.", "Du hast diese Nachricht gelöscht.", "Se eliminó este mensaje.",
        "Eliminaste este mensaje.", "Ce message a été supprimé", "Vous avez supprimé ce message",
        "Esta mensagem foi apagada", "Você apagou esta mensagem", "此消息已删除", "你删除了此消息",
    ],
)  # fmt: skip
def test_deleted_markers(write, marker):
    conv = load(write("chat.txt", f"13/01/2022, 21:05 - Alex: {marker}\n"))
    assert (conv.messages[0].kind, conv.messages[0].sender) == ("deleted", "Alex")


def test_ios_deleted_with_lrm(write):
    conv = load(write("chat.txt", f"[13/01/2022, 21:05:00] Alex: {LRM}This message was deleted.\n"))
    assert conv.messages[0].kind == "deleted"


@pytest.mark.parametrize(
    "marker",
    ["<This message was edited>", "<Diese Nachricht wurde bearbeitet>", "<Se editó este mensaje.>",
     "<Ce message a été modifié>", "<Esta mensagem foi editada>"],
)  # fmt: skip
def test_edited_marker(write, marker):
    conv = load(write("chat.txt", f"13/01/2022, 21:05 - Alex: see you at 8 {marker}\n"))
    m = conv.messages[0]
    assert (m.text, m.edited, m.kind) == ("see you at 8", True, "text")


def test_edited_marker_on_multiline_message(write):
    conv = load(write("chat.txt", "13/01/2022, 21:05 - Alex: line one\nline two <This message was edited>\n"))
    assert (conv.messages[0].text, conv.messages[0].edited) == ("line one\nline two", True)


def test_missed_call(write):
    conv = load(write("chat.txt", f"[13/01/2022, 21:05:00] Alex: {LRM}Missed voice call\n"))
    assert conv.messages[0].kind == "call"


def test_invisible_characters_removed(write):
    text = f"{LRM}[1/13/22, 9:05:30{NNBSP}PM] ~{NNBSP}Alex B: a\u00a0b\n"
    conv = load(write("chat.txt", text))
    assert (conv.messages[0].sender, conv.messages[0].text) == ("Alex B", "a b")


def test_zip_export_from_phone(tmp_path):
    z = tmp_path / "WhatsApp Chat - Alex.zip"
    with zipfile.ZipFile(z, "w") as zf:
        zf.writestr("_chat.txt", f"[13/01/2022, 21:05:00] Alex: hi\n[13/01/2022, 21:06:00] Sam: {LRM}image omitted\n")
        zf.writestr("00000003-PHOTO-2022-01-13-21-06-00.jpg", b"\xff\xd8\xff\xe0" + b"\x00" * 100)
    assert detect(z) == "whatsapp"
    conv = load(z)
    assert [(m.sender, m.kind) for m in conv.messages] == [("Alex", "text"), ("Sam", "media")]


def test_name_of_file_is_irrelevant(write):
    p = write("notes.csv", "13/01/2022, 21:05 - Alex: hi\n")
    assert detect(p) == "whatsapp"


def test_damaged_header_is_a_warning_with_line_number(write):
    text = (
        "13/01/2022, 21:05 - Alex: ok\n"
        "32/13/2022, 21:06 - Sam: this date does not exist\n"
        "and its second line\n"
        "13/01/2022, 21:07 - Alex: next\n"
    )
    conv = load(write("chat.txt", text))
    assert [m.text for m in conv.messages] == ["ok", "next"]
    assert len(conv.warnings) == 1
    w = conv.warnings[0]
    assert w.line == 2 and "32/13/2022" in w.message and "1 following lines" in w.message
    assert str(w).startswith("line 2: ")


def test_text_before_first_message_is_a_warning(write):
    text = "some junk at the top\nmore junk\n13/01/2022, 21:05 - Alex: ok\n"
    conv = load(write("chat.txt", text))
    assert len(conv.messages) == 1
    assert conv.warnings[0].line == 1 and "2 line(s)" in conv.warnings[0].message


def test_forced_format_on_other_text_is_corrupt(write):
    p = write("x.txt", "hello\nworld\n")
    with pytest.raises(CorruptExportError) as e:
        load(p, format="whatsapp")
    assert "x.txt" in str(e.value)


def test_crlf_and_utf8_bom(write):
    conv = load(write("chat.txt", "\ufeff13/01/2022, 21:05 - Alex: hi\r\nsecond\r\n13/01/2022, 21:06 - Sam: yo\r\n"))
    assert [m.text for m in conv.messages] == ["hi\nsecond", "yo"]


def test_nfc_normalization(write):
    decomposed = "Jose\u0301"  # e + combining acute
    conv = load(write("chat.txt", f"13/01/2022, 21:05 - {decomposed}: cafe\u0301\n"))
    assert conv.messages[0].sender == "José" and conv.messages[0].text == "café"
