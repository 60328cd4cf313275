"""`voice-app talk PERSONA --no-tui --input-wav FILE --json`: one spoken turn from a recording."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pytest

from tests.speech.conftest import word_error_rate, write_wav
from voice_app import cli, talk
from voice_app.store import Store


def parser() -> argparse.ArgumentParser:
    """The real CLI parser with `talk` registered the way cli.py will do it."""
    built = cli.build_parser()
    for action in built._actions:
        if isinstance(action, argparse._SubParsersAction) and "talk" not in action.choices:
            talk.register(action)
    return built


def run(argv: list[str]) -> int:
    args = parser().parse_args(argv)
    return int(args.func(args) or 0)


def test_talk_without_no_tui_is_a_clear_error(capsys: pytest.CaptureFixture[str]) -> None:
    from voice_app.errors import VoiceAppError

    with pytest.raises(VoiceAppError, match="TUI"):
        run(["talk", "demo"])


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
