"""`voice-app talk PERSONA --no-tui --input-wav FILE --json`: one spoken turn from a recording."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from tests.speech.conftest import word_error_rate, write_wav
from voice_app import cli
from voice_app.storage.store import Store


def run(argv: list[str]) -> int:
    args = cli.build_parser().parse_args(argv)
    return int(args.func(args) or 0)


def test_talk_without_no_tui_opens_the_app_on_the_talk_screen(monkeypatch: pytest.MonkeyPatch) -> None:
    from voice_app.cli import app as tui_cli

    opened: list[tuple[str | None, bool]] = []
    monkeypatch.setattr(
        tui_cli, "run_app", lambda persona=None, talk=False, demo=False: opened.append((persona, talk)) or 0
    )
    assert run(["talk", "demo"]) == 0
    assert opened == [("demo", True)]


@pytest.mark.slow
def test_input_wav_gives_one_turn_as_json(
    tmp_path: Path, isolated_home: Path, say, capsys: pytest.CaptureFixture[str]
) -> None:  # type: ignore[no-untyped-def]
    text = "Hey Alex, do you still think about us?"
    wav = write_wav(tmp_path / "said.wav", np.concatenate([np.zeros(3200, np.float32), say(text)]))
    (isolated_home / "config.toml").write_text('[stt]\nmodel = "whisper-tiny.en"\n[llm]\nbackend = "embedded"\n')
    code = run(["talk", "demo", "--no-tui", "--input-wav", str(wav), "--json", "--max-tokens", "12", "--seed", "3"])
    assert code == 0
    data = json.loads(capsys.readouterr().out)
    assert {"transcript", "reply", "timeline", "session"} <= set(data)
    assert word_error_rate(text, data["transcript"]) == 0.0, data["transcript"]
    assert data["reply"] and data["timeline"]["speech_end"] == 0.0 and data["timeline"]["first_audio_out"] > 0
    with Store(isolated_home / "voice_app.sqlite3") as store:
        (turn,) = store.turns(data["session"])
        assert turn["status"] == "complete" and turn["user_text"] == data["transcript"]
        assert turn["reply_text"] == data["reply"] and (isolated_home / turn["user_audio"]).exists()
        assert store.get_session(data["session"]).mode == "voice"
