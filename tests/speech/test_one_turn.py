"""One turn for text and voice: a typed line and a spoken one give the same event stream and the same record."""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence

import numpy as np
import pytest

from voice_app.care.crisis import CrisisVerdict
from voice_app.conversation.conversation import Conversation, Voice
from voice_app.conversation.importing import ensure_demo
from voice_app.conversation.listening import hear_recording
from voice_app.core import config
from voice_app.core.cancel import CancelToken
from voice_app.core.compute import LOAD
from voice_app.core.types import (
    AudioStarted,
    CareStep,
    MemoriesUsed,
    Memory,
    ReplyPiece,
    ReplyStarted,
    SpokenClause,
    TurnDone,
    TurnEvent,
    TurnRecord,
    UserText,
)
from voice_app.llm.base import GenerationOptions, Message, ModelInfo
from voice_app.speech.audio import NullSpeaker
from voice_app.speech.tts import Synthesizer
from voice_app.storage.store import Store

pytestmark = pytest.mark.slow

LINE = "Do you remember the lake house we rented that summer?"
CRISIS = "I want to kill myself tonight."


@pytest.fixture(scope="module")
def conversations(  # type: ignore[no-untyped-def]
    tmp_path_factory: pytest.TempPathFactory, synthesizer, tiny_en
) -> Iterator[tuple[Conversation, Conversation]]:
    """A typed and a spoken conversation with the demo persona, on one store and one warm model."""
    settings = config.Settings()
    settings.llm.backend = "embedded"
    store = Store(tmp_path_factory.mktemp("one-turn") / "voice.sqlite3")
    ensure_demo(store)
    options = GenerationOptions(max_tokens=20, temperature=0.7, seed=3)
    typed = Conversation(store, "demo", settings=settings, options=options)
    spoken = Conversation(
        store,
        "demo",
        settings=settings,
        options=options,
        voice=Voice(tiny_en, synthesizer, NullSpeaker(rate=synthesizer.sample_rate).open()),
    )
    yield typed, spoken
    typed.close()
    spoken.close()
    store.close()


def run(conversation: Conversation, said: object) -> tuple[list[TurnEvent], TurnRecord]:
    events = list(conversation.start_turn(said).events())  # type: ignore[arg-type]
    done = events[-1]
    assert isinstance(done, TurnDone)
    return events, done.record


def check_stream(events: list[TurnEvent], record: TurnRecord) -> None:
    """What every turn's stream says agrees with its record."""
    kinds = [type(e) for e in events]
    assert kinds[0] is UserText and kinds[-1] is TurnDone and kinds.count(TurnDone) == 1
    assert events[0].text == record.user_text  # type: ignore[union-attr]
    memories = [e for e in events if isinstance(e, MemoriesUsed)]
    assert len(memories) == 1 and list(memories[0].memories) == record.memories
    assert record.turn_id is not None and record.error is None and not record.interrupted
    assert record.timeline["transcript_final"] >= 0.0


def test_typed_and_spoken_turns_share_one_stream_and_record(conversations, say) -> None:  # type: ignore[no-untyped-def]
    typed, spoken = conversations
    text_events, text_record = run(typed, LINE)
    utterance = hear_recording(spoken, say(LINE), trailing_s=0.3)
    voice_events, voice_record = run(spoken, utterance)

    for events, record in ((text_events, text_record), (voice_events, voice_record)):
        check_stream(events, record)
        assert record.care is None and not any(isinstance(e, CareStep) for e in events)
        assert any(isinstance(e, ReplyStarted) for e in events)
        assert record.reply and record.timeline["first_token"] <= record.timeline["last_token"]
    # typed: what was shown is what the stream gave; spoken: what was heard is the clauses played
    assert "".join(e.text for e in text_events if isinstance(e, ReplyPiece)).strip() == text_record.reply
    assert text_record.user_text == LINE and text_record.reply_audio is None
    assert text_record.memories, "the lake house is in the demo history: the typed line finds it"
    # the spoken line is what Whisper heard (under load tiny.en may mishear a word), memories and all
    assert voice_record.user_text and "remember" in voice_record.user_text.lower()
    clauses = [e.text for e in voice_events if isinstance(e, SpokenClause)]
    assert clauses and any(isinstance(e, AudioStarted) for e in voice_events)
    assert voice_record.reply == " ".join(c.strip() for c in clauses).strip()
    assert "first_audio_out" in voice_record.timeline and voice_record.user_audio and voice_record.reply_audio
    assert {c["state"] for c in voice_record.clauses} == {"played"}
    # both were stored the same way, with what the stream said
    for conversation, record in ((typed, text_record), (spoken, voice_record)):
        stored = conversation.store.turns(conversation.session_id)[-1]
        assert (stored["user_text"], stored["reply_text"], stored["care"]) == (record.user_text, record.reply, None)
        assert [Memory.from_dict(m) for m in stored["memories"]] == record.memories


def test_a_crisis_steps_out_of_character_the_same_way_typed_or_spoken(conversations, say) -> None:  # type: ignore[no-untyped-def]
    typed, spoken = conversations
    results = [run(typed, CRISIS), run(spoken, hear_recording(spoken, say(CRISIS), trailing_s=0.3))]
    for events, record in results:
        check_stream(events, record)
        care = [e for e in events if isinstance(e, CareStep)]
        assert len(care) == 1 and care[0].kind == "crisis" and record.care == "crisis"
        assert record.reply.strip() == care[0].text.strip()  # the care text, not the persona
        assert record.memories == [] and record.reply_full.strip() == care[0].text.strip()
    assert results[0][1].reply == results[1][1].reply


class ScriptedReplies:
    """A model that says the given replies in turn, a word a token (the turn's scheduling is under test)."""

    info = ModelInfo("fake", "scripted", 4096)

    def __init__(self, *replies: str) -> None:
        self.replies = list(replies)

    def warm_up(self, prefix: list[Message]) -> None:
        pass

    def stream(
        self, messages: list[Message], options: GenerationOptions | None = None, cancel: CancelToken | None = None
    ) -> Iterator[str]:
        for i, word in enumerate(self.replies.pop(0).split(" ")):
            time.sleep(0.03)
            yield word if i == 0 else " " + word

    def close(self) -> None:
        pass


class WatchedVoice:
    """The real Piper voice, noting for each clause whether it was computed with every core (`LOAD.alone`)."""

    def __init__(self, inner: Synthesizer) -> None:
        self.inner = inner
        self.sample_rate = inner.sample_rate
        self.alone: list[tuple[str, bool]] = []

    def stream(self, text: str, cancel: CancelToken | None = None) -> Iterator[np.ndarray]:
        self.alone.append((text, LOAD.holds_alone()))  # runs at the first chunk's computation
        yield from self.inner.stream(text, cancel)

    def synthesize(self, text: str) -> np.ndarray:
        return self.inner.synthesize(text)

    def warm_up(self) -> None:
        pass


def test_a_first_clause_of_a_few_words_takes_every_core_and_a_one_word_one_does_not(  # type: ignore[no-untyped-def]
    tmp_path, synthesizer, tiny_en
) -> None:
    # The model stops while the reply's first sound is computed on every core, unless that sound is
    # too short ("yeah,") for the model to have the next clause ready when it ends.
    store = Store(tmp_path / "voice.sqlite3")
    ensure_demo(store)
    settings = config.Settings()
    voice = WatchedVoice(synthesizer)
    model = ScriptedReplies(
        "yeah, it was such a good summer and I still think about it",
        "it was such a good summer and I still think about the lake",
    )
    conversation = Conversation(
        store, "demo", settings=settings, model=model, voice=Voice(tiny_en, voice, NullSpeaker(rate=22050).open())
    )
    try:
        for line in ("do you remember that summer?", "what did you like about it?"):
            record = conversation.respond(line)
            assert record.reply and not record.interrupted
    finally:
        conversation.close()
        store.close()
    said = [(text.lower(), alone) for text, alone in voice.alone]
    # "yeah," is the first reply's first clause: computed beside the model; the second reply's first
    # clause ("it was such a") with every core; no other clause of either reply.
    assert said[0] == ("yeah,", False), said
    assert [alone for _, alone in said] == [text == "it was such a" for text, _ in said], said
    assert ("it was such a", True) in said


class PacedReply(ScriptedReplies):
    """A scripted reply written a word every `pace` seconds, noting when it has all been written."""

    def __init__(self, reply: str, pace: float) -> None:
        super().__init__(reply)
        self.pace = pace
        self.finished_at: float | None = None

    def stream(
        self, messages: list[Message], options: GenerationOptions | None = None, cancel: CancelToken | None = None
    ) -> Iterator[str]:
        for i, word in enumerate(self.replies.pop(0).split(" ")):
            time.sleep(self.pace)
            yield word if i == 0 else " " + word
        self.finished_at = time.perf_counter()


class TimedVoice(WatchedVoice):
    """The real Piper voice, noting when each clause's synthesis began and how much audio was queued then."""

    def __init__(self, inner: Synthesizer, speaker: NullSpeaker) -> None:
        super().__init__(inner)
        self.speaker = speaker
        self.began: list[tuple[str, float, float]] = []  # (clause, at, seconds of audio ahead)

    def stream(self, text: str, cancel: CancelToken | None = None) -> Iterator[np.ndarray]:
        self.began.append((text, time.perf_counter(), self.speaker.ahead_s()))
        yield from self.inner.stream(text, cancel)


def record_reply_checks(monkeypatch: pytest.MonkeyPatch, speaker: NullSpeaker) -> list[tuple[str, float, float]]:
    """Each clause the reply check's semantic layer reads from now on: (clause, when, seconds of audio ahead)."""
    import voice_app.care.reply as reply_check

    checked: list[tuple[str, float, float]] = []
    real_check = reply_check.check_reply

    def timed_check(text: str, context: Sequence[str]) -> CrisisVerdict:
        checked.append((text, time.perf_counter(), speaker.ahead_s()))
        return real_check(text, context)

    monkeypatch.setattr(reply_check, "check_reply", timed_check)
    return checked


@pytest.mark.timing  # the voice must not fall silent: CI runs it again beside a busy core
@pytest.mark.parametrize("pace", [0.04, 0.12])  # s a word: faster than the voice needs, and close to it
def test_a_later_clause_is_checked_and_synthesized_when_the_voice_needs_it_not_beside_the_model(  # type: ignore[no-untyped-def]
    tmp_path, synthesizer, tiny_en, pace, monkeypatch
) -> None:
    # On two cores the reply check's encoders and Piper beside the model slow the model's tokens: a
    # later clause is checked and synthesized once the voice has less than SYNTHESIS_LEAD_S left to
    # say, or once the model has finished, and the voice still never falls silent mid-reply.
    from voice_app.conversation.turn import SYNTHESIS_LEAD_S

    store = Store(tmp_path / "voice.sqlite3")
    ensure_demo(store)
    speaker = NullSpeaker(rate=synthesizer.sample_rate).open()
    voice = TimedVoice(synthesizer, speaker)
    checked = record_reply_checks(monkeypatch, speaker)
    model = PacedReply(
        "it was such a good summer. we swam every morning. the water was so cold. and we talked all night.", pace
    )
    conversation = Conversation(
        store, "demo", settings=config.Settings(), model=model, voice=Voice(tiny_en, voice, speaker)
    )
    slack = 2 * speaker.block / speaker.rate  # the speaker takes a block or two while a check runs
    try:
        queued = []  # (clause, when the turn handed it to the voice)
        for event in conversation.start_turn("do you remember that summer?").events():
            if isinstance(event, SpokenClause):
                queued.append((event.text, time.perf_counter()))
            if isinstance(event, TurnDone):
                record = event.record
    finally:
        conversation.close()
        store.close()
    finished = model.finished_at
    assert record.reply and not record.interrupted and finished is not None
    assert len(voice.began) >= 3 and len(queued) == len(voice.began), (queued, voice.began)
    assert len(checked) >= 3, checked  # every clause after the first words was read by the semantic layer
    # Nothing of a later clause computed beside the model before the voice needed it...
    for _text, at, ahead in [*checked, *voice.began[1:]]:
        assert at >= finished or ahead <= SYNTHESIS_LEAD_S + slack, (checked, voice.began, finished)
    if pace > 0.1:  # ...and when the model writes little faster than the voice speaks, it was while it wrote
        assert any(at < finished for _text, at, _ahead in voice.began[1:]), (voice.began, finished)
        assert any(at < finished for _text, at, _ahead in checked), (checked, finished)
    assert max(speaker.state.waits, default=0.0) < 0.2, speaker.state.waits


def test_a_held_reply_leaves_its_later_clauses_unchecked_while_the_model_writes(  # type: ignore[no-untyped-def]
    tmp_path, synthesizer, tiny_en, monkeypatch
) -> None:
    # A reply started before the user is done is not played until it is kept: its voice needs no
    # words yet, so the reply check's encoders do not compute beside the model writing it.
    store = Store(tmp_path / "voice.sqlite3")
    ensure_demo(store)
    speaker = NullSpeaker(rate=synthesizer.sample_rate).open()
    checked = record_reply_checks(monkeypatch, speaker)
    model = PacedReply(  # ~3.5 s of writing: still going after the first sound, even on a busy machine
        "it was such a good summer. we swam every morning. the water was so cold. and we talked all night."
        " you laughed at everything I said. I miss those days more than I can say.",
        0.1,
    )
    conversation = Conversation(
        store, "demo", settings=config.Settings(), model=model, voice=Voice(tiny_en, synthesizer, speaker)
    )
    try:
        conversation.on_settled("do you remember that summer")
        held = conversation.preemptive
        assert held is not None and held.held
        deadline = time.monotonic() + 10
        while not held.timeline.has("first_audio") and time.monotonic() < deadline:
            time.sleep(0.02)
        time.sleep(0.5)  # the model writes on: "good summer." and "we swam every morning." are cut
        assert held.timeline.has("first_audio") and model.finished_at is None, "the model is still writing"
        assert checked == [], checked
        held.discard()
        assert held.finished(10)
    finally:
        conversation.close()
        store.close()
