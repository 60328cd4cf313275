"""A whole talk flow on the real embedded model: home → talk (demo) → typed line → streamed reply → end."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.tui.conftest import STATUS, wait_until
from voice_app.conversation.engine import ConversationEngine
from voice_app.conversation.services import Services
from voice_app.core import config
from voice_app.core.clauses import clause_cut
from voice_app.storage.store import Store
from voice_app.tui.app import VoiceApp
from voice_app.tui.screens import HomeScreen, TalkScreen
from voice_app.tui.widgets import StateIndicator, Transcript

pytestmark = [pytest.mark.anyio, pytest.mark.slow]

MODEL_TIMEOUT_S = 600  # loading plus the persona prefix on a busy 2-core machine


def small_replies(home: Path) -> config.Settings:
    (home / "config.toml").write_text('[llm]\nbackend = "embedded"\nmax_reply_tokens = 12\n', encoding="utf-8")
    return config.load()


async def test_demo_talk_flow_on_the_embedded_model(store: Store, isolated_home: Path) -> None:
    settings = small_replies(isolated_home)
    services = Services(store, settings)
    # Typed input: the text engine even where a microphone exists (the voice path has its own test).
    app = VoiceApp(
        services,
        engine_factory=lambda p: ConversationEngine(store, p, settings=settings),
        status=STATUS,
        doctor_rows=[],
    )
    # The reply pieces the screen received, each once; the messages are kept so their ids are never reused.
    received: list[TalkScreen.Piece] = []

    def hook(message: object) -> None:
        if isinstance(message, TalkScreen.Piece) and not any(m is message for m in received):
            received.append(message)

    async with app.run_test(size=(100, 30), message_hook=hook) as pilot:
        await wait_until(pilot, lambda: isinstance(app.screen, HomeScreen))
        await pilot.press("t")  # the only persona, demo, is selected
        await wait_until(pilot, lambda: isinstance(app.screen, TalkScreen))
        screen = app.screen
        assert isinstance(screen, TalkScreen)
        state = screen.query_one(StateIndicator)
        assert state.state == "loading"  # the model loads in a worker: the UI is already up
        await pilot.press(*"hey, are you there?", "enter")  # typing works while the model loads
        await wait_until(pilot, lambda: len(screen.turns) == 1, timeout=MODEL_TIMEOUT_S)
        view = screen.turns[0]
        assert view.reply.strip()
        bubbles = screen.query_one(Transcript).bubbles
        assert bubbles[1].text == "hey, are you there?"
        assert bubbles[2].text.strip() == view.reply.strip()
        pieces = [m.text for m in received]
        assert "".join(pieces).strip() == view.reply.strip()
        # streamed in pieces: a reply of more than one clause is shown before it is whole
        assert len(pieces) >= min(2, clause_count(view.reply)), (pieces, view.reply)
        assert state.state == "ready"
        stored = store.turns(screen.engine.session_id)
        assert stored[0]["status"] == "complete" and stored[0]["reply_text"] == view.reply
        assert stored[0]["backend"] == "embedded"
        # "They wouldn't say that": ctrl+n on the last reply, with what they would have said.
        await pilot.press("ctrl+n")
        await wait_until(pilot, lambda: type(app.screen).__name__ == "NotThemDialog")
        await pilot.press(*"right here, dork", "enter")
        await wait_until(pilot, lambda: app.screen is screen)
        [correction] = store.corrections("demo")
        assert (correction.user_line, correction.reply, correction.better) == (
            "hey, are you there?",
            view.reply.strip(),
            "right here, dork",
        )
        assert bubbles[2].border_subtitle == "not them: right here, dork"
        await pilot.press("ctrl+g")
        await wait_until(pilot, lambda: isinstance(app.screen, HomeScreen), timeout=60)
        assert store.get_session(stored[0]["session_id"]).ended_at is not None


def clause_count(text: str) -> int:
    """How many pieces the reply check releases `text` in (it releases a clause once it is whole)."""
    count = 0
    while cut := clause_cut(text, first=count == 0):
        text, count = text[cut:], count + 1
    return count + (1 if text.strip() else 0)
