"""`voice-app inspect` and `voice-app import` on real export files, end to end into SQLite."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from voice_app.cli import main
from voice_app.conversation.importing import demo_history
from voice_app.storage.store import Store

DEMO_DIR = demo_history().parent
INSPECT_KEYS = {"format", "participants", "messages", "first", "last", "kinds", "warnings"}


def run_json(capsys: pytest.CaptureFixture[str], *args: str) -> object:
    capsys.readouterr()
    assert main([*args, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_inspect_json_contract_and_writes_nothing(isolated_home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = run_json(capsys, "inspect", str(demo_history()))
    assert isinstance(data, dict) and set(data) == INSPECT_KEYS
    assert data["format"] == "whatsapp"
    names = [p["name"] for p in data["participants"]]
    assert sorted(names) == ["Alex", "Sam"]
    assert sum(p["messages"] for p in data["participants"]) <= data["messages"]
    assert data["first"].startswith("2023-03-04T21:12")
    assert data["kinds"]["system"] >= 1
    assert not (isolated_home / "voice_app.sqlite3").exists()


def test_import_creates_then_extends_and_never_duplicates(
    isolated_home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    first = run_json(capsys, "import", str(demo_history()), "--persona", "alex", "--them", "alex", "--consent")
    assert isinstance(first, dict)
    assert first["created"] is True and first["them"] == "Alex" and first["me"] == "Sam"
    assert first["added"] == first["parsed"] > 300
    again = run_json(capsys, "import", str(demo_history()), "--persona", "alex", "--them", "Alex", "--consent")
    assert isinstance(again, dict) and again["added"] == 0 and again["created"] is False
    # The same chat exported again from Telegram overlaps in people, not in file: it extends the persona.
    telegram = run_json(
        capsys, "import", str(DEMO_DIR / "telegram_result.json"), "--persona", "alex", "--them", "Alex", "--consent"
    )
    assert isinstance(telegram, dict) and telegram["format"] == "telegram_json" and telegram["added"] > 0
    with Store(isolated_home / "voice_app.sqlite3") as store:
        total = store.message_count("alex")
        assert total == first["added"] + telegram["added"]
        mine = [m for m in store.messages("alex") if m.from_them]
        assert mine and all(m.sender == "Alex" for m in mine)
    copy = isolated_home / "renamed.txt"
    shutil.copy(demo_history(), copy)  # same content under another name: still nothing new
    renamed = run_json(capsys, "import", str(copy), "--persona", "alex", "--them", "Alex", "--consent")
    assert isinstance(renamed, dict) and renamed["added"] == 0


def test_unknown_them_lists_the_participants(isolated_home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["import", str(demo_history()), "--persona", "x", "--them", "Jordan"]) == 2
    err = capsys.readouterr().err
    assert "'Alex'" in err and "'Sam'" in err
    assert main(["import", str(demo_history()), "--persona", "x"]) == 2
    assert "Alex" in capsys.readouterr().err
    with Store(isolated_home / "voice_app.sqlite3") as store:
        assert store.find_persona("x") is None


def test_failed_import_changes_nothing(isolated_home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run_json(capsys, "import", str(demo_history()), "--persona", "alex", "--them", "Alex", "--consent")
    broken = isolated_home / "result.json"
    broken.write_text((DEMO_DIR / "telegram_result.json").read_text(encoding="utf-8")[:5000], encoding="utf-8")
    assert main(["import", str(broken), "--persona", "alex", "--them", "Alex"]) == 2
    err = capsys.readouterr().err
    assert "result.json" in err
    with Store(isolated_home / "voice_app.sqlite3") as store:
        assert store.query("SELECT COUNT(*) FROM conversations")[0][0] == 3  # demo, demo-zh + alex, nothing more


def test_unknown_format_lists_supported_formats(isolated_home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    junk = isolated_home / "notes.txt"
    junk.write_text("just some notes\nnothing like a chat\n", encoding="utf-8")
    assert main(["inspect", str(junk)]) == 2
    err = capsys.readouterr().err
    assert "notes.txt" in err and "WhatsApp" in err and "Telegram" in err
