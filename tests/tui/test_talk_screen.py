"""Talk screen behaviour with a scripted model: streaming, memories, stage bar, interrupt, end, no mic."""

from __future__ import annotations

import threading

import pytest
from textual.widgets import Input

from tests.tui.conftest import ScriptedModel, make_app, wait_until
from voice_app.storage.store import Store
from voice_app.tui.screens import TalkScreen
from voice_app.tui.widgets import MemoriesPanel, StageBar, StateIndicator, Transcript

pytestmark = pytest.mark.anyio


async def test_typed_line_streams_reply_and_saves_the_turn(store: Store) -> None:
    app = make_app(store, persona="demo", talk=True)
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_until(pilot, lambda: isinstance(app.screen, TalkScreen))
        screen = app.screen
        assert isinstance(screen, TalkScreen)
        await wait_until(pilot, lambda: screen.query_one(StateIndicator).state == "ready")
        notes = [b.text for b in screen.query_one(Transcript).bubbles]
        assert "simulation" in notes[0]
        assert screen.focused is screen.query_one("#say", Input)
        await pilot.press(*"do you remember the lake?")
        await pilot.press("enter")
        await wait_until(pilot, lambda: len(screen.turns) == 1)
        bubbles = screen.query_one(Transcript).bubbles
        assert [b.kind for b in bubbles] == ["note", "user", "reply"]
        assert bubbles[1].text == "do you remember the lake?"
        assert bubbles[2].text == "hey Sam. I'm here, what's up?"
        assert screen.query_one(StateIndicator).state == "ready"
        assert screen.query_one(StageBar).timeline is not None
        view = screen.turns[0]
        stored = store.turns(screen.engine.session_id)
        assert stored[0]["reply_text"] == view.reply
        assert [m.to_dict() for m in screen.query_one(MemoriesPanel).memories] == stored[0]["memories"]


async def test_reply_streams_piece_by_piece_and_escape_interrupts(store: Store) -> None:
    model = ScriptedModel("one, two three four five six")  # "one," is a whole clause: it passes the reply check
    model.gate = threading.Event()
    app = make_app(store, model=model, persona="demo", talk=True)
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_until(pilot, lambda: isinstance(app.screen, TalkScreen))
        screen = app.screen
        await pilot.press(*"hello", "enter")
        await wait_until(pilot, lambda: screen.query_one(StateIndicator).state == "speaking")
        reply = screen.query_one(Transcript).bubbles[-1]
        # the first clause (with the space after it) is on screen before the rest exists
        await wait_until(pilot, lambda: reply.text == "one, ")
        await pilot.press("escape")
        model.gate.set()
        await wait_until(pilot, lambda: len(screen.turns) == 1)
        assert screen.turns[0].interrupted
        assert reply.border_subtitle == "interrupted"
        stored = store.turns(screen.engine.session_id)[0]
        assert stored["interrupted"] == 1
        assert stored["reply_text"] == "one,"


async def test_talk_key_without_microphone_points_to_typing(store: Store) -> None:
    app = make_app(store, persona="demo", talk=True)
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        await wait_until(pilot, lambda: isinstance(app.screen, TalkScreen))
        await pilot.press("ctrl+r")
        await pilot.pause()
        assert any("type" in n.message.lower() for n in app._notifications)
        assert app.screen.focused is app.screen.query_one("#say", Input)


async def test_end_session_saves_and_returns_home(store: Store) -> None:
    app = make_app(store, persona="demo", talk=True)
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_until(pilot, lambda: isinstance(app.screen, TalkScreen))
        screen = app.screen
        await wait_until(pilot, lambda: screen.engine.ready.is_set())
        await pilot.press(*"hi", "enter")
        await wait_until(pilot, lambda: len(screen.turns) == 1)
        session = screen.engine.session_id
        await pilot.press("ctrl+g")
        await wait_until(pilot, lambda: not isinstance(app.screen, TalkScreen))
        info = store.get_session(session)
        assert info.ended_at is not None and info.turns == 1
        assert app.screen.query_one("#sessions").row_count == 1


async def test_the_line_being_typed_reaches_the_conversation(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    # Each change of the input is handed on, so the model reads the words while the user types
    # (the reading itself is tested with the real model in tests/speech/test_pipeline.py).
    from voice_app.conversation.conversation import Conversation

    typed: list[str] = []
    monkeypatch.setattr(Conversation, "on_typing", lambda self, text: typed.append(text))
    app = make_app(store, persona="demo", talk=True)
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_until(pilot, lambda: isinstance(app.screen, TalkScreen))
        screen = app.screen
        await wait_until(pilot, lambda: screen.engine.ready.is_set())
        await pilot.press(*"do you")
        await wait_until(pilot, lambda: typed[-1:] == ["do you"])
        assert typed[:2] == ["d", "do"]
