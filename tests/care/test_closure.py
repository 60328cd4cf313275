"""Closure mode: the guided arc, the goodbye ritual and the letter, through the real chat command."""

from __future__ import annotations

import stat
from pathlib import Path

from tests.ollama_fake import FakeOllama
from tests.test_chat import voice_app
from voice_app.care.closure import letter_text, needs_from
from voice_app.storage.store import Store


def test_needs_are_the_users_own_words() -> None:
    lines = [
        "hi",
        "I needed you to listen to me",
        "我希望你能理解我",
        "what time is it",
        "I needed you to listen to me",
    ]
    assert needs_from(lines) == ["I needed you to listen to me", "我希望你能理解我"]
    letter = letter_text("Sam", "Alex", lines)
    assert letter.startswith("# A letter to myself, after saying goodbye to Alex")
    assert "> I needed you to listen to me" in letter and "Dear Sam," in letter
    assert "did not put it into words" in letter_text("Sam", "Alex", ["ok"])


def test_guided_arc_goodbye_writes_the_letter_and_offers_forget(isolated_home: Path) -> None:
    script = "\n".join(
        [
            "I never told you how lonely I was in Rotterdam",
            "/next",
            "did you ever love me? I just wanted you to choose us",
            "/next",
            "goodbye Alex. I wish you well",
            "/goodbye",
        ]
    )
    with FakeOllama() as server:
        result = voice_app(
            isolated_home, "chat", "demo", "--closure", "--letter", stdin=script + "\n", OLLAMA_HOST=server.host
        )
        finals = [r["messages"][-1]["content"] for r in server.chat_requests()[1:]]
        hints = [text[1 : text.index(")")] for text in finals if text.startswith("(")]
    assert result.returncode == 0, result.stderr
    assert "What was never said" in result.stderr and "The questions" in result.stderr and "Goodbye:" in result.stderr
    assert [h.split(" is ")[1].split(".")[0] for h in hints] == [
        "saying things they never got to say",
        "asking the questions that stayed open",
        "saying goodbye",
    ]
    assert "voice-app forget demo" in result.stdout
    letters = list((isolated_home / "personas").glob("p*/letters/*.md"))  # the folder is named by the persona's id
    assert len(letters) == 1 and stat.S_IMODE(letters[0].stat().st_mode) == 0o600
    text = letters[0].read_text()
    assert (
        "> did you ever love me? I just wanted you to choose us" in text and "> goodbye Alex. I wish you well" in text
    )
    with Store(isolated_home / "voice_app.sqlite3") as store:
        session = store.list_sessions("demo")[0]
        meta = store.session_meta(session.id)
        assert meta["closure_stage"] == "done" and meta["letter"] == str(letters[0])
        assert session.ended_at is not None and session.turns == 3
