"""Honesty: the reminder opens every session, and no prompt tells the model to deny being an AI."""

from __future__ import annotations

import re
from pathlib import Path

from tests.ollama_fake import FakeOllama
from tests.test_chat import voice_app
from voice_app.conversation.importing import ensure_demo
from voice_app.conversation.persona_data import build_prompt
from voice_app.storage.store import Store

DENIAL = re.compile(
    r"(deny|never (admit|reveal|say)|pretend to be (human|real)"
    r"|(?<!whether )you are (a )?(real|human)|not an? (ai|bot))",
    re.IGNORECASE,
)


def test_the_prompt_asks_for_honesty_and_never_for_denial(isolated_home: Path) -> None:
    with Store(isolated_home / "voice_app.sqlite3") as store:
        ensure_demo(store)
        prompt = build_prompt(store, "demo")
        text = "\n".join(m["content"] for m in prompt.prefix if m["role"] == "system")
        assert "say honestly that you are a simulation" in text
        assert not DENIAL.search(text), DENIAL.search(text)
        turn = prompt.turn([], "are we ok?")
        assert not DENIAL.search(turn.messages[-1]["content"])


def test_every_session_opens_with_the_reminder(isolated_home: Path) -> None:
    with FakeOllama() as server:
        result = voice_app(isolated_home, "chat", "demo", stdin="/quit\n", OLLAMA_HOST=server.host)
    assert result.returncode == 0
    assert "this is a simulation of Alex built from old messages, not Alex" in result.stderr
