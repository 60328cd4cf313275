"""The voice turn pipeline: utterance → text → prompt → token stream → clauses → audio → speaker.

The stages run concurrently (one thread each for the transcript and storage, the LLM, the TTS; the
speaker plays from its own callback), so the reply starts speaking at its first clause while the
rest is still being generated. A `Timeline` stamps every event relative to the end of the user's
speech. `VoiceTurn.barge_in()` (the user talks or presses the talk key) stops playback and cancels
TTS and the LLM stream at once; the stored reply is what was actually heard.
"""

from __future__ import annotations

import dataclasses
import queue
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from voice_app.care import check_turn, is_stop_word
from voice_app.care.reply import ReplyScreen, replaced_reply_text
from voice_app.chat import ChatSession, TurnPlan
from voice_app.core import config
from voice_app.core.cancel import CancelToken
from voice_app.llm import ChatModel, generation_options
from voice_app.llm.base import GenerationOptions
from voice_app.persona.guard import in_character
from voice_app.persona.prompt import in_their_words
from voice_app.speech.audio import RATE, NullSpeaker, _Playback, open_speaker
from voice_app.speech.recorder import Utterance
from voice_app.speech.stt import Transcriber
from voice_app.speech.tts import ClauseSplitter, Synthesizer
from voice_app.storage.store import Store

# The events a turn stamps, in the order they normally happen.
EVENTS = (
    "speech_end",  # key released / VAD endpoint (the origin: 0.0)
    "transcript_final",
    "first_token",
    "first_clause",
    "first_audio",  # first TTS chunk ready
    "first_audio_out",  # first reply sample handed to the output stream
    "last_token",
    "last_audio_out",
    "barge_in",
    "playback_stopped",
    "llm_stopped",
)


class Timeline:
    """perf_counter() stamps of a turn's events; `relative()` gives seconds since speech end."""

    def __init__(self, origin: float | None = None) -> None:
        self._lock = threading.Lock()
        self.at: dict[str, float] = {}
        if origin is not None:
            self.at["speech_end"] = origin

    def mark(self, event: str, at: float | None = None, *, overwrite: bool = False) -> float:
        """Stamp an event (the first stamp wins unless `overwrite`); returns the stamp."""
        stamp = time.perf_counter() if at is None else at
        with self._lock:
            if overwrite or event not in self.at:
                self.at[event] = stamp
            return self.at[event]

    def has(self, event: str) -> bool:
        return event in self.at

    def since(self, event: str, origin: str = "speech_end") -> float | None:
        if event not in self.at or origin not in self.at:
            return None
        return self.at[event] - self.at[origin]

    def relative(self) -> dict[str, float]:
        """Every event in seconds since speech end, in event order."""
        origin = self.at.get("speech_end", min(self.at.values(), default=0.0))
        order = {name: i for i, name in enumerate(EVENTS)}
        items = sorted(self.at.items(), key=lambda kv: (order.get(kv[0], len(order)), kv[1]))
        return {name: round(stamp - origin, 4) for name, stamp in items}


@dataclass
class Clause:
    """One spoken piece of the reply and how much of it was heard."""

    text: str
    samples: int = 0  # synthesized
    played: int = 0
    synthesized: bool = False  # TTS finished it

    @property
    def state(self) -> str:
        if self.played == 0:
            return "unplayed"
        if self.synthesized and self.played >= self.samples:
            return "played"
        return "partial"

    def heard_text(self) -> str:
        if self.state == "played":
            return self.text
        if self.state == "unplayed" or not self.samples:
            return ""
        words = self.text.split()
        if len(words) <= 1:  # a CJK clause: cut by characters
            return self.text[: max(1, int(len(self.text) * self.played / self.samples))]
        return " ".join(words[: int(len(words) * self.played / self.samples)])


@dataclass
class VoiceTurnResult:
    """What one voice turn did."""

    turn_id: int | None  # None when nothing was said (no transcript)
    transcript: str
    reply: str  # what was heard
    reply_full: str  # what the model generated
    interrupted: bool
    timeline: dict[str, float]
    clauses: list[dict[str, Any]] = field(default_factory=list)
    user_audio: str | None = None  # relative to the data dir
    reply_audio: str | None = None
    stt: dict[str, float] = field(default_factory=dict)
    error: BaseException | None = None
    care: str | None = None  # "crisis" | "honesty" when the app stepped out of character
    memories: list[dict[str, Any]] = field(default_factory=list)  # the real past exchanges it drew on

    def public(self) -> dict[str, Any]:
        return {
            "turn": self.turn_id,
            "transcript": self.transcript,
            "reply": self.reply,
            "reply_full": self.reply_full,
            "interrupted": self.interrupted,
            "care": self.care,
            "timeline": self.timeline,
            "clauses": self.clauses,
            "user_audio": self.user_audio,
            "reply_audio": self.reply_audio,
        }


class VoiceTurn:
    """One turn running in background threads; `wait()` returns its result, `barge_in()` cuts it short."""

    def __init__(self, pipeline: VoicePipeline, said: Utterance | str, options: GenerationOptions) -> None:
        self.pipeline = pipeline
        self.said = said
        self.options = options
        origin = said.speech_end_at if isinstance(said, Utterance) else time.perf_counter()
        self.timeline = Timeline(origin)
        self.cancel = CancelToken()
        self.clauses: list[Clause] = []
        self.transcript = ""
        self.reply_full = ""
        self.replaced = False  # the reply check stopped the model: the care text was said instead
        self._clause_queue: queue.SimpleQueue[int | None] = queue.SimpleQueue()
        self._done = threading.Event()
        self._result: VoiceTurnResult | None = None
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run_safely, name="voice-turn", daemon=True)
        self._llm_thread: threading.Thread | None = None
        self._tts_thread: threading.Thread | None = None
        self.errors: list[BaseException] = []

    # --- control ---------------------------------------------------------------------------------

    def start(self) -> VoiceTurn:
        self._thread.start()
        return self

    def barge_in(self) -> float:
        """Stop playback, TTS and the LLM now (the user spoke or pressed the talk key); returns the time."""
        now = self.timeline.mark("barge_in")
        self.cancel.cancel()
        stopped = self.pipeline.speaker.stop()
        if self.timeline.has("first_audio_out"):
            self.timeline.mark("playback_stopped", stopped)
        return now

    @property
    def done(self) -> bool:
        return self._done.is_set()

    def wait(self, timeout: float | None = None) -> VoiceTurnResult:
        if not self._done.wait(timeout):
            raise TimeoutError("The voice turn did not finish in time.")
        assert self._result is not None
        if self._result.error is not None:
            raise self._result.error
        return self._result

    # --- stages ----------------------------------------------------------------------------------

    def _run_safely(self) -> None:
        try:
            self._result = self._run()
        except BaseException as exc:  # noqa: BLE001 - handed to wait()
            self.cancel.cancel()
            self.pipeline.speaker.stop()
            self._result = VoiceTurnResult(None, self.transcript, "", self.reply_full, True, {}, error=exc)
        finally:
            self._done.set()

    def _run(self) -> VoiceTurnResult:
        pipe = self.pipeline
        said = self.said
        stt_stats: dict[str, float] = {}
        if isinstance(said, Utterance):
            self.transcript = said.transcribe(pipe.transcriber).strip()
            stt_stats = said.stt_stats
        else:
            self.transcript = said.strip()
        self.timeline.mark("transcript_final")
        if not self.transcript:  # nothing was said (or only a hallucination): no turn
            return VoiceTurnResult(None, "", "", "", False, self.timeline.relative(), stt=stt_stats)
        if is_stop_word(self.transcript):  # "stop" / "停": the reply it interrupted stays stopped, no new one
            return VoiceTurnResult(None, self.transcript, "", "", True, self.timeline.relative(), stt=stt_stats)
        memories = pipe.speculator.ready_memories() if isinstance(said, Utterance) else None
        # Crisis and honesty checks run before any LLM call, on the transcript and what was heard on the way.
        plan = pipe.chat.plan_turn(self.transcript, memories, pipe.take_partials(self.transcript))
        stt_stats = {**stt_stats, "examples": float(len(plan.memories))}
        playback = pipe.speaker.begin()
        pipe.speaker.on_first_sample = lambda at: self.timeline.mark("first_audio_out", at)
        self._llm_thread = threading.Thread(target=self._llm, args=(plan,), name="turn-llm", daemon=True)
        self._tts_thread = threading.Thread(target=self._tts, name="turn-tts", daemon=True)
        self._llm_thread.start()
        self._tts_thread.start()

        # Phase one of storage runs beside the LLM: the user's audio file and the partial turn row.
        user_audio = None
        turn_id = pipe.store.begin_turn(pipe.chat.session_id, self.transcript)
        if isinstance(said, Utterance) and len(said.audio):
            user_audio = pipe.store.write_audio(said.audio, RATE, pipe.audio_path(turn_id, "user"))
            pipe.store.set_turn_audio(turn_id, user_audio)

        self._llm_thread.join()
        self._tts_thread.join()
        if not self.cancel.cancelled:
            pipe.speaker.wait()
        if playback.last_sample_at is not None:
            self.timeline.mark("last_audio_out", playback.last_sample_at)
        interrupted = self.cancel.cancelled
        for i, clause in enumerate(self.clauses):
            clause.played = playback.played.get(i, 0)
        heard = " ".join(t for t in (c.heard_text() for c in self.clauses) if t).strip()
        if not interrupted:
            heard = " ".join(c.text for c in self.clauses).strip() or self.reply_full.strip()
        reply_audio = None
        heard_audio = playback.heard_audio()
        if len(heard_audio):
            reply_audio = pipe.store.write_audio(heard_audio, pipe.speaker.rate, pipe.audio_path(turn_id, "reply"))
        timeline = self.timeline.relative()
        care = plan.care.kind if plan.care else "crisis" if self.replaced else None
        pipe.store.complete_turn(
            turn_id,
            reply_text=heard,
            reply_full=self.reply_full.strip(),
            reply_audio=reply_audio,
            interrupted=interrupted,
            backend="care" if plan.care else pipe.chat.model.info.backend,
            model=None if plan.care else pipe.chat.model.info.model,
            timeline=timeline,
            memories=plan.memories,
            care=care,
        )
        if self.replaced:
            pipe.chat.recent_lines = []
        else:
            pipe.chat.remember(plan, heard, with_examples=not pipe.speculator.enabled)
        pipe.speculator.after_turn(self.transcript if care is None else "", heard)
        if self.errors:
            raise self.errors[0]
        return VoiceTurnResult(
            turn_id,
            self.transcript,
            heard,
            self.reply_full.strip(),
            interrupted,
            timeline,
            [{"text": c.text, "state": c.state} for c in self.clauses],
            user_audio,
            reply_audio,
            stt_stats,
            care=care,
            memories=list(plan.memories),
        )

    def _llm(self, plan: TurnPlan) -> None:
        try:
            # A reply that comes out empty (the model wrote only the user's next line, or a lone label)
            # would leave the user in silence: it is asked once more with the next seed.
            for attempt in range(EMPTY_REPLY_RETRIES + 1):
                self._generate(plan, attempt)
                if plan.care or self.replaced or self.cancel.cancelled or self.reply_full.strip():
                    break
        except BaseException as exc:  # noqa: BLE001 - reported by wait()
            self.errors.append(exc)
            self.cancel.cancel()
        finally:
            self.timeline.mark("llm_stopped" if self.cancel.cancelled else "llm_done")
            self._clause_queue.put(None)

    def _generate(self, plan: TurnPlan, attempt: int) -> None:
        """One pass of the model (or the care text) through the cleaner, the style adapter and the splitter."""
        splitter = ClauseSplitter()
        chat = self.pipeline.chat
        options = self.options
        if attempt and options.seed is not None:
            options = dataclasses.replace(options, seed=options.seed + attempt)
        # A care reply (crisis, honesty) is spoken as it is, out of character, without the model; the
        # model's reply is checked clause by clause before it is spoken.
        screen = ReplyScreen()
        pieces = (
            iter([plan.care.text])
            if plan.care
            else screen.screen(
                in_their_words(
                    in_character(chat.model, plan.messages, options, self.cancel, chat.prompt.them), chat.prompt
                )
            )
        )
        try:
            for text in pieces:
                if self.cancel.cancelled:
                    break
                self.timeline.mark("first_token")
                self.reply_full += text
                for clause in splitter.feed(text):
                    self._add_clause(clause)
            if not self.cancel.cancelled:
                self.timeline.mark("last_token", overwrite=True)
                for clause in splitter.flush():
                    self._add_clause(clause)
                if screen.harmful is not None:  # it began to encourage or describe self-harm: the care text instead
                    self.replaced = True
                    self._add_clause(replaced_reply_text(plan.user_line, chat.settings.care.country, chat.prompt.them))
        finally:
            if hasattr(pieces, "close"):
                pieces.close()  # a stream left early releases the model now

    def _add_clause(self, text: str) -> None:
        with self._lock:
            self.clauses.append(Clause(text))
            index = len(self.clauses) - 1
        self.timeline.mark("first_clause")
        self._clause_queue.put(index)

    def _tts(self) -> None:
        speaker = self.pipeline.speaker
        try:
            while True:
                index = self._clause_queue.get()
                if index is None or self.cancel.cancelled:
                    return
                clause = self.clauses[index]
                for chunk in self.pipeline.synthesizer.stream(clause.text, self.cancel):
                    if self.cancel.cancelled:
                        return
                    self.timeline.mark("first_audio")
                    clause.samples += len(chunk)
                    speaker.play(chunk, tag=index)
                clause.synthesized = not self.cancel.cancelled
        except BaseException as exc:  # noqa: BLE001
            self.errors.append(exc)
            self.cancel.cancel()
        finally:
            self.timeline.mark("tts_stopped" if self.cancel.cancelled else "tts_done")


EMPTY_REPLY_RETRIES = 1
PREFILL_CHUNK = 32  # tokens per prefill step; a reply does not wait for one (the abort callback stops it)


class Speculator:
    """Prefills the next reply's prompt into the model's KV cache while the user is still speaking.

    Each partial transcript recalls the real past exchanges for the words so far and evaluates the
    prompt (history, those exchanges, the words) in the background, so at the end of speech only
    what is new is left to read: at ~35 prompt tokens/s on two cores, the retrieved exchanges alone
    would cost seconds. After each turn it evaluates the finished exchange the same way.

    With `llm.voice_examples = "ready"` (the default), a voice turn keeps the exchanges that are
    already in the cache when the user stops and does not wait for the rest; "all" waits for all.
    Backends without a local KV cache (Ollama) get every exchange, as typed turns do.
    """

    def __init__(self, pipeline: VoicePipeline) -> None:
        self.pipeline = pipeline
        model = pipeline.chat.model
        self.enabled = callable(getattr(model, "prefill", None)) and callable(getattr(model, "is_cached", None))
        self.policy = pipeline.settings.llm.voice_examples
        self.carried: list[dict[str, Any]] = []  # recalled on the previous exchange
        self.memories: list[dict[str, Any]] | None = None  # carried + recalled on the latest partial transcript
        self.prefilled = 0  # tokens the cache held after the latest prefill
        self._cond = threading.Condition()
        self._pending: str | None = None
        self._generation = 0
        self._closed = False
        self._busy = False
        self._thread: threading.Thread | None = None
        if self.enabled:
            self._thread = threading.Thread(target=self._run, name="llm-prefill", daemon=True)
            self._thread.start()

    def feed(self, partial: str) -> None:
        """A new partial transcript (StreamingTranscriber.on_partial); only the latest one is worked on."""
        if self.enabled:
            self._submit(partial)

    def after_turn(self, said: str = "", reply: str = "") -> None:
        """The turn is stored: evaluate the finished exchange while the user listens and thinks.

        The real exchanges closest to it (`said` and `reply`) go into the cache too, ahead of the
        next line: the conversation usually stays on its topic, and these are ready however short
        the next utterance is. What the next line recalls is added after them.
        """
        self.carried = self.pipeline.chat.prompt.recall(f"{said} {reply}") if said.strip() else []
        self.memories = list(self.carried)
        if self.enabled:
            self._submit("")

    def ready_memories(self) -> list[dict[str, Any]] | None:
        """The recalled exchanges to use now; None = recall on the final transcript (no prefill here)."""
        with self._cond:
            self._generation += 1  # a running prefill stops at its next chunk
            self._pending = None
        if not self.enabled or self.policy == "all":
            return None
        spec = self.memories or []
        chat, model = self.pipeline.chat, self.pipeline.chat.model
        for k in range(len(spec), 0, -1):
            if model.is_cached(chat.open_messages(spec[:k]), max_tokens=self.pipeline.options.max_tokens):  # type: ignore[attr-defined]
                return spec[:k]
        return []

    def wait_idle(self, timeout: float = 60.0) -> bool:
        """Block until no prefill is queued or running (benchmarks and tests); False on timeout."""
        deadline = time.perf_counter() + timeout
        with self._cond:
            while self._pending is not None or self._busy:
                left = deadline - time.perf_counter()
                if left <= 0:
                    return False
                self._cond.wait(min(left, 0.05))
        return True

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._generation += 1
            self._cond.notify()

    def _submit(self, partial: str) -> None:
        with self._cond:
            self._pending = partial
            self._generation += 1
            self._cond.notify()

    def _run(self) -> None:
        while True:
            with self._cond:
                while self._pending is None and not self._closed:
                    self._cond.wait()
                if self._closed:
                    return
                partial, self._pending = self._pending, None
                generation = self._generation
                self._busy = True
            try:
                self._prefill(partial, generation)
            except Exception:  # noqa: BLE001 - a failed guess costs nothing: the reply evaluates its own prompt
                self.memories = None
            finally:
                with self._cond:
                    self._busy = False
                    self._cond.notify_all()

    def _prefill(self, partial: str, generation: int) -> None:
        pipe = self.pipeline  # while a reply is generated the model is busy and prefill() returns at once
        chat = pipe.chat
        words = _stable_words(partial)
        if partial:
            if check_turn(partial, them=chat.prompt.them, country=chat.settings.care.country) is not None:
                return  # this turn will be answered out of character, without the model
            new = [m for m in chat.prompt.recall(partial) if m not in self.carried]
            self.memories = (self.carried + new)[: chat.prompt.memory_k + 1]
        messages = chat.open_messages(self.memories or [], words)
        self.prefilled = chat.model.prefill(  # type: ignore[attr-defined]
            messages,
            lambda: self._generation != generation,
            max_tokens=pipe.options.max_tokens,
            chunk=PREFILL_CHUNK,
        )


def _stable_words(partial: str) -> str:
    """The partial transcript without its last word, which the next pass may still change."""
    text = partial.strip()
    if " " in text:
        return text.rsplit(" ", 1)[0]
    return text[:-1] if any(ord(ch) > 0x2E80 for ch in text) else ""


class VoicePipeline:
    """A voice session with a persona: the chat session, STT, TTS and the speaker, kept warm across turns.

    The TUI creates one per conversation, feeds it utterances from a `Recorder` (push-to-talk) or
    `HandsFree` (VAD), and calls `barge_in()` when the user talks or presses the talk key during a reply.
    """

    def __init__(
        self,
        store: Store,
        persona: str,
        *,
        settings: config.Settings | None = None,
        model: ChatModel | None = None,
        transcriber: Transcriber | None = None,
        synthesizer: Synthesizer | None = None,
        speaker: _Playback | None = None,
        options: GenerationOptions | None = None,
        allow_null_speaker: bool = True,
    ) -> None:
        self.settings = settings or config.load()
        self.store = store
        self.chat = ChatSession(store, persona, settings=self.settings, model=model, mode="voice")
        self.transcriber = transcriber or Transcriber.from_settings(self.settings)
        self.synthesizer = synthesizer or Synthesizer.from_settings(self.settings)
        self.speaker = speaker or open_speaker(
            self.settings.audio.output_device, rate=self.synthesizer.sample_rate, allow_null=allow_null_speaker
        )
        self.options = options or generation_options(self.settings)
        self.current: VoiceTurn | None = None
        self._partial = ""
        self.speculator = Speculator(self)

    def on_partial(self, partial: str) -> None:
        """Hand to a Recorder/HandsFree: each partial transcript prefills the reply's prompt."""
        self._partial = partial
        self.speculator.feed(partial)

    def take_partials(self, final: str) -> list[str]:
        """The latest partial transcript, when it heard words the final one lost (the crisis check reads it)."""
        partial, self._partial = self._partial, ""
        lost = set(partial.lower().split()) - set(final.lower().split())
        if " " not in partial.strip():  # CJK: characters, not words
            lost = set(partial) - set(final)
        return [partial] if partial.strip() and lost else []

    @property
    def session_id(self) -> int:
        return self.chat.session_id

    @property
    def speaker_kind(self) -> str:
        return "null" if isinstance(self.speaker, NullSpeaker) else "device"

    def warm_up(self) -> dict[str, float]:
        """Load every model and evaluate the persona prefix, so the first turn is as fast as the next."""
        times: dict[str, float] = {}
        start = time.perf_counter()
        self.transcriber.warm_up()
        times["stt"] = time.perf_counter() - start
        start = time.perf_counter()
        self.synthesizer.warm_up()
        times["tts"] = time.perf_counter() - start
        times["llm"] = self.chat.warm_up()
        self.speculator.after_turn()  # the history so far (a resumed session) goes in too
        return times

    def start_turn(self, said: Utterance | str, options: GenerationOptions | None = None) -> VoiceTurn:
        """Answer an utterance (or a typed line) in the background; returns the running turn."""
        if self.current is not None and not self.current.done:
            self.current.barge_in()
            self.current._done.wait()
        self.current = VoiceTurn(self, said, options or self.options).start()
        return self.current

    def respond(self, said: Utterance | str, options: GenerationOptions | None = None) -> VoiceTurnResult:
        """Answer and wait until the reply was played."""
        return self.start_turn(said, options).wait()

    def barge_in(self) -> float | None:
        """The user talks or presses the talk key during a reply: stop it now."""
        if self.current is not None and not self.current.done:
            return self.current.barge_in()
        return None

    def audio_path(self, turn_id: int, side: str) -> str:
        """Where a turn's audio goes, relative to the data dir."""
        return self.store.audio_ref(self.session_id, turn_id, side)

    def close(self) -> None:
        if self.current is not None and not self.current.done:
            self.current.barge_in()
            self.current._done.wait(5)
        self.speculator.close()
        self.chat.end()
        self.speaker.close()
