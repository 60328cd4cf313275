"""`voice-app forget`: rows, audio, indexes and letters gone, and a byte scan of the data dir proves it."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from voice_app.cli import main
from voice_app.conversation.forget import forget, scan
from voice_app.core import config
from voice_app.storage.store import Store

SECRET_LINES = [
    "the blue umbrella on platform nine",
    "remember the lighthouse keeper's cat",
    "我们在鼓浪屿看日落的那天晚上",
]


def make_export(folder: Path) -> Path:
    lines = []
    for i, text in enumerate(SECRET_LINES):
        lines.append(f"0{i + 1}/02/2024, 10:0{i} - Robin: {text}")
        lines.append(f"0{i + 1}/02/2024, 10:1{i} - Me: reply number {i} that is long enough")
    path = folder / "WhatsApp Chat with Robin.txt"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def populate(home: Path, capsys: pytest.CaptureFixture[str]) -> int:
    export = make_export(home.parent)  # the user's export lives outside the data dir
    assert main(["import", str(export), "--persona", "robin", "--them", "Robin", "--consent"]) == 0
    with Store(home / "voice_app.sqlite3") as store:
        sid = store.start_session("robin", "voice", "embedded", "qwen")
        ref = store.write_audio(np.zeros(1600, dtype=np.float32), 16000, f"audio/session-{sid}/turn-0-user.flac")
        turn = store.begin_turn(sid, "why did you pick the lighthouse that day", ref)
        store.complete_turn(turn, reply_text="because the keeper's cat liked you more than me")
        index = store.persona_dir(store.get_persona("robin").id) / "memory.idx"
    index.parent.mkdir(parents=True)
    index.write_text(SECRET_LINES[0], encoding="utf-8")
    capsys.readouterr()
    return sid


def test_forget_persona_leaves_no_trace_and_keeps_the_others(
    isolated_home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sid = populate(isolated_home, capsys)
    assert main(["forget", "robin", "--yes", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["clean"] is True and report["messages"] == 6 and report["sessions"] == 1
    assert report["probes"] >= 5 and len(report["files"]) == 2
    assert not (config.data_dir() / "audio" / f"session-{sid}").exists()
    assert not (config.data_dir() / "personas").exists() or not any((config.data_dir() / "personas").iterdir())
    for path in isolated_home.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            for text in SECRET_LINES:
                assert text.encode() not in data, path
    with Store(isolated_home / "voice_app.sqlite3") as store:
        assert store.find_persona("robin") is None
        assert store.message_count("demo") > 300  # other personas are untouched


def test_scan_finds_a_leftover(isolated_home: Path) -> None:
    (isolated_home / "stray.txt").write_text("x " + SECRET_LINES[2], encoding="utf-16-le")
    assert scan(isolated_home, [SECRET_LINES[2]]) == [f"{isolated_home / 'stray.txt'}: {SECRET_LINES[2]!r}"]


def test_forget_all_and_confirmation(isolated_home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    populate(isolated_home, capsys)
    assert main(["forget", "--all"]) == 2  # no terminal to confirm in, no --yes
    assert "--yes" in capsys.readouterr().err
    with Store(isolated_home / "voice_app.sqlite3") as store:
        report = forget(store, [p["name"] for p in store.list_personas()])
        assert report.clean and set(report.personas) == {"demo", "demo-zh", "robin"}
        assert store.query("SELECT COUNT(*) FROM messages")[0][0] == 0
    assert main(["forget", "nobody", "--yes"]) == 2
