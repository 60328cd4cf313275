"""A text conversation with a persona: one saved session, streamed replies, timed turns."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from voice_app import care
from voice_app.care import closure as closure_mod
from voice_app.care.reply import ReplyScreen, replaced_reply_text
from voice_app.conversation.persona_data import build_prompt
from voice_app.core import config
from voice_app.core.cancel import CancelToken
from voice_app.llm import ChatModel, generation_options, open_chat_model
from voice_app.llm.base import Message
from voice_app.persona.guard import in_character
from voice_app.persona.prompt import PersonaPrompt, in_their_words
from voice_app.storage.store import Store


@dataclass
class TurnResult:
    """One reply and how long it took."""

    turn_id: int
    reply: str
    ttft_s: float
    total_s: float
    cancelled: bool
    timeline: dict[str, float] = field(default_factory=dict)
    care: str | None = None  # "crisis" | "honesty" when the app stepped out of character
    memories: list[dict[str, Any]] = field(default_factory=list)  # the real past exchanges it drew on


@dataclass(frozen=True)
class TurnPlan:
    """How one line will be answered."""

    user_line: str
    messages: list[Message]  # empty when `care` answers instead of the model
    memories: list[dict[str, Any]]
    care: care.CareReply | None


def _calling_once(pieces: Iterator[str], callback: Callable[[], None] | None) -> Iterator[str]:
    """The same pieces, with `callback` called as the first one arrives."""
    try:
        for piece in pieces:
            if callback is not None:
                callback()
                callback = None
            yield piece
    finally:
        pieces.close()  # type: ignore[attr-defined]


class ChatSession:
    """Holds the model, the fixed persona prefix and the session row; saves every turn as it goes."""

    def __init__(
        self,
        store: Store,
        persona: str,
        *,
        settings: config.Settings | None = None,
        model: ChatModel | None = None,
        mode: str = "text",
        closure: bool = False,
    ) -> None:
        self.store = store
        self.settings = settings or config.load()
        self.model = model or open_chat_model(self.settings, encrypted=store.encryption_state != "off")
        self.prompt: PersonaPrompt = build_prompt(store, persona)
        self.session_id = store.start_session(persona, mode, self.model.info.backend, self.model.info.model)
        self.history: list[tuple[str, str]] = []
        self.started = time.monotonic()
        self.nudged = False
        self.closure_stage: int | None = 0 if closure else None
        # The user's lines since the last crisis exit: the crisis check reads the new line with them.
        self.recent_lines: list[str] = []
        if closure:
            store.update_session_meta(self.session_id, closure_stage=closure_mod.STAGES[0].key)

    def warm_up(self) -> float:
        """Evaluate the persona prefix now, so the first reply starts fast; returns seconds spent."""
        start = time.perf_counter()
        self.model.warm_up(self.prompt.prefix)
        return time.perf_counter() - start

    def plan_turn(
        self, user_line: str, memories: list[dict[str, Any]] | None = None, heard: Sequence[str] = ()
    ) -> TurnPlan:
        """What answers this line: an out-of-character care reply, or the messages for the model.

        Shared by text replies and voice turns (which pass the `memories` recalled while the user
        spoke, and in `heard` the partial transcripts of this utterance, which the crisis check reads
        too). The closure hint rides inside the new user message, so the history kept for the next
        turn matches what the model saw and its KV cache stays valid.
        """
        stepped_out = care.check_turn(
            user_line,
            them=self.prompt.them,
            country=self.settings.care.country,
            recent=[*self.recent_lines, *heard],
        )
        if stepped_out is not None and stepped_out.kind == "crisis":
            self.recent_lines = []  # what led here was answered: it does not flag the next line again
        else:
            self.recent_lines = [*self.recent_lines, user_line][-care.CONTEXT_LINES :]
        if stepped_out is not None:
            return TurnPlan(user_line, [], [], stepped_out)
        turn = self.prompt.turn(self.history, user_line, memories)
        last = turn.messages[-1]
        messages = [*turn.messages[:-1], {"role": "user", "content": self._with_hint(last["content"])}]
        return TurnPlan(user_line, messages, turn.memories, None)

    def open_messages(self, memories: list[dict[str, Any]], words_so_far: str | None = None) -> list[Message]:
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

    def _with_hint(self, content: str) -> str:
        if self.closure_stage is None:
            return content
        hint = closure_mod.stage(self.closure_stage).persona_hint.format(them=self.prompt.them, me=self.prompt.me)
        return f"({hint})\n\n{content}"

    def remember(self, plan: TurnPlan, heard: str, *, with_examples: bool = True) -> None:
        """Keep the exchange for the next turn's prompt (care replies stay out of the model's history).

        By default the user's message is kept as the model read it (retrieved exchanges included), so
        the next turn reuses its KV cache. A voice session re-reads the history between turns anyway
        (its prefill), and keeps just the line: the context then grows by the words actually said.
        """
        if plan.care is None:
            self.history.append((plan.messages[-1]["content"] if with_examples else plan.user_line, heard))

    def reply(
        self,
        user_line: str,
        *,
        on_piece: Callable[[str], None] | None = None,
        cancel: CancelToken | None = None,
        seed: int | None = None,
        on_start: Callable[[], None] | None = None,
    ) -> TurnResult:
        """Answer one line; the turn is stored before generation (partial) and completed after.

        `on_piece` gets the reply as it passes the reply check (a clause at a time); `on_start` is
        called once when the model's first words arrive, before that check.
        """
        start = time.perf_counter()
        turn_id = self.store.begin_turn(self.session_id, user_line)
        plan = self.plan_turn(user_line)
        if plan.care is not None:  # answered without calling the model
            if on_piece:
                on_piece(plan.care.text)
            elapsed = time.perf_counter() - start
            timeline = {"first_token": round(elapsed, 4), "last_token": round(elapsed, 4)}
            self.store.complete_turn(
                turn_id, reply_text=plan.care.text, backend="care", timeline=timeline, care=plan.care.kind
            )
            return TurnResult(turn_id, plan.care.text, elapsed, elapsed, False, timeline, plan.care.kind)
        pieces: list[str] = []
        first: float | None = None
        # An exception (model down, Ctrl-C) leaves the turn 'partial': the user's line is kept.
        options = generation_options(self.settings, seed)
        # No "Name:" labels shown or kept, in their typing habits, a word behind the model; each clause
        # checked for self-harm content before it is shown.
        screen = ReplyScreen()
        them = self.prompt.them
        written = _calling_once(in_character(self.model, plan.messages, options, cancel, them), on_start)
        stream = screen.screen(in_their_words(written, self.prompt))
        try:
            for piece in stream:
                if first is None:
                    first = time.perf_counter() - start
                pieces.append(piece)
                if on_piece and piece:
                    on_piece(piece)
        finally:
            stream.close()  # a reply left early releases the model now
        total = time.perf_counter() - start
        text = "".join(pieces).strip()
        cancelled = bool(cancel and cancel.cancelled)
        timeline = {"first_token": round(first if first is not None else total, 4), "last_token": round(total, 4)}
        if screen.harmful is not None:  # the model began to encourage or describe self-harm: stopped there
            replaced = replaced_reply_text(user_line, self.settings.care.country, self.prompt.them)
            if on_piece:
                on_piece(("\n" if text else "") + replaced)
            self.store.complete_turn(
                turn_id,
                reply_text=replaced,
                reply_full=text,
                backend=self.model.info.backend,
                model=self.model.info.model,
                timeline=timeline,
                memories=plan.memories,
                care="crisis",
            )
            self.recent_lines = []
            ttft = first if first is not None else total
            return TurnResult(turn_id, replaced, ttft, total, False, timeline, "crisis", plan.memories)
        self.store.complete_turn(
            turn_id,
            reply_text=text,
            interrupted=cancelled,
            backend=self.model.info.backend,
            model=self.model.info.model,
            timeline=timeline,
            memories=plan.memories,
        )
        self.remember(plan, text)
        ttft = first if first is not None else total
        return TurnResult(turn_id, text, ttft, total, cancelled, timeline, memories=plan.memories)

    def nudge(self) -> str | None:
        """A gentle nudge once the session (or today in total) runs past `care.nudge_minutes`; once a session."""
        if self.nudged:
            return None
        from datetime import datetime

        from voice_app.care.usage import minutes_on, nudge_text

        session_minutes = (time.monotonic() - self.started) / 60
        today = minutes_on(datetime.now().astimezone().date(), self.store.list_sessions())
        text = nudge_text(session_minutes, today, self.settings.care.nudge_minutes)
        if text:
            self.nudged = True
            self.store.update_session_meta(self.session_id, nudged_at_min=round(session_minutes, 1))
        return text

    # --- closure mode ------------------------------------------------------------------------

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
        self.store.end_session(self.session_id)
