# ruff: noqa: E501  (fixture data lines are kept verbatim)
"""WhatsApp in every locale: layouts inferred from the file, calendars, scripts, notices that nobody wrote."""

from __future__ import annotations

from datetime import datetime

import pytest

from voice_app.chatlog import detect, load, summarize

LRM, RLM, NBSP, NNBSP = "\u200e", "\u200f", "\u00a0", "\u202f"


def stamps(conv):
    return [m.timestamp for m in conv.messages]


def people(conv):
    return {p["name"]: p["messages"] for p in summarize(conv)["participants"] if p["messages"]}


@pytest.mark.parametrize(
    ("a", "b", "ts_a", "ts_b"),
    [
        # fr: "date à heure"
        ("13/01/2022 à 21:05 - ", "14/01/2022 à 00:01 - ", datetime(2022, 1, 13, 21, 5), datetime(2022, 1, 14, 0, 1)),
        # pt-BR: no comma
        ("13/01/2022 21:05 - ", "14/01/2022 00:01 - ", datetime(2022, 1, 13, 21, 5), datetime(2022, 1, 14, 0, 1)),
        # es with no-break spaces inside "p. m."
        (
            f"13/1/22, 9:05{NNBSP}p.{NBSP}m. - ",
            f"14/1/22, 12:01{NNBSP}a.{NBSP}m. - ",
            datetime(2022, 1, 13, 21, 5),
            datetime(2022, 1, 14, 0, 1),
        ),
        # en-AU lower case "pm"
        (
            "13/01/2022, 9:05 pm - ",
            "14/01/2022, 12:01 am - ",
            datetime(2022, 1, 13, 21, 5),
            datetime(2022, 1, 14, 0, 1),
        ),
        # ar: Arabic-Indic digits, RLM marks, Arabic comma, ص/م
        (
            "١٣\u200f/١\u200f/٢٠٢٢، ٩:٠٥ م - ",
            "١٤\u200f/١\u200f/٢٠٢٢، ١٢:٠١ ص - ",
            datetime(2022, 1, 13, 21, 5),
            datetime(2022, 1, 14, 0, 1),
        ),
        # th iOS: Buddhist years with "BE"
        (
            "[1/13/2565 BE, 21:05:00] ",
            "[1/14/2565 BE, 00:01:00] ",
            datetime(2022, 1, 13, 21, 5),
            datetime(2022, 1, 14, 0, 1),
        ),
        # th Android: Buddhist years without a suffix
        ("13/1/2565 21:05 - ", "14/1/2565 00:01 - ", datetime(2022, 1, 13, 21, 5), datetime(2022, 1, 14, 0, 1)),
        # ja iOS: Japanese era years
        ("[1/13/R4, 21:05:00] ", "[1/14/R4, 00:01:00] ", datetime(2022, 1, 13, 21, 5), datetime(2022, 1, 14, 0, 1)),
        # fa: Solar Hijri dates in Persian digits
        ("۱۴۰۰/۱۰/۲۳, ۲۱:۰۵ - ", "۱۴۰۰/۱۰/۲۴, ۰۰:۰۱ - ", datetime(2022, 1, 13, 21, 5), datetime(2022, 1, 14, 0, 1)),
        # hu: "2022. 01. 13. 21:05"
        ("2022. 01. 13. 21:05 - ", "2022. 01. 14. 0:01 - ", datetime(2022, 1, 13, 21, 5), datetime(2022, 1, 14, 0, 1)),
        # an RLM before the bracket (right-to-left UI) and a BOM
        (
            f"\ufeff{RLM}[13.01.22, 21:05:00] ",
            f"{RLM}[14.01.22, 00:01:00] ",
            datetime(2022, 1, 13, 21, 5),
            datetime(2022, 1, 14, 0, 1),
        ),
    ],
)
def test_locale_layouts(write, a, b, ts_a, ts_b):
    p = write("chat.txt", f"{a}Alex: hey you\n{b}Sam: hi!\n")
    assert detect(p) == "whatsapp"
    conv = load(p)
    assert [(m.timestamp, m.sender, m.text) for m in conv.messages] == [(ts_a, "Alex", "hey you"), (ts_b, "Sam", "hi!")]
    assert conv.warnings == []


def test_unknown_am_pm_words_are_told_apart_by_order(write):
    # Two words nobody listed: the one each day starts with is AM.
    lines = [
        "13/01/2022, 9:05 xa - Alex: a",
        "13/01/2022, 2:10 yb - Sam: b",
        "14/01/2022, 8:00 xa - Alex: c",
        "14/01/2022, 11:00 yb - Sam: d",
    ]
    conv = load(write("chat.txt", "\n".join(lines) + "\n"))
    assert [t.hour for t in stamps(conv)] == [9, 14, 8, 23]


def test_mixed_layouts_are_read_line_by_line(write):
    android = [f"{d:02d}/03/2023, 10:{d:02d} - Zoe: android {d}" for d in range(1, 6)]
    ios = [f"[{d:02d}/04/2023, 11:{d:02d}:00] Luca: ios {d}" for d in range(1, 4)]
    us = [f"5/{d}/23, 1:{d:02d} PM - Zoe: us {d}" for d in range(13, 15)]
    conv = load(write("chat.txt", "\n".join(android + ios + us) + "\nand a second line\n"))
    assert people(conv) == {"Zoe": 7, "Luca": 3}
    assert conv.messages[5].timestamp == datetime(2023, 4, 1, 11, 1)
    assert (
        conv.messages[-1].timestamp == datetime(2023, 5, 14, 13, 14)
        and conv.messages[-1].text == "us 14\nand a second line"
    )
    assert conv.warnings == []


def test_bom_in_the_middle_of_joined_files(write):
    text = "13/01/2022, 21:05 - Alex: one\n\ufeff14/01/2022, 09:00 - Sam: two\n"
    conv = load(write("chat.txt", text))
    assert [(m.sender, m.text) for m in conv.messages] == [("Alex", "one"), ("Sam", "two")]


@pytest.mark.parametrize(
    "notice",
    [
        "Les messages et les appels sont chiffrés de bout en bout. Aucun tiers, pas même WhatsApp, ne peut les lire ou les écouter.",
        "Nachrichten und Anrufe sind Ende-zu-Ende-verschlüsselt. Niemand außerhalb dieses Chats kann sie lesen oder anhören, nicht einmal WhatsApp.",
        "Your security code with Dana changed. Tap to learn more.",
        "Deine Sicherheitsnummer für Dana hat sich geändert. Tippe, um mehr zu erfahren.",
        "Cambió tu código de seguridad con Dana. Toca para obtener más información.",
        "Dana changed their phone number to a new number. Tap to message or add the new number.",
    ],
)
def test_notices_under_a_real_name_belong_to_nobody(write, notice):
    lines = [
        f"[13/01/2022, 21:0{i}:00] {who}: {text}"
        for i, (who, text) in enumerate([("Dana", "hi"), ("Ravi", "hey"), ("Dana", "how are you"), ("Ravi", "good")])
    ]
    lines.insert(2, f"[13/01/2022, 21:01:30] Dana: {notice}")
    conv = load(write("chat.txt", "\n".join(lines) + "\n"))
    assert people(conv) == {"Dana": 2, "Ravi": 2}
    assert summarize(conv)["messages"] == 5 and summarize(conv)["kinds"]["system"] == 1


@pytest.mark.parametrize("label", ["System", "Système", "Sistema", "Systeem"])
def test_localized_system_label_is_not_a_person(write, label):
    lines = [
        f"13/01/2022, 21:00 - {label}: Chloé a ajouté Nina",
        "13/01/2022, 21:01 - Chloé: salut",
        "13/01/2022, 21:02 - Nina: coucou",
        f"13/01/2022, 21:03 - {label}: Nina a quitté le groupe",
        "13/01/2022, 21:04 - Chloé: ça va ?",
    ]
    conv = load(write("chat.txt", "\n".join(lines) + "\n"))
    assert people(conv) == {"Chloé": 2, "Nina": 1}


def test_group_name_as_sender_of_notices_without_marks(write):
    lines = [
        "[13/01/2022, 21:00:00] Lisbon 🇵🇹: Priya created group “Lisbon 🇵🇹”",
        "[13/01/2022, 21:00:01] Lisbon 🇵🇹: Priya added Tom",
    ]
    lines += [f"[13/01/2022, 21:{i:02d}:00] {'Priya' if i % 2 else 'Tom'}: message {i}" for i in range(1, 30)]
    conv = load(write("chat.txt", "\n".join(lines) + "\n"))
    assert set(people(conv)) == {"Priya", "Tom"}


def test_a_person_who_mentions_joining_is_still_a_person(write):
    lines = ["13/01/2022, 21:00 - Alex: I joined the gym", "13/01/2022, 21:01 - Sam: nice"]
    lines += [f"13/01/2022, 21:{i:02d} - Sam: ok {i}" for i in range(2, 40)]
    conv = load(write("chat.txt", "\n".join(lines) + "\n"))
    assert people(conv) == {"Alex": 1, "Sam": 39}


def test_notice_with_a_colon_in_a_quoted_subject_is_not_a_person(write):
    lines = [
        '13/01/2022, 21:00 - Priya changed the subject from "Trip: Lisbon" to "Trip: Porto"',
        "13/01/2022, 21:01 - Priya: better",
        '13/01/2022, 21:02 - Tom: agreed "100%"',
    ]
    conv = load(write("chat.txt", "\n".join(lines) + "\n"))
    assert people(conv) == {"Priya": 1, "Tom": 1}
    assert conv.messages[0].kind == "system" and conv.messages[0].text.startswith("Priya changed the subject")
