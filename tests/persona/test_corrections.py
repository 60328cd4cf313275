""" "They wouldn't say that": a correction is stored, changes the next reply to the same line, and can be undone."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from voice_app.conversation.conversation import Conversation
from voice_app.conversation.importing import ensure_demo
from voice_app.core import assets, config
from voice_app.core.errors import CorrectionNotFoundError, NothingToCorrectError
from voice_app.llm.embedded import EmbeddedChat
from voice_app.storage.store import Store

LINE = "what do you call me?"
BETTER = "trouble. you know that"


def settings(home: Path) -> config.Settings:
    (home / "config.toml").write_text(
        '[llm]\nbackend = "embedded"\nmax_reply_tokens = 20\ntemperature = 0.0\n', encoding="utf-8"
    )
    return config.load()


@pytest.mark.slow
def test_a_correction_changes_the_next_reply_to_the_same_line_and_can_be_undone(isolated_home: Path) -> None:
    conf = settings(isolated_home)
    model = EmbeddedChat(assets.resolve("llm").path, seed=0)
    try:
        with Store.open_default() as store:
            ensure_demo(store)
            first = Conversation(store, "demo", settings=conf, model=model, seed=0)
            original_prefix = first.prompt.prefix
            with pytest.raises(NothingToCorrectError):
                first.not_them()
            said = first.reply(LINE, seed=0).reply
            correction = first.not_them(BETTER)
            assert (correction.user_line, correction.reply, correction.better) == (LINE, said, BETTER)
            # The same session: the prefix stays (its cache holds); the correction rides with the line.
            again = first.reply(LINE, seed=0).reply
            assert first.prompt.prefix == original_prefix
            assert again != said, again
            first.end()

            # A new session reads it in its prefix: as a counter-example and as an example.
            second = Conversation(store, "demo", settings=conf, model=model, seed=0)
            assert f'not "{said}"' in second.prompt.system and (LINE, BETTER) in second.prompt.examples
            later = second.reply(LINE, seed=0).reply
            assert later != said, later
            second.end()

            # Undone: the next session's prompt is the original one again.
            store.remove_correction("demo", correction.id)
            with pytest.raises(CorrectionNotFoundError):
                store.remove_correction("demo", correction.id)
            third = Conversation(store, "demo", settings=conf, model=model, seed=0)
            assert third.prompt.prefix == original_prefix
            third.end()
    finally:
        model.close()


def test_corrections_are_listed_and_undone_from_the_command_line(isolated_home: Path) -> None:
    with Store.open_default() as store:
        ensure_demo(store)
        kept = store.add_correction("demo", "hey", "Hello! How can I help you today?", "hey you")
        undone = store.add_correction("demo", "do you miss me", "As a friend, I do.")

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "voice_app", "persona", "corrections", "demo", *args],
            capture_output=True,
            text=True,
            timeout=120,
        )

    listed = json.loads(cli("--json").stdout)
    assert [c["id"] for c in listed] == [kept.id, undone.id]
    assert listed[0] == {
        "id": kept.id,
        "created_at": kept.created_at,
        "user_line": "hey",
        "reply": "Hello! How can I help you today?",
        "better": "hey you",
    }
    result = cli("--undo", str(undone.id))
    assert result.returncode == 0 and "Undone" in result.stdout
    assert [c["id"] for c in json.loads(cli("--json").stdout)] == [kept.id]
    missing = cli("--undo", "999")
    assert missing.returncode == 2 and "no correction 999" in missing.stderr
    assert "persona corrections demo" in missing.stderr  # the fix names the command that lists them
