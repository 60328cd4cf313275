"""Care in the voice loop: the crisis check runs before the LLM, and a voice turn makes no outside connection."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.ollama_fake import FakeOllama
from tests.speech.conftest import write_wav
from voice_app.conversation.conversation import Conversation, Voice
from voice_app.conversation.importing import ensure_demo
from voice_app.core import config
from voice_app.llm.ollama_chat import OllamaChat
from voice_app.speech.audio import NullSpeaker
from voice_app.storage.store import Store

ROOT = Path(__file__).resolve().parents[2]


def test_crisis_line_is_spoken_out_of_character_without_the_llm(isolated_home: Path, synthesizer, tiny_en) -> None:  # type: ignore[no-untyped-def]
    with FakeOllama() as server, Store(isolated_home / "voice_app.sqlite3") as store:
        ensure_demo(store)
        pipeline = Conversation(
            store,
            "demo",
            settings=config.Settings(),
            model=OllamaChat("qwen2.5:1.5b-instruct", host=server.host),
            voice=Voice(tiny_en, synthesizer, NullSpeaker(rate=synthesizer.sample_rate).open()),
        )
        try:
            result = pipeline.respond("I don't want to live anymore")
            stopped = pipeline.respond("stop")
        finally:
            pipeline.close()
        assert server.chat_requests() == []
        assert "988" in result.reply and "not Alex" in result.reply
        assert result.reply_audio is not None  # it was spoken
        assert stopped.turn_id is None and stopped.reply == ""  # a stop word answers nothing
        (turn,) = store.turns(pipeline.session_id)
        assert turn["care"] == "crisis" and turn["backend"] == "care"


@pytest.mark.slow
def test_voice_turn_makes_no_connection_at_all(tmp_path: Path, isolated_home: Path, say) -> None:  # type: ignore[no-untyped-def]
    wav = write_wav(tmp_path / "said.wav", np.concatenate([np.zeros(3200, np.float32), say("Hey, are you there?")]))
    (isolated_home / "config.toml").write_text(
        '[stt]\nmodel = "whisper-tiny.en"\n[llm]\nbackend = "embedded"\nmax_reply_tokens = 10\n'
    )
    log = tmp_path / "net.log"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "tests.care.netguard",
            str(log),
            "talk",
            "demo",
            "--no-tui",
            "--input-wav",
            str(wav),
            "--json",
        ],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=ROOT,
        env={**os.environ, "VOICE_APP_HOME": str(isolated_home), "OLLAMA_HOST": "http://127.0.0.1:9"},
    )
    assert result.returncode == 0, result.stderr[-2000:]
    data = json.loads(result.stdout)
    assert data["transcript"] and data["reply"]
    assert (log.read_text().splitlines() if log.exists() else []) == []
