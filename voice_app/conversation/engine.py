"""One conversation as a screen drives it: load, answer a line (typed or spoken), interrupt, end.

Nothing here knows Textual. `load` and `respond` take long and are meant for a worker thread; the
screen passes callbacks that post messages back to the UI. Typed lines and utterances go through
the same `Conversation.start_turn`; the engine reads the turn's event stream (no polling) and
hands the screen a `TurnView` built from its `TurnRecord` (nothing is read back from the store).

With `voice=True` the engine captures from a microphone (or any `AudioSource`; tests use one)
with push-to-talk (`Recorder`) or hands-free (`HandsFree`, VAD endpointing) and speaks replies.
`open_engine()` picks voice when a microphone and the speech package are there.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from voice_app.core import config
from voice_app.core.errors import NothingToCorrectError
from voice_app.core.records import Correction
from voice_app.core.types import AudioStarted, Memory, ReplyPiece, ReplyStarted, TurnDone, TurnRecord, UserText

if TYPE_CHECKING:
    from voice_app.conversation.conversation import Conversation
    from voice_app.llm.base import ChatModel
    from voice_app.speech.audio import AudioSource, Playback
    from voice_app.speech.recorder import HandsFree, Recorder, Utterance
    from voice_app.speech.stt import Transcriber
    from voice_app.speech.voices import TextToSpeech
    from voice_app.storage.store import Store

# The states the talk screen shows.
LOADING, READY, LISTENING, TRANSCRIBING, THINKING, SPEAKING = (
    "loading",
    "ready",
    "listening",
    "transcribing",
    "thinking",
    "speaking",
)
STATES = (LOADING, READY, LISTENING, TRANSCRIBING, THINKING, SPEAKING)


@dataclass
class TurnView:
    """What the screen shows once a turn is over."""

    turn_id: int | None
    user: str
    reply: str
    interrupted: bool = False
    care: str | None = None
    timeline: dict[str, float] = field(default_factory=dict)
    memories: list[Memory] = field(default_factory=list)

    @classmethod
    def of(cls, record: TurnRecord, said: str) -> TurnView:
        return cls(
            record.turn_id,
            record.user_text or said,
            record.reply,
            record.interrupted,
            record.care,
            dict(record.timeline),
            list(record.memories),
        )


@dataclass
class TurnCallbacks:
    """Called from the worker thread while a turn runs (the screen posts them to the UI)."""

    on_state: Callable[[str], object] = lambda state: None
    on_user: Callable[[str], object] = lambda text: None  # the transcript, once known
    on_piece: Callable[[str], object] = lambda piece: None  # reply text as it passes the checks


class ConversationEngine:
    """A conversation for a screen: typed lines always; with `voice`, speech in and out too."""

    def __init__(
        self,
        store: Store,
        persona: str,
        *,
        settings: config.Settings | None = None,
        model: ChatModel | None = None,
        voice: bool = False,
        audio_source: AudioSource | None = None,
        transcriber: Transcriber | None = None,
        synthesizer: TextToSpeech | None = None,
        speaker: Playback | None = None,
        hands_free: bool | None = None,
        warm_up: bool = True,
    ) -> None:
        self.store = store
        self.persona = persona
        self.settings = settings or config.load()
        self.voice = voice
        self._model = model
        self._warm_up = warm_up
        self._parts = (transcriber, synthesizer, speaker)
        self.audio_source = audio_source
        p = store.get_persona(persona)
        self.them = p.them_name or persona
        self.me = p.me_name or "You"
        self.hands_free = self.settings.audio.mode == "hands_free" if hands_free is None else hands_free
        self.conversation: Conversation | None = None
        self.recorder: Recorder | None = None
        self.listener: HandsFree | None = None
        self.ready = threading.Event()
        self.load_error: BaseException | None = None
        self._lock = threading.Lock()  # one turn at a time
        self.ended = False
        self.language = ""  # the conversation's ("en", "zh", "" unsure), known once loaded

    # --- lifecycle -----------------------------------------------------------------------------

    @property
    def reminder(self) -> str:
        from voice_app.care import session_reminder

        return session_reminder(self.them)

    @property
    def model_label(self) -> str:
        if self.conversation is None:
            return "loading…"
        info = self.conversation.model.info
        return f"{info.backend} · {info.model}"

    @property
    def session_id(self) -> int | None:
        return self.conversation.session_id if self.conversation is not None else None

    @property
    def voice_notice(self) -> str | None:
        """What the user should know about the voice once loaded (Chinese replies with no voice to speak them)."""
        conv = self.conversation
        return conv.voice.cannot_speak(self.language) if conv is not None and conv.voice is not None else None

    def load(self, on_stage: Callable[[str], object] = lambda s: None) -> None:
        """Load the models and evaluate the persona prefix (seconds to a minute on a small CPU)."""
        from voice_app.conversation.conversation import Conversation, Voice
        from voice_app.conversation.persona_data import speech_language

        try:
            with self._lock:
                voice = None
                if self.voice:
                    on_stage("loading speech recognition")
                    language = speech_language(self.store, self.persona)  # stt.model auto: tiny.en for English
                    self.language = language
                    transcriber, synthesizer, speaker = self._parts
                    voice = Voice.from_settings(
                        self.settings,
                        transcriber=transcriber,
                        synthesizer=synthesizer,
                        speaker=speaker,
                        language=language,
                    )
                on_stage("loading the language model")
                self.conversation = Conversation(
                    self.store, self.persona, settings=self.settings, model=self._model, voice=voice
                )
                if self._warm_up:
                    on_stage(f"reading {self.them}'s messages into the model")
                    self.conversation.warm_up()
                if voice is not None:
                    self._open_recorder(voice.transcriber)
        except BaseException as exc:
            self.load_error = exc
            raise
        finally:
            self.ready.set()

    def _open_recorder(self, transcriber: Transcriber) -> None:
        from voice_app.speech import Microphone, Recorder

        assert self.conversation is not None
        source = self.audio_source or Microphone(self.settings.audio.input_device)
        self.recorder = Recorder(
            source,
            transcriber=transcriber,
            preroll_ms=self.settings.audio.preroll_ms,
            pause_ms=self.settings.audio.pause_ms,
            language=transcriber.language or None,
            on_partial=self.conversation.on_partial,
            on_settled=self.conversation.on_settled,
        ).open()

    def end(self) -> None:
        self.interrupt()
        with self._lock:
            for part in (self.recorder, self.listener):
                if part is not None:
                    part.close()
            if self.conversation is not None and not self.ended:
                self.conversation.end()
            self.ended = True

    # --- turns ---------------------------------------------------------------------------------

    def respond(self, said: Utterance | str, callbacks: TurnCallbacks) -> TurnView:
        """Answer a typed line or an utterance; blocks until the reply is complete or interrupted."""
        self.ready.wait()
        if self.load_error is not None:
            raise self.load_error
        assert self.conversation is not None
        typed = isinstance(said, str)
        with self._lock:
            callbacks.on_state(THINKING if typed else TRANSCRIBING)
            turn = self.conversation.start_turn(said)
            record: TurnRecord | None = None
            for event in turn.events():
                if isinstance(event, UserText):
                    callbacks.on_user(event.text)
                    callbacks.on_state(THINKING)
                elif isinstance(event, ReplyStarted) and not self.voice:
                    callbacks.on_state(SPEAKING)  # the model is writing (shown as it passes the checks)
                elif isinstance(event, AudioStarted):
                    callbacks.on_state(SPEAKING)
                elif isinstance(event, ReplyPiece) and event.text:
                    callbacks.on_piece(event.text)
                elif isinstance(event, TurnDone):
                    record = event.record
        callbacks.on_state(READY)
        assert record is not None
        return TurnView.of(record, said if isinstance(said, str) else "")

    def not_them(self, better: str = "") -> Correction:
        """The user marks the last reply "they wouldn't say that" (see Conversation.not_them)."""
        if self.conversation is None:
            raise NothingToCorrectError("There is no conversation yet.")
        return self.conversation.not_them(better)

    def typing(self, text: str) -> None:
        """The typed line changed: the model reads its words so far (nothing while the model loads)."""
        if self.conversation is not None:
            self.conversation.on_typing(text)

    def interrupt(self) -> None:
        if self.conversation is not None:
            self.conversation.barge_in()

    # --- voice ---------------------------------------------------------------------------------

    @property
    def level(self) -> float | None:
        listener = self.recorder if self.recorder is not None else self.listener
        return listener.level if listener is not None else None

    @property
    def recording(self) -> bool:
        return bool(self.recorder is not None and self.recorder.recording)

    def start_recording(self) -> None:
        """Push-to-talk pressed: a reply still playing stops (barge-in), recording starts."""
        if not self.voice:
            raise RuntimeError("No microphone: type your line instead.")
        if self.recorder is None:
            raise RuntimeError("The microphone is not ready yet.")
        self.interrupt()
        self.recorder.start()

    def stop_recording(self) -> Utterance:
        if self.recorder is None:
            raise RuntimeError("No microphone: type your line instead.")
        return self.recorder.stop()

    def start_hands_free(self, on_utterance: Callable[[Utterance], object]) -> None:
        """Let the VAD decide when the user has finished; talking over a reply stops it."""
        from voice_app.conversation.listening import hands_free

        assert self.conversation is not None and self.conversation.voice is not None
        source = self.audio_source
        if self.recorder is not None:
            self.recorder.close()
            source = self.recorder.source
            self.recorder = None
        self.listener = hands_free(
            self.conversation, self.settings, on_utterance, source=source, on_speech_start=self.interrupt
        ).open()


def voice_available(settings: config.Settings, audio_source: object = None) -> bool:
    """True when the speech package imports and there is a microphone (or an injected source)."""
    try:
        import voice_app.speech  # noqa: F401
    except Exception:  # noqa: BLE001 - missing native libraries disable voice, not the app
        return False
    if audio_source is not None:
        return True
    from voice_app.conversation.services import microphone_name

    return microphone_name(settings) is not None


def open_engine(
    store: Store, persona: str, settings: config.Settings | None = None, *, voice: bool | None = None, **kwargs: Any
) -> ConversationEngine:
    """A voice engine when it can run (or `voice=True`), else text only."""
    settings = settings or config.load()
    if voice is None:
        voice = voice_available(settings, kwargs.get("audio_source"))
    if not voice:
        kwargs.pop("audio_source", None)
    return ConversationEngine(store, persona, settings=settings, voice=voice, **kwargs)
