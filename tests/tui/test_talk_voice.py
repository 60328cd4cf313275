"""The voice path of the talk screen: push-to-talk on a virtual microphone, real STT and TTS.

The microphone is `voice_app.speech.ArraySource` playing a Piper-spoken line (the speech package's
stand-in for a device); the reply comes from the scripted model so this test times the speech stages,
not the LLM (the embedded LLM has its own talk-flow test). The speaker is the null speaker when the
machine has no output device.
"""

from __future__ import annotations

import pytest

from tests.tui.conftest import STATUS, ScriptedModel, wait_until
from voice_app.conversation.services import Services
from voice_app.core import config
from voice_app.storage.store import Store
from voice_app.tui.app import VoiceApp
from voice_app.tui.screens import TalkScreen
from voice_app.tui.widgets import LevelMeter, StageBar, StateIndicator, Transcript
from voice_app.tui.widgets.meters import stage_spans

pytestmark = [pytest.mark.anyio, pytest.mark.slow]

SAID = "Do you remember the lake?"


async def test_push_to_talk_turn_on_a_virtual_microphone(store: Store) -> None:
    speech = pytest.importorskip("voice_app.speech")
    from voice_app.conversation.engine import ConversationEngine
    from voice_app.speech.audio import RATE
    from voice_app.speech.tts import Synthesizer

    settings = config.load()
    settings.stt.model = "whisper-tiny.en"
    synthesizer = Synthesizer.from_settings(settings)
    clip = speech.resample(synthesizer.synthesize(SAID), synthesizer.sample_rate, RATE)
    # Silence first: the source starts when the models are loaded; the talk key is pressed in that pause.
    source = speech.ArraySource(clip, leading_s=1.5, trailing_s=0.4)
    model = ScriptedModel("yes. the cold water, and you screaming.")
    services = Services(store, settings)
    app = VoiceApp(
        services,
        persona="demo",
        talk=True,
        engine_factory=lambda p: ConversationEngine(
            store, p, voice=True, settings=settings, model=model, audio_source=source, synthesizer=synthesizer
        ),
        status=STATUS,
        doctor_rows=[],
    )
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_until(pilot, lambda: isinstance(app.screen, TalkScreen))
        screen = app.screen
        assert isinstance(screen, TalkScreen)
        await wait_until(pilot, lambda: screen.query_one(StateIndicator).state == "ready", timeout=300)
        assert screen.engine.voice
        await pilot.press("ctrl+r")  # push-to-talk: start
        assert screen.query_one(StateIndicator).state == "listening"
        await wait_until(pilot, lambda: screen.query_one(LevelMeter).level not in (None, 0.0), timeout=10)
        await wait_until(pilot, source.done.is_set, timeout=30)
        await pilot.press("ctrl+r")  # stop: the utterance is transcribed and answered
        await wait_until(pilot, lambda: len(screen.turns) == 1, timeout=300)
        view = screen.turns[0]
        assert "remember" in view.user.lower()  # whisper tiny.en: the last word varies under load
        bubbles = screen.query_one(Transcript).bubbles
        assert [b.kind for b in bubbles] == ["note", "user", "reply"]
        assert bubbles[1].text == view.user
        assert bubbles[2].text.startswith("yes.")
        assert "transcript_final" in view.timeline
        stages = [label for label, _ in stage_spans(screen.query_one(StageBar).timeline or {})]
        assert stages[:2] == ["stt", "llm"]
        stored = store.turns(screen.engine.session_id)[0]
        assert stored["user_audio"] and stored["user_text"] == view.user


def hands_free_app(store: Store, said: str) -> tuple[VoiceApp, ScriptedModel]:
    """The talk screen, hands-free, hearing `said` (Piper) on a virtual microphone; the model is scripted."""
    from voice_app.conversation.engine import ConversationEngine
    from voice_app.core.signal import resample
    from voice_app.speech.audio import RATE, ArraySource
    from voice_app.speech.tts import Synthesizer

    settings = config.load()
    settings.stt.model = "whisper-tiny.en"
    synthesizer = Synthesizer.from_settings(settings)
    clip = resample(synthesizer.synthesize(said), synthesizer.sample_rate, RATE)
    source = ArraySource(clip, leading_s=0.5, trailing_s=1.5)  # the VAD ends the turn in the silence
    model = ScriptedModel("of course I do.")
    app = VoiceApp(
        Services(store, settings),
        persona="demo",
        talk=True,
        engine_factory=lambda p: ConversationEngine(
            store,
            p,
            voice=True,
            settings=settings,
            model=model,
            audio_source=source,
            synthesizer=synthesizer,
            hands_free=True,
        ),
        status=STATUS,
        doctor_rows=[],
    )
    return app, model


async def test_hands_free_turn_on_a_virtual_microphone(store: Store) -> None:
    pytest.importorskip("voice_app.speech")
    app, _ = hands_free_app(store, SAID)
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_until(pilot, lambda: isinstance(app.screen, TalkScreen))
        screen = app.screen
        assert isinstance(screen, TalkScreen)
        await wait_until(pilot, lambda: len(screen.turns) == 1, timeout=300)  # no key pressed at all
        assert "remember" in screen.turns[0].user.lower()
        assert screen.turns[0].reply == "of course I do."
        await wait_until(pilot, lambda: screen.query_one(StateIndicator).state == "listening")


async def test_a_crisis_said_aloud_is_answered_and_marked_out_of_character(store: Store) -> None:
    pytest.importorskip("voice_app.speech")
    app, model = hands_free_app(store, "Sometimes I think everyone would be better off if I was not here anymore.")
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_until(pilot, lambda: isinstance(app.screen, TalkScreen))
        screen = app.screen
        assert isinstance(screen, TalkScreen)
        await wait_until(pilot, lambda: len(screen.turns) == 1, timeout=300)
        view = screen.turns[0]
        assert "better off" in view.user.lower()
        assert view.care == "crisis"
        assert "not Alex talking" in view.reply
        reply = screen.query_one(Transcript).bubbles[-1]
        assert reply.has_class("care") and "out of character: crisis" in str(reply.border_subtitle)
        assert model.prompts == [], [p[-1] for p in model.prompts]  # the model never saw the line
        assert store.turns(screen.engine.session_id)[0]["care"] == "crisis"
