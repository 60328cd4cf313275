"""A conversation with a persona: the model, the persona prompt, the saved session, and a voice when there is one.

Typed lines and utterances are answered by the same `Turn` (`start_turn`); `reply()` is the typed
shortcut that forwards the turn's reply pieces to a callback. With a `Voice` (speech to text, a TTS
voice and a speaker) the conversation also prefills the next prompt while the user speaks
(`Speculator`) and speaks its replies; without one it is text only.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from voice_app import care
from voice_app.care import closure as closure_mod
from voice_app.care.usage import minutes_on, nudge_text
from voice_app.conversation.persona_data import build_prompt
from voice_app.conversation.speculator import Speculator
from voice_app.conversation.turn import Turn, same_words
from voice_app.core import config
from voice_app.core.cancel import CancelToken
from voice_app.core.errors import NothingToCorrectError
from voice_app.core.records import Correction
from voice_app.core.types import Memory, ReplyPiece, ReplyStarted, TurnRecord
from voice_app.llm import ChatModel, generation_options, open_chat_model
from voice_app.llm.base import GenerationOptions, Message
from voice_app.persona.prompt import PersonaPrompt, correction_note
from voice_app.speech import voices
from voice_app.speech.audio import NullSpeaker, Playback, open_speaker
from voice_app.speech.recorder import Utterance
from voice_app.speech.stt import Transcriber
from voice_app.speech.voices import TextToSpeech
from voice_app.storage.store import Store


@dataclass(frozen=True)
class TurnPlan:
    """How one line will be answered."""

    user_line: str
    messages: list[Message]  # empty when `care` answers instead of the model
    memories: list[Memory]
    care: care.CareReply | None
    recent_after: list[str]  # the user's lines the crisis check reads with the next line, once this one is answered


@dataclass
class Voice:
    """What a spoken conversation needs: speech to text, a generic TTS voice, and a speaker."""

    transcriber: Transcriber
    synthesizer: TextToSpeech
    speaker: Playback

    @classmethod
    def from_settings(
        cls,
        settings: config.Settings,
        *,
        transcriber: Transcriber | None = None,
        synthesizer: TextToSpeech | None = None,
        speaker: Playback | None = None,
        language: str | None = None,
        allow_null_speaker: bool = True,
    ) -> Voice:
        transcriber = transcriber or Transcriber.from_settings(settings, language=language)
        synthesizer = synthesizer or voices.from_settings(settings, language or "")
        speaker = speaker or open_speaker(
            settings.audio.output_device, rate=synthesizer.sample_rate, allow_null=allow_null_speaker
        )
        return cls(transcriber, synthesizer, speaker)

    def cannot_speak(self, language: str) -> str | None:
        """A notice when replies in `language` have no voice here (Chinese without the zh voice), else None."""
        if language != "zh" or "zh" in getattr(self.synthesizer, "languages", ["en"]):
            return None
        return (
            "Chinese replies are shown, not spoken: no Chinese voice is installed."
            " `voice-app models add zh-voice` adds one (its voice data is for non-commercial use)."
        )

    @property
    def speaker_kind(self) -> str:
        return "null" if isinstance(self.speaker, NullSpeaker) else "device"


class Conversation:
    """One saved session with a persona; every turn (typed or spoken) goes through `start_turn`."""

    def __init__(
        self,
        store: Store,
        persona: str,
        *,
        settings: config.Settings | None = None,
        model: ChatModel | None = None,
        voice: Voice | None = None,
        mode: str | None = None,
        closure: bool = False,
        options: GenerationOptions | None = None,
        seed: int | None = None,
    ) -> None:
        self.store = store
        self.settings = settings or config.load()
        # The crisis check's text models load (~1 s, much of it Python parsing a tokenizer) while the
        # chat model loads (native code, the GIL released): `warm_up` waits for both.
        self._care_loading = threading.Thread(target=care.warm_up, name="care-warm-up", daemon=True)
        self._care_loading.start()
        self.model = model or open_chat_model(self.settings, encrypted=store.encryption_state != "off")
        self.prompt: PersonaPrompt = build_prompt(store, persona)
        self.voice = voice
        mode = mode or ("voice" if voice else "text")
        self.session_id = store.start_session(persona, mode, self.model.info.backend, self.model.info.model)
        self.options = options or generation_options(self.settings, seed)
        self.history: list[tuple[str, str]] = []
        self.started = time.monotonic()
        self.nudged = False
        self.closure_stage: int | None = 0 if closure else None
        # The user's lines since the last crisis exit: the crisis check reads the new line with them.
        self.recent_lines: list[str] = []
        self.current: Turn | None = None
        self.preemptive: Turn | None = None  # a reply started before the user finished (held back)
        # `start_turn` (the caller's thread) and `on_settled` (the listener's) both touch `preemptive`:
        # a held reply started while a turn is being started would be claimed by no one, and would hold
        # the model and the voice for HELD_TIMEOUT_S (seen: a reply's first sound 19 s late).
        self._turns_lock = threading.Lock()
        self._starting = 0  # turns being started now: no held reply may start
        self._partial = ""
        # "They wouldn't say that": corrections made in this session ride with each new line (the
        # prefix, which holds the earlier ones, must not change within a session).
        self.session_corrections: list[Correction] = []
        self.last_exchange: tuple[str, str] | None = None  # the last line the model answered, and its reply
        if closure:
            store.update_session_meta(self.session_id, closure_stage=closure_mod.STAGES[0].key)
        # Reads the next prompt ahead (while the user speaks, and between turns while they read and
        # type), when the model keeps a KV cache; typed and spoken turns alike.
        self.speculator = Speculator(self)

    # --- models ----------------------------------------------------------------------------------

    def warm_up(self) -> dict[str, float]:
        """Load every model and evaluate the persona prefix, so the first turn is as fast as the next."""
        times: dict[str, float] = {}
        if self.voice is not None:
            start = time.perf_counter()
            self.voice.transcriber.warm_up()
            times["stt"] = time.perf_counter() - start
            start = time.perf_counter()
            self.voice.synthesizer.warm_up()
            times["tts"] = time.perf_counter() - start
        start = time.perf_counter()
        self._care_loading.join()  # the crisis check's text models and classifier, read before the first line
        times["care"] = time.perf_counter() - start
        start = time.perf_counter()
        self.model.warm_up(self.prompt.prefix)
        times["llm"] = time.perf_counter() - start
        if self.speculator is not None:
            self.speculator.after_turn()  # the history so far (a resumed session) goes in too
        return times

    # --- turns -------------------------------------------------------------------------------------

    def start_turn(self, said: Utterance | str, options: GenerationOptions | None = None) -> Turn:
        """Answer a typed line or an utterance in the background; a turn still running is cut first.

        An utterance whose reply was started before the user finished (`on_settled`) gets that turn:
        it keeps what it computed when the final transcript is what it answered, else starts over.
        """
        with self._turns_lock:
            early, self.preemptive = self.preemptive, None
            running = self.current
            self._starting += 1
        try:
            if running is not None and not running.done:
                running.barge_in()
                running.finished()
            with self._turns_lock:
                if early is not None:
                    if isinstance(said, Utterance) and options is None and early.resolve(said):
                        self.current = early
                        return early
                    early.discard()
                self.current = Turn(self, said, options or self.options).start()
                return self.current
        finally:
            with self._turns_lock:
                self._starting -= 1

    def respond(self, said: Utterance | str, options: GenerationOptions | None = None) -> TurnRecord:
        """Answer and wait until the reply was shown (and played)."""
        return self.start_turn(said, options).wait()

    def reply(
        self,
        user_line: str,
        *,
        on_piece: Callable[[str], None] | None = None,
        cancel: CancelToken | None = None,
        seed: int | None = None,
        on_start: Callable[[], None] | None = None,
    ) -> TurnRecord:
        """A typed turn: `on_piece` gets the reply as it passes the checks, `on_start` its first words."""
        options = generation_options(self.settings, seed) if seed is not None else None
        turn = self.start_turn(user_line, options)
        if cancel is not None:

            def stop() -> None:
                turn.barge_in()

            cancel.on_cancel(stop)
        try:
            for event in turn.events():
                if isinstance(event, ReplyStarted) and on_start:
                    on_start()
                elif isinstance(event, ReplyPiece) and on_piece and event.text:
                    on_piece(event.text)
        except BaseException:
            turn.barge_in()
            raise
        return turn.wait()

    def barge_in(self) -> float | None:
        """The user talks, presses the talk key or Esc during a reply: stop it now."""
        now = self.current.barge_in() if self.current is not None and not self.current.done else None
        self.drop_preemptive()
        return now

    def on_partial(self, partial: str) -> None:
        """Hand to a Recorder/HandsFree: each partial transcript prefills the reply's prompt."""
        self._partial = partial
        early = self.preemptive
        if early is not None and not same_words(early.transcript, partial):
            self.drop_preemptive()  # the user went on: that reply answered a line they did not finish
        if self.speculator is not None:
            self.speculator.feed(partial, spoken=True)

    def on_typing(self, text: str) -> None:
        """The line being typed, as it changes: its words so far prefill the reply's prompt, as speech does
        (the last word is left out until the next one starts; the model reads while the user types)."""
        if self.speculator is not None and text.strip():
            self.speculator.feed(text)

    def on_settled(self, partial: str) -> None:
        """Hand to a Recorder/HandsFree: a partial transcript that heard all the speech so far.

        The user is silent (the key still down, or the hands-free endpoint not reached yet): the reply
        to these words starts now, held back (nothing shown, spoken or stored) until the utterance
        ends; `start_turn` keeps it when the final transcript is the same (`llm.preemptive`).
        """
        if not self.settings.llm.preemptive or self.voice is None or not partial.strip() or care.is_stop_word(partial):
            return
        with self._turns_lock:
            if self._starting or (self.current is not None and not self.current.done):
                return  # a turn is starting, or a reply is still being said: the model and the voice are busy
            early = self.preemptive
            if early is not None and same_words(early.transcript, partial):
                return
            self.preemptive = None
            if early is not None:
                early.discard()
            self.preemptive = Turn(self, partial, self.options, held=True).start()

    def drop_preemptive(self) -> None:
        """Discard a reply started early (the user went on, or a new turn began)."""
        with self._turns_lock:
            early, self.preemptive = self.preemptive, None
        if early is not None:
            early.discard()

    def take_partials(self, final: str) -> list[str]:
        """The latest partial transcript, when it heard words the final one lost (the crisis check reads it)."""
        partial, self._partial = self._partial, ""
        lost = set(partial.lower().split()) - set(final.lower().split())
        if " " not in partial.strip():  # CJK: characters, not words
            lost = set(partial) - set(final)
        return [partial] if partial.strip() and lost else []

    # --- what a turn is answered with ---------------------------------------------------------------

    def plan_turn(
        self, user_line: str, memories: list[Memory] | None = None, heard: Sequence[str] = (), *, apply: bool = True
    ) -> TurnPlan:
        """What answers this line: an out-of-character care reply, or the messages for the model.

        `memories`: those recalled while the user spoke (voice); `heard`: partial transcripts of this
        utterance, which the crisis check reads too. The closure hint rides inside the new user
        message, so the history kept for the next turn matches what the model saw (its KV cache holds).
        `apply=False` (a reply started before the user finished) leaves the session as it was until
        the turn is kept (`Turn` then sets `recent_lines`).
        """
        stepped_out = care.check_turn(
            user_line,
            them=self.prompt.them,
            country=self.settings.care.country,
            recent=[*self.recent_lines, *heard],
        )
        if stepped_out is not None and stepped_out.kind == "crisis":
            recent: list[str] = []  # what led here was answered: it does not flag the next line again
        else:
            recent = [*self.recent_lines, user_line][-care.CONTEXT_LINES :]
        if apply:
            self.recent_lines = recent
        if stepped_out is not None:
            return TurnPlan(user_line, [], [], stepped_out, recent)
        turn = self.prompt.turn(self.history, user_line, memories)
        last = turn.messages[-1]
        messages = [*turn.messages[:-1], {"role": "user", "content": self._with_hint(last["content"], final=True)}]
        return TurnPlan(user_line, messages, turn.memories, None, recent)

    def open_messages(self, memories: list[Memory], words_so_far: str | None = None) -> list[Message]:
        """The next prompt as far as it is known while the user speaks, its last message left open.

        With `words_so_far` None it ends after the retrieved exchanges (a text prefix of the final
        message whatever the user's line turns out to be); else it goes on to the words heard so far.
        """
        body = (
            self.prompt.memory_text(memories)
            if words_so_far is None
            else self.prompt.final_user_message(words_so_far, memories)
        )
        return [*self.prompt.with_history(self.history), {"role": "user", "content": self._with_hint(body)}]

    def avoided_replies(self) -> list[str]:
        """Replies the user marked as not them: the guard asks again rather than say one of them again."""
        return [c.reply for c in (*self.prompt.corrections, *self.session_corrections)]

    def _with_hint(self, content: str, *, final: bool = False) -> str:
        """The closure hint before the message; the session's corrections after it (`final` only: what is
        prefilled while the user speaks must stay a text prefix of the final message)."""
        if final:
            content += correction_note(self.session_corrections, self.prompt.them)
        if self.closure_stage is None:
            return content
        hint = closure_mod.stage(self.closure_stage).persona_hint.format(them=self.prompt.them, me=self.prompt.me)
        return f"({hint})\n\n{content}"

    def after_turn(self, plan: TurnPlan, heard: str, *, stepped_out: bool) -> None:
        """Keep the exchange for the next prompt (out-of-character answers stay out of the model's history).

        A typed turn keeps the user's message as the model read it (retrieved exchanges included), so
        the next turn reuses its KV cache; a voice session re-reads the history between turns anyway
        (its prefill) and keeps just the line, so the context grows by the words actually said.
        """
        if stepped_out:
            self.recent_lines = []
        else:
            if heard.strip():
                self.last_exchange = (plan.user_line, heard)
            prefilled = self.speculator is not None and self.speculator.enabled
            self.history.append((plan.user_line if prefilled else plan.messages[-1]["content"], heard))
        if self.speculator is not None:
            self.speculator.after_turn(plan.user_line if not stepped_out else "", heard)

    def not_them(self, better: str = "") -> Correction:
        """The user marks the last reply "they wouldn't say that" (with what they would have said).

        Stored with the persona: later sessions read it in their prefix; this one with each new line.
        """
        if self.last_exchange is None:
            raise NothingToCorrectError("There is no reply of theirs to mark yet.")
        line, reply = self.last_exchange
        correction = self.store.add_correction(self.prompt.persona, line, reply, better.strip())
        self.session_corrections.append(correction)
        return correction

    # --- care across the session ---------------------------------------------------------------------

    def nudge(self) -> str | None:
        """A gentle nudge once the session (or today in total) runs past `care.nudge_minutes`; once a session."""
        if self.nudged:
            return None
        session_minutes = (time.monotonic() - self.started) / 60
        today = minutes_on(datetime.now().astimezone().date(), self.store.list_sessions())
        text = nudge_text(session_minutes, today, self.settings.care.nudge_minutes)
        if text:
            self.nudged = True
            self.store.update_session_meta(self.session_id, nudged_at_min=round(session_minutes, 1))
        return text

    def closure_invitation(self) -> str | None:
        """What the current stage invites the user to do (None outside closure mode)."""
        if self.closure_stage is None:
            return None
        current = closure_mod.stage(self.closure_stage)
        return f"{current.title}: " + current.invitation.format(them=self.prompt.them, me=self.prompt.me)

    def advance_closure(self) -> str | None:
        """Move to the next stage of the arc; returns its invitation."""
        if self.closure_stage is None:
            return None
        self.closure_stage = min(self.closure_stage + 1, len(closure_mod.STAGES) - 1)
        self.store.update_session_meta(self.session_id, closure_stage=closure_mod.stage(self.closure_stage).key)
        return self.closure_invitation()

    def goodbye(self, write_letter: bool) -> Path | None:
        """The goodbye ritual: end the session and, if wanted, write the letter of what the user needed."""
        path = None
        if write_letter:
            said = [user for user, _ in self.store.history(self.session_id)]
            persona = self.store.get_persona(self.prompt.persona)
            text = closure_mod.letter_text(persona.me_name or "me", self.prompt.them, said)
            path = closure_mod.write_letter(self.store.persona_dir(persona.id), self.session_id, text)
        self.store.update_session_meta(self.session_id, closure_stage="done", letter=str(path) if path else None)
        self.end()
        return path

    def end(self) -> None:
        """Stop a running reply, the prefill and the speaker; the session is marked ended."""
        self.drop_preemptive()
        if self.current is not None and not self.current.done:
            self.current.barge_in()
            self.current.finished(5)
        if self.speculator is not None:
            self.speculator.close()
        self.store.end_session(self.session_id)
        if self.voice is not None:
            self.voice.speaker.close()

    close = end
