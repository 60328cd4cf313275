"""One turn, typed or spoken: care check → prompt → model → checks → (voice: clauses → TTS → speaker) → store.

The same `Turn` answers a typed line and an utterance. It runs in the background and yields typed
events on one stream (`events()`): the user's text, a care step, the memories used, reply pieces as
they pass the checks, spoken clauses and the first audio out, and `TurnDone` with its `TurnRecord`.
Stages run concurrently (the model in one thread; with a voice, TTS in another while the speaker
plays from its own callback), so a spoken reply starts at its first clause. `barge_in()` stops
playback, TTS and the model at once; what is stored is what was actually shown or heard.
"""

from __future__ import annotations

import contextlib
import dataclasses
import queue
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from voice_app.care import is_stop_word
from voice_app.care.reply import ReplyScreen, replaced_reply_text
from voice_app.conversation.timeline import Timeline
from voice_app.core.cancel import CancelToken
from voice_app.core.compute import LOAD
from voice_app.core.signal import without_lead_in
from voice_app.core.types import (
    AudioStarted,
    CareStep,
    MemoriesUsed,
    ReplyPiece,
    ReplyStarted,
    SpokenClause,
    TurnDone,
    TurnEvent,
    TurnRecord,
    UserText,
)
from voice_app.llm.base import GenerationOptions
from voice_app.persona.guard import in_character
from voice_app.persona.prompt import in_their_words
from voice_app.speech.audio import RATE, Playback, PlaybackState
from voice_app.speech.recorder import Utterance
from voice_app.speech.tts import ClauseSplitter, units

if TYPE_CHECKING:
    from voice_app.conversation.conversation import Conversation, TurnPlan

EMPTY_REPLY_RETRIES = 1  # a reply that comes out empty is asked once more, so the user is not left in silence
HELD_TIMEOUT_S = 20.0  # a reply started early that no utterance claims is dropped after this long
# A first clause this long (words, CJK characters) is said for long enough that the model, stopped
# while its sound is computed, still has the next clause ready when it ends; after a shorter one
# ("yeah,", "bye.") the voice waited 0.28-0.48 s for the next (3 of 11 replies in one run).
ALONE_MIN_UNITS = 3
# A later clause is checked (the reply check's encoders) and synthesized once the voice has less than
# this much audio left to say, or once the model has finished writing: until then the model writes
# alone. On two cores, a token written beside Piper took 41 ms against 29 ms, and 80-120 ms beside
# Piper and the reply check's encoder together (`scripts/bench_contention.py`, 2-vCPU AMD EPYC). There
# Piper computed an eight-word clause (2.1 s of speech) in 0.09 s alone, 0.09-0.13 s beside the model
# writing, and up to 0.2 s with another program busy on a core as well: this leaves three times the
# worst of it.
SYNTHESIS_LEAD_S = 0.6


def same_words(a: str, b: str) -> bool:
    """Two transcripts that say the same words (case and punctuation aside): an early reply still fits."""
    return _words(a) == _words(b)


def _words(text: str) -> str:
    return " ".join("".join(ch if ch.isalnum() else " " for ch in text.lower()).split())


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


class Turn:
    """One turn running in the background; `events()` streams it, `wait()` returns its record."""

    def __init__(
        self, conversation: Conversation, said: Utterance | str, options: GenerationOptions, *, held: bool = False
    ) -> None:
        """`held`: `said` is a partial transcript the user may still be adding to; the reply is
        computed but nothing is shown, spoken or stored until `resolve(utterance)` keeps it."""
        self.conversation = conversation
        self.said = said
        # The persona's own words nudged up (the embedded model), whatever options the caller chose.
        self.options = options if options.word_bias else replace(options, word_bias=conversation.prompt.word_bias)
        self.voice = conversation.voice
        origin = said.speech_end_at if isinstance(said, Utterance) else time.perf_counter()
        self.timeline = Timeline(origin)
        self.timeline.mark("turn_start")
        self.cancel = CancelToken()
        self.clauses: list[Clause] = []
        self.transcript = said.strip() if held and isinstance(said, str) else ""
        self.reply_full = ""
        self.shown = ""  # what passed the checks (a typed turn's reply)
        self.replaced = False  # the reply check stopped the model: the care text was said instead
        self.errors: list[BaseException] = []
        self.held = held
        self.kept_early: bool | None = None  # started before the user finished: kept (True) or redone (False)
        self._resolved = threading.Event()
        self._resolution: Utterance | None = None
        self._released = threading.Event()  # the speaker may be used and events flow
        self._held_events: list[TurnEvent] = []
        self._barged = False
        if not held:
            self._released.set()
        self._events: queue.SimpleQueue[TurnEvent] = queue.SimpleQueue()
        self._clause_queue: queue.SimpleQueue[int | None] = queue.SimpleQueue()
        self._done = threading.Event()
        self._record: TurnRecord | None = None
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run_safely, name="turn", daemon=True)

    # --- control ---------------------------------------------------------------------------------

    def start(self) -> Turn:
        self._thread.start()
        return self

    def barge_in(self) -> float:
        """Stop playback, TTS and the model now (the user spoke, pressed the talk key or Esc)."""
        now = self.timeline.mark("barge_in")
        self._barged = True
        if self.voice is not None and self._released.is_set():  # first what the user hears, then what computes
            stopped = self.voice.speaker.stop()
            if self.timeline.has("first_audio_out"):
                self.timeline.mark("playback_stopped", stopped)
        self.cancel.cancel()
        return now

    def resolve(self, utterance: Utterance) -> bool:
        """The utterance this held reply was started for has ended: keep the reply if its final
        transcript says the same words, else answer it afresh (same turn). False: too late (dropped)."""
        with self._lock:
            if not self.held or self._resolved.is_set():
                return False
            self._resolution = utterance
            self._resolved.set()
        return True

    def discard(self) -> None:
        """Drop a held reply (the user went on speaking, or a typed line came): nothing was shown or stored."""
        with self._lock:
            if not self.held or self._resolved.is_set():
                return
            self._resolved.set()
        self.cancel.cancel()

    @property
    def done(self) -> bool:
        return self._done.is_set()

    def finished(self, timeout: float | None = None) -> bool:
        return self._done.wait(timeout)

    def wait(self, timeout: float | None = None) -> TurnRecord:
        if not self._done.wait(timeout):
            raise TimeoutError("The turn did not finish in time.")
        assert self._record is not None
        if self._record.error is not None:
            raise self._record.error
        return self._record

    def events(self) -> Iterator[TurnEvent]:
        """Every event of the turn, as it happens, ending with `TurnDone` (errors are raised after it)."""
        while True:
            event = self._events.get()
            yield event
            if isinstance(event, TurnDone):
                if event.record.error is not None:
                    raise event.record.error
                return

    def _emit(self, event: TurnEvent) -> None:
        with self._lock:
            if not self._released.is_set():
                self._held_events.append(event)  # a held reply's events wait until it is kept
                return
        self._events.put(event)

    # --- stages ----------------------------------------------------------------------------------

    def _run_safely(self) -> None:
        try:
            self._record = self._run()
        except BaseException as exc:  # noqa: BLE001 - handed to wait() and events()
            self.cancel.cancel()
            if self.voice is not None and self._released.is_set():
                self.voice.speaker.stop()
            self._record = TurnRecord(None, self.transcript, "", self.reply_full, True, error=exc)
        finally:
            self._done.set()
            self._released.set()
            self._events.put(TurnDone(self._record))  # type: ignore[arg-type]

    def _run(self) -> TurnRecord:
        if self.held:
            record = self._run_held()
            if record is not None:
                return record
        return self._run_live()

    def _run_live(self) -> TurnRecord:
        conv = self.conversation
        said = self.said
        stt: dict[str, float] = {}
        if isinstance(said, Utterance):
            assert self.voice is not None, "an utterance needs a conversation with a voice"
            self.transcript = said.transcribe(self.voice.transcriber).strip()
            stt = said.stt_stats
        else:
            self.transcript = said.strip()
        self.timeline.mark("transcript_final")
        if self.kept_early is False:
            stt = {**stt, "preemptive": 0.0}
        if not self.transcript:  # nothing was said (or only a hallucination): no turn
            return TurnRecord(None, "", "", timeline=self.timeline.relative(), stt=stt)
        if self.voice is not None and is_stop_word(self.transcript):  # "stop" / "停": nothing new is said
            return TurnRecord(None, self.transcript, "", interrupted=True, timeline=self.timeline.relative(), stt=stt)
        self._emit(UserText(self.transcript))
        plan = self._plan(isinstance(said, Utterance), conv.take_partials(self.transcript), apply=True)
        stt = {**stt, "examples": float(len(plan.memories))}
        playback = self.voice.speaker.begin() if self.voice is not None else None
        if self.voice is not None:
            self.voice.speaker.on_first_sample = self._first_sample
        workers = self._start_workers(plan)
        return self._finish(plan, stt, playback, workers)

    def _run_held(self) -> TurnRecord | None:
        """A reply to a partial transcript, computed while the user is silent but not done; kept when the
        final transcript says the same words (returns its record), else None: answer the utterance afresh."""
        conv = self.conversation
        plan = self._plan(True, (), apply=False)
        workers = self._start_workers(plan)  # the voice waits for the release before it plays
        self._resolved.wait(HELD_TIMEOUT_S)
        with self._lock:
            self._resolved.set()  # from now on, too late to resolve
            utterance = self._resolution
        if utterance is None:  # dropped: nothing was shown, spoken or stored
            self.cancel.cancel()
            self._join(workers)
            return TurnRecord(None, self.transcript, "", interrupted=True, timeline=self.timeline.relative())
        assert self.voice is not None
        final = utterance.transcribe(self.voice.transcriber).strip()
        self.said = utterance
        if not same_words(final, self.transcript) or is_stop_word(final):
            self.cancel.cancel()
            self._join(workers)
            self._start_over(utterance)
            return None
        self.kept_early = True
        self.timeline.mark("speech_end", utterance.speech_end_at, overwrite=True)
        self.timeline.mark("transcript_final", overwrite=True)
        conv.take_partials(final)
        conv.recent_lines = plan.recent_after
        self.transcript = final
        stt = {**utterance.stt_stats, "examples": float(len(plan.memories)), "preemptive": 1.0}
        playback = self.voice.speaker.begin()
        self.voice.speaker.on_first_sample = self._first_sample
        with self._lock:  # what was computed while held is told now, after the user's words
            self._events.put(UserText(final))
            for event in self._held_events:
                self._events.put(event)
            self._held_events = []
            self._released.set()
        return self._finish(plan, stt, playback, workers)

    def _start_over(self, utterance: Utterance) -> None:
        """The user said more than the held reply answered: clear it (nothing of it was told) and go live."""
        self.kept_early = False
        self.timeline = Timeline(utterance.speech_end_at)
        self.timeline.mark("turn_start")
        self.cancel = CancelToken()
        if self._barged:  # the turn was cut while it was being redone
            self.timeline.mark("barge_in")
            self.cancel.cancel()
        self.clauses = []
        self.reply_full = self.shown = ""
        self.replaced = False
        self.errors = []
        self._clause_queue = queue.SimpleQueue()
        with self._lock:
            self._held_events = []
            self._released.set()

    def _plan(self, spoken: bool, heard: list[str] | tuple[()], *, apply: bool) -> TurnPlan:
        """The care checks run before any model call, on the line and what was heard on the way to it."""
        conv = self.conversation
        ready = None
        if conv.speculator is not None:
            ready = (
                conv.speculator.ready_memories(held=self.held)
                if spoken
                else conv.speculator.typed_memories(self.transcript)
            )
        plan = conv.plan_turn(self.transcript, ready, heard, apply=apply)
        self.timeline.mark("checked", overwrite=True)
        if plan.care is not None:
            self._emit(CareStep(plan.care.kind, plan.care.text))
        self._emit(MemoriesUsed(tuple(plan.memories)))
        return plan

    def _start_workers(self, plan: TurnPlan) -> list[threading.Thread]:
        workers = [threading.Thread(target=self._llm, args=(plan,), name="turn-llm", daemon=True)]
        if self.voice is not None:
            workers.append(threading.Thread(target=self._tts, name="turn-tts", daemon=True))
        for worker in workers:
            worker.start()
        return workers

    @staticmethod
    def _join(workers: list[threading.Thread]) -> None:
        for worker in workers:
            worker.join()

    def _finish(
        self, plan: TurnPlan, stt: dict[str, float], playback: PlaybackState | None, workers: list[threading.Thread]
    ) -> TurnRecord:
        """Store the turn (the user's side first), wait for the reply to be told, store what was heard."""
        conv = self.conversation
        said = self.said
        turn_id = conv.store.begin_turn(conv.session_id, self.transcript)  # phase one: the user's side
        user_audio = None
        if isinstance(said, Utterance) and len(said.audio):  # written while the model works
            ref = conv.store.audio_ref(conv.session_id, turn_id, "user")
            user_audio = conv.store.write_audio(said.audio, RATE, ref)
            conv.store.set_turn_audio(turn_id, user_audio)
        self._join(workers)
        heard, reply_audio = self._heard(turn_id, playback)
        interrupted = self.cancel.cancelled
        timeline = self.timeline.relative()
        care = plan.care.kind if plan.care else "crisis" if self.replaced else None
        conv.store.complete_turn(
            turn_id,
            reply_text=heard,
            reply_full=self.reply_full.strip(),
            reply_audio=reply_audio,
            interrupted=interrupted,
            backend="care" if plan.care else conv.model.info.backend,
            model=None if plan.care else conv.model.info.model,
            timeline=timeline,
            memories=plan.memories,
            care=care,
        )
        conv.after_turn(plan, heard, stepped_out=care is not None)
        if self.errors:
            raise self.errors[0]
        return TurnRecord(
            turn_id,
            self.transcript,
            heard,
            self.reply_full.strip(),
            interrupted,
            care,
            list(plan.memories),
            timeline,
            [{"text": c.text, "state": c.state} for c in self.clauses],
            user_audio,
            reply_audio,
            stt,
        )

    def _heard(self, turn_id: int, playback: PlaybackState | None) -> tuple[str, str | None]:
        """What reached the user: the pieces shown (typed), or the clauses played (voice), and its audio."""
        if self.voice is None or playback is None:
            return self.shown.strip(), None
        if not self.cancel.cancelled:
            self.voice.speaker.wait()
        if playback.last_sample_at is not None:
            self.timeline.mark("last_audio_out", playback.last_sample_at)
        for i, clause in enumerate(self.clauses):
            clause.played = playback.played.get(i, 0)
        if self.cancel.cancelled:
            heard = " ".join(t for t in (c.heard_text() for c in self.clauses) if t).strip()
        else:
            heard = " ".join(c.text for c in self.clauses).strip() or self.reply_full.strip()
        reply_audio = None
        audio = playback.heard_audio()
        if len(audio):
            conv = self.conversation
            ref = conv.store.audio_ref(conv.session_id, turn_id, "reply")
            reply_audio = conv.store.write_audio(audio, self.voice.speaker.rate, ref)
        return heard, reply_audio

    def _first_sample(self, at: float) -> None:
        self.timeline.mark("first_audio_out", at)
        self._emit(AudioStarted())

    def _llm(self, plan: TurnPlan) -> None:
        self.timeline.mark("llm_start")  # before speech_end when the reply was started early
        try:
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
        """One pass of the model (or the care text) through the guard, the style adapter and the reply check."""
        conv = self.conversation
        splitter = ClauseSplitter() if self.voice is not None else None
        options = self.options
        if attempt and options.seed is not None:
            options = dataclasses.replace(options, seed=options.seed + attempt)
        screen = ReplyScreen()
        if plan.care:  # a care reply is said as it is, out of character, without the model
            pieces: Iterator[str] = iter([plan.care.text])
        else:
            written = in_character(
                conv.model,
                plan.messages,
                options,
                self.cancel,
                conv.prompt.them,
                me=conv.prompt.me,
                user_line=plan.user_line,
            )
            pieces = screen.screen(
                in_their_words(self._started(written), conv.prompt),
                lambda: self.cancel.cancelled,
                due=self._voice_needs_words if self.voice is not None else None,
            )
        try:
            for text in pieces:
                if self.cancel.cancelled:
                    break
                self.timeline.mark("first_token")
                self.reply_full += text
                self.shown += text
                self._emit(ReplyPiece(text))
                if splitter is not None:
                    for clause in splitter.feed(text):
                        self._add_clause(clause)
            if not self.cancel.cancelled:
                self.timeline.mark("last_token", overwrite=True)
                if splitter is not None:
                    for clause in splitter.flush():
                        self._add_clause(clause)
                if screen.harmful is not None:  # it began to encourage or describe self-harm: the care text
                    self.replaced = True
                    text = replaced_reply_text(plan.user_line, conv.settings.care.country, conv.prompt.them)
                    shown = ("\n" if self.shown.strip() else "") + text
                    self.shown += shown
                    self._emit(CareStep("crisis", text, replaced=True))
                    self._emit(ReplyPiece(shown))
                    if splitter is not None:
                        self._add_clause(text)
        finally:
            close = getattr(pieces, "close", None)
            if close is not None:
                close()  # a stream left early releases the model now

    def _started(self, pieces: Iterator[str]) -> Iterator[str]:
        """The same pieces; `ReplyStarted` is emitted as the first arrives."""
        first = True
        try:
            for piece in pieces:
                if first:
                    first = False
                    self._emit(ReplyStarted())
                yield piece
        finally:
            close = getattr(pieces, "close", None)
            if close is not None:
                close()

    def _add_clause(self, text: str) -> None:
        with self._lock:
            self.clauses.append(Clause(text))
            index = len(self.clauses) - 1
        self.timeline.mark("first_clause")
        self._emit(SpokenClause(index, text))
        self._clause_queue.put(index)

    def _voice_needs_words(self) -> bool:
        """Whether the voice wants the reply's next clause now: the reply may be played (a held one is
        not, until it is kept), its first sound is out, and it has less than SYNTHESIS_LEAD_S left to
        say. Until then the reply check holds later clauses unchecked."""
        assert self.voice is not None
        return (
            self._released.is_set()
            and self.timeline.has("first_audio")
            and self.voice.speaker.ahead_s() <= SYNTHESIS_LEAD_S
        )

    def _wait_until_needed(self, speaker: Playback) -> None:
        """Hold a later clause's synthesis while the model writes and the voice has enough left to say."""

        def writing() -> bool:  # the model (or the care text) has not finished the reply
            return not (self.timeline.has("llm_done") or self.timeline.has("llm_stopped") or self.cancel.cancelled)

        while writing() and speaker.ahead_s() > SYNTHESIS_LEAD_S:
            time.sleep(0.01)

    def _tts(self) -> None:
        assert self.voice is not None
        speaker, synthesizer = self.voice.speaker, self.voice.synthesizer
        try:
            while True:
                index = self._clause_queue.get()
                if index is None or self.cancel.cancelled:
                    return
                clause = self.clauses[index]
                if self.timeline.has("first_audio"):
                    self._wait_until_needed(speaker)
                    if self.cancel.cancelled:
                        return
                chunks = synthesizer.stream(clause.text, self.cancel)
                # The reply's first sound is what the user waits for, and the model is a clause ahead of
                # the voice: it stops while that chunk is computed on every core (a held reply's first
                # clause, computed before it is kept, and a one- or two-word one leave the model going).
                first_sound = (
                    not self.timeline.has("first_audio")
                    and self._released.is_set()
                    and units(clause.text) >= ALONE_MIN_UNITS
                )
                while True:
                    with LOAD.alone("tts") if first_sound else contextlib.nullcontext():
                        chunk = next(chunks, None)
                    first_sound = False
                    if chunk is None:
                        break
                    if self.cancel.cancelled:
                        return
                    if not self.timeline.has("first_audio"):  # the reply's first sound starts at once
                        chunk = without_lead_in(chunk, speaker.rate)
                    self.timeline.mark("first_audio")
                    while not self._released.wait(0.02):  # a held reply is not played before it is kept
                        if self.cancel.cancelled:
                            return
                    clause.samples += len(chunk)
                    speaker.play(chunk, tag=index)
                clause.synthesized = not self.cancel.cancelled
        except BaseException as exc:  # noqa: BLE001
            self.errors.append(exc)
            self.cancel.cancel()
        finally:
            self.timeline.mark("tts_stopped" if self.cancel.cancelled else "tts_done")
