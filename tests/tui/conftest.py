"""Fixtures for the TUI tests: a real store with the demo persona, fixed times, a scripted chat model."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from voice_app.conversation.engine import ConversationEngine
from voice_app.conversation.services import MachineStatus, Services
from voice_app.core.cancel import CancelToken
from voice_app.llm.base import GenerationOptions, Message, ModelInfo
from voice_app.storage.store import Store
from voice_app.tui.app import VoiceApp

FIXED_START = "2024-05-04T18:30:00+00:00"
STATUS = MachineStatus(backend="embedded (qwen2.5-1.5b)", models_loaded=[], mic=None)
DOCTOR = [
    ("python", True, True, "Python 3.11", None),
    ("input_device", False, False, "no input device found", "Connect a microphone."),
    ("model_llm", True, True, "qwen2.5-1.5b", None),
]


class ScriptedModel:
    """A ChatModel that streams a fixed reply word by word (the real model is tested in test_talk_flow.py)."""

    def __init__(self, reply: str = "hey Sam. I'm here, what's up?", delay_s: float = 0.0) -> None:
        self.reply = reply
        self.delay_s = delay_s
        self.gate: threading.Event | None = None  # when set, streaming waits for it after the first piece
        self.prompts: list[list[Message]] = []

    @property
    def info(self) -> ModelInfo:
        return ModelInfo("embedded", "scripted", 4096)

    def warm_up(self, prefix: list[Message]) -> None:
        pass

    def stream(
        self, messages: list[Message], options: GenerationOptions | None = None, cancel: CancelToken | None = None
    ) -> Iterator[str]:
        self.prompts.append(messages)
        for i, word in enumerate(self.reply.split(" ")):
            if cancel is not None and cancel.cancelled:
                return
            if i == 1 and self.gate is not None:
                while not self.gate.wait(0.01):
                    if cancel is not None and cancel.cancelled:
                        return
            if self.delay_s:
                time.sleep(self.delay_s)
            yield word + " "  # a word and its space: the reply is shown a word behind (the style adapter)

    def close(self) -> None:
        pass


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(autouse=True)
def utc(monkeypatch: pytest.MonkeyPatch) -> None:
    """Stamps render in local time: make local time UTC so screens are the same everywhere."""
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()


@pytest.fixture
def store(isolated_home: Path) -> Iterator[Store]:
    from voice_app.conversation.importing import ensure_demo

    with Store.open_default() as s:
        ensure_demo(s)
        yield s
    time.tzset()


def add_session(store: Store, persona: str = "demo", turns: int = 3) -> int:
    """A finished text session with fixed stamps and timelines."""
    session = store.start_session(persona, "text", "embedded", "qwen2.5-1.5b")
    lines = [
        ("do you remember the lake?", "of course. the cold water, you screaming", [0.8, 2.1]),
        ("why did you leave?", "I didn't know how to stay. that's on me", [1.2, 3.4]),
        ("goodbye, Alex", "bye Sam. take care of yourself", [0.9, 1.7]),
    ]
    for user, reply, (first, last) in lines[:turns]:
        turn = store.begin_turn(session, user)
        store.complete_turn(
            turn,
            reply_text=reply,
            backend="embedded",
            model="qwen2.5-1.5b",
            timeline={"first_token": first, "last_token": last},
            memories=[{"id": 1, "ts": "2023-06-01T10:00:00", "you": "lake?", "them": "yes!!", "score": 1.0}],
        )
    store.end_session(session)
    with store.transaction() as conn:
        conn.execute(
            "UPDATE sessions SET started_at = ?, ended_at = ? WHERE id = ?",
            (FIXED_START, "2024-05-04T18:42:00+00:00", session),
        )
        conn.execute(
            "UPDATE turns SET started_at = ?, completed_at = ? WHERE session_id = ?",
            (FIXED_START, FIXED_START, session),
        )
    return session


def make_app(
    store: Store,
    *,
    model: ScriptedModel | None = None,
    persona: str | None = None,
    talk: bool = False,
    warm_up: bool = True,
) -> VoiceApp:
    scripted = model or ScriptedModel()
    services = Services(store)
    return VoiceApp(
        services,
        persona=persona,
        talk=talk,
        engine_factory=lambda p: ConversationEngine(
            store, p, settings=services.settings, model=scripted, warm_up=warm_up
        ),
        status=STATUS,
        doctor_rows=DOCTOR,
    )


async def wait_until(pilot, predicate, timeout: float = 10.0, step: float = 0.05) -> None:  # type: ignore[no-untyped-def]
    """Let the app run until `predicate()` is true."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {predicate}")
        await pilot.pause(step)


os.environ.setdefault("TEXTUAL_ANIMATIONS", "none")
