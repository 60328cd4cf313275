"""One conversation as the talk screen drives it: load, answer a line (typed or spoken), interrupt, end.

Nothing here knows Textual. Every method that can take long (load, respond) is meant for a worker
thread; the screen passes callbacks that post messages back to the UI. Two engines share the interface:

- `TextEngine`: typed lines, replies streamed from `voice_app.chat.ChatSession` (always available);
- `VoiceEngine`: the voice pipeline (`voice_app.turn.VoicePipeline`): push-to-talk or hands-free
  capture through `voice_app.speech.Recorder`/`HandsFree`, replies spoken as they stream. Typed lines
  still work and are spoken too. Any `AudioSource` can stand in for the microphone (tests use one).

`open_engine()` picks the voice engine when a microphone (or an injected source) and the speech
package are there, else the text engine.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from voice_app.core import config
from voice_app.core.cancel import CancelToken
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
    memories: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class TurnCallbacks:
    """Called from the worker thread while a turn runs (the screen posts them to the UI)."""

    on_state: Callable[[str], None] = lambda state: None
    on_user: Callable[[str], None] = lambda text: None  # the transcript, once known
    on_piece: Callable[[str], None] = lambda piece: None  # reply text as it streams


class TextEngine:
    """Typed conversation through ChatSession; `respond` streams the reply piece by piece."""

    voice = False

    def __init__(
        self,
        store: Store,
        persona: str,
        *,
        settings: config.Settings | None = None,
        model: Any = None,
        warm_up: bool = True,
    ) -> None:
        self.store = store
        self.persona = persona
        self.settings = settings or config.load()
        self._model = model
        self._warm_up = warm_up
        p = store.get_persona(persona)
        self.them = p.them_name or persona
        self.me = p.me_name or "You"
        self.chat: Any = None
        self.ready = threading.Event()
        self.load_error: BaseException | None = None
        self._lock = threading.Lock()  # one turn at a time: the model is not shared between threads
        self._cancel: CancelToken | None = None
        self.ended = False

    # --- lifecycle -----------------------------------------------------------------------------

    @property
    def reminder(self) -> str:
        from voice_app.care import session_reminder

        return session_reminder(self.them)

    @property
    def model_label(self) -> str:
        if self.chat is None:
            return "loading…"
        info = self.chat.model.info
        return f"{info.backend} · {info.model}"

    @property
    def session_id(self) -> int | None:
        return self.chat.session_id if self.chat is not None else None

    def load(self, on_stage: Callable[[str], None] = lambda s: None) -> None:
        """Load the model and evaluate the persona prefix (seconds to a minute on a small CPU)."""
        from voice_app.chat import ChatSession

        try:
            with self._lock:
                on_stage("loading the language model")
                self.chat = ChatSession(self.store, self.persona, settings=self.settings, model=self._model)
                if self._warm_up:
                    on_stage(f"reading {self.them}'s messages into the model")
                    self.chat.warm_up()
        except BaseException as exc:
            self.load_error = exc
            raise
        finally:
            self.ready.set()

    def end(self) -> None:
        self.interrupt()
        with self._lock:
            if self.chat is not None and not self.ended:
                self.chat.end()
            self.ended = True

    # --- turns ---------------------------------------------------------------------------------

    def respond(self, said: Any, callbacks: TurnCallbacks) -> TurnView:
        """Answer a typed line; blocks until the reply is complete or interrupted."""
        self.ready.wait()
        if self.load_error is not None:
            raise self.load_error
        with self._lock:
            cancel = self._cancel = CancelToken()
            callbacks.on_user(str(said))
            callbacks.on_state(THINKING)
            result = self.chat.reply(
                str(said),
                on_piece=callbacks.on_piece,
                cancel=cancel,
                on_start=lambda: callbacks.on_state(SPEAKING),  # the model is writing (checked before shown)
            )
            self._cancel = None
        callbacks.on_state(READY)
        return TurnView(
            result.turn_id,
            str(said),
            result.reply,
            result.cancelled,
            result.care,
            dict(result.timeline),
            list(result.memories),
        )

    def interrupt(self) -> None:
        cancel = self._cancel
        if cancel is not None:
            cancel.cancel()

    # --- voice (not in the text engine) -------------------------------------------------------------

    @property
    def level(self) -> float | None:
        return None

    def start_recording(self) -> None:
        raise RuntimeError("No microphone: type your line instead.")

    def stop_recording(self) -> Any:
        raise RuntimeError("No microphone: type your line instead.")

    @property
    def recording(self) -> bool:
        return False


class VoiceEngine(TextEngine):
    """The voice pipeline: capture → STT → LLM → TTS → speaker, with barge-in; typed lines are spoken too."""

    voice = True
    POLL_S = 0.05

    def __init__(
        self,
        store: Store,
        persona: str,
        *,
        settings: config.Settings | None = None,
        model: Any = None,
        audio_source: Any = None,
        transcriber: Any = None,
        synthesizer: Any = None,
        speaker: Any = None,
        hands_free: bool | None = None,
    ) -> None:
        super().__init__(store, persona, settings=settings, model=model)
        self.audio_source = audio_source
        self._transcriber = transcriber
        self._synthesizer = synthesizer
        self._speaker = speaker
        self.hands_free = self.settings.audio.mode == "hands_free" if hands_free is None else hands_free
        self.pipeline: Any = None
        self.recorder: Any = None
        self.listener: Any = None
        self._turn: Any = None

    @property
    def session_id(self) -> int | None:
        return self.pipeline.session_id if self.pipeline is not None else None

    def load(self, on_stage: Callable[[str], None] = lambda s: None) -> None:
        from voice_app.speech import Microphone, Recorder
        from voice_app.speech.stt import Transcriber
        from voice_app.turn import VoicePipeline

        try:
            with self._lock:
                on_stage("loading speech recognition")
                language = str(self.store.get_persona(self.persona).card.get("language") or self.settings.stt.language)
                transcriber = self._transcriber or Transcriber.from_settings(self.settings, language=language)
                self.pipeline = VoicePipeline(
                    self.store,
                    self.persona,
                    settings=self.settings,
                    model=self._model,
                    transcriber=transcriber,
                    synthesizer=self._synthesizer,
                    speaker=self._speaker,
                    allow_null_speaker=True,
                )
                self.chat = self.pipeline.chat
                on_stage("loading the voices and the language model")
                self.pipeline.warm_up()
                source = self.audio_source or Microphone(self.settings.audio.input_device)
                self.recorder = Recorder(
                    source,
                    transcriber=transcriber,
                    preroll_ms=self.settings.audio.preroll_ms,
                    language=transcriber.language or None,
                    on_partial=self.pipeline.on_partial,
                ).open()
        except BaseException as exc:
            self.load_error = exc
            raise
        finally:
            self.ready.set()

    @property
    def level(self) -> float | None:
        listener = self.recorder if self.recorder is not None else self.listener
        return listener.level if listener is not None else None

    @property
    def recording(self) -> bool:
        return bool(self.recorder is not None and self.recorder.recording)

    def start_recording(self) -> None:
        """Push-to-talk pressed: a reply still playing stops (barge-in), recording starts."""
        if self.recorder is None:
            raise RuntimeError("The microphone is not ready yet.")
        self.interrupt()
        self.recorder.start()

    def stop_recording(self) -> Any:
        return self.recorder.stop()

    def start_hands_free(self, on_utterance: Callable[[Any], None]) -> None:
        """Let the VAD decide when the user has finished; talking over a reply stops it."""
        from voice_app.speech import HandsFree

        source = self.audio_source
        if self.recorder is not None:
            self.recorder.close()
            source = self.recorder.source
            self.recorder = None
        self.listener = HandsFree(
            source,
            transcriber=self.pipeline.transcriber,
            end_silence_ms=self.settings.audio.end_silence_ms,
            preroll_ms=self.settings.audio.preroll_ms,
            language=self.pipeline.transcriber.language or None,
            on_speech_start=self.interrupt,
            on_utterance=on_utterance,
            on_partial=self.pipeline.on_partial,
        ).open()

    def respond(self, said: Any, callbacks: TurnCallbacks) -> TurnView:
        """Answer an utterance (or a typed line): transcribe, stream, speak; polls the running turn."""
        self.ready.wait()
        if self.load_error is not None:
            raise self.load_error
        with self._lock:
            callbacks.on_state(TRANSCRIBING if not isinstance(said, str) else THINKING)
            turn = self._turn = self.pipeline.start_turn(said)
            shown_user = False
            shown = 0
            state = ""
            while True:
                finished = turn.done
                if not shown_user and turn.timeline.has("transcript_final"):
                    shown_user = True
                    callbacks.on_user(turn.transcript)
                text = turn.reply_full
                if len(text) > shown:
                    callbacks.on_piece(text[shown:])
                    shown = len(text)
                new = SPEAKING if turn.timeline.has("first_audio_out") else THINKING if shown_user else TRANSCRIBING
                if new != state:
                    state = new
                    callbacks.on_state(state)
                if finished:
                    break
                time.sleep(self.POLL_S)
            self._turn = None
            result = turn.wait()
        callbacks.on_state(READY)
        return TurnView(
            result.turn_id,
            result.transcript,
            result.reply,
            result.interrupted,
            result.care,
            dict(result.timeline),
            list(result.memories),
        )

    def interrupt(self) -> None:
        if self.pipeline is not None:
            self.pipeline.barge_in()

    def end(self) -> None:
        with self._lock:
            for part in (self.recorder, self.listener):
                if part is not None:
                    part.close()
            if self.pipeline is not None and not self.ended:
                self.pipeline.close()
            self.ended = True


def voice_available(settings: config.Settings, audio_source: Any = None) -> bool:
    """True when the speech package imports and there is a microphone (or an injected source)."""
    try:
        import voice_app.speech
        import voice_app.turn  # noqa: F401
    except Exception:  # noqa: BLE001 - missing native libraries disable voice, not the app
        return False
    if audio_source is not None:
        return True
    from voice_app.tui.services import microphone_name

    return microphone_name(settings) is not None


def open_engine(
    store: Store, persona: str, settings: config.Settings | None = None, *, voice: bool | None = None, **kwargs: Any
) -> TextEngine:
    """The voice engine when it can run (or `voice=True`), else the text engine."""
    settings = settings or config.load()
    if voice is None:
        voice = voice_available(settings, kwargs.get("audio_source"))
    if voice:
        return VoiceEngine(store, persona, settings=settings, **kwargs)
    kwargs.pop("audio_source", None)
    return TextEngine(store, persona, settings=settings, **kwargs)
