"""Talk: the transcript with replies streaming in, push-to-talk, state, latency, memories, typed input."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, ClassVar

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Footer, Input, Static

from voice_app.conversation import engine as eng
from voice_app.core.textsafe import safe
from voice_app.tui.screens.correction import NotThemDialog
from voice_app.tui.widgets import Bubble, LevelMeter, MemoriesPanel, StageBar, StateIndicator, Transcript

if TYPE_CHECKING:
    from voice_app.conversation.listening import Utterance
    from voice_app.tui.app import VoiceApp

EngineFactory = Callable[[str], eng.ConversationEngine]


class TalkScreen(Screen[None]):
    """A conversation with one persona. The engine runs in worker threads; this screen only renders."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+r", "talk", "Talk (start/stop)"),
        Binding("space", "talk", "Talk", show=False),
        Binding("escape", "interrupt", "Interrupt"),
        Binding("ctrl+g", "end_session", "End (goodbye)"),
        Binding("ctrl+o", "toggle_memories", "Memories"),
        Binding("ctrl+n", "not_them", "Not them"),
        Binding("ctrl+t", "focus_input", "Type", show=False),
    ]

    class State(Message):
        bubble = False

        def __init__(self, state: str) -> None:
            super().__init__()
            self.state = state

    class UserLine(Message):
        bubble = False

        def __init__(self, seq: int, text: str) -> None:
            super().__init__()
            self.seq = seq
            self.text = text

    class Piece(Message):
        bubble = False

        def __init__(self, seq: int, text: str) -> None:
            super().__init__()
            self.seq = seq
            self.text = text

    class TurnDone(Message):
        bubble = False

        def __init__(self, seq: int, view: eng.TurnView) -> None:
            super().__init__()
            self.seq = seq
            self.view = view

    class Failed(Message):
        bubble = False

        def __init__(self, text: str) -> None:
            super().__init__()
            self.text = text

    class Loaded(Message):
        bubble = False

    class Stage(Message):
        bubble = False

        def __init__(self, text: str) -> None:
            super().__init__()
            self.text = text

    def __init__(self, persona: str, engine_factory: EngineFactory | None = None) -> None:
        super().__init__()
        self.persona = persona
        self._engine_factory = engine_factory
        self.engine: eng.ConversationEngine | None = None
        self._seq = 0
        self._pending = 0  # turns started and not yet done
        self._users: dict[int, Bubble] = {}  # per turn: the user's line and the reply as it grows
        self._replies: dict[int, Bubble] = {}
        self._last_reply: Bubble | None = None  # their last reply in character (ctrl+n marks it)
        self.turns: list[eng.TurnView] = []
        self.turn_running = False
        self.ended = False

    @property
    def vapp(self) -> VoiceApp:
        return self.app  # type: ignore[return-value]

    def compose(self) -> ComposeResult:
        them, _ = self.vapp.services.names(self.persona)
        with Horizontal(id="talk-top"):
            yield Static(f"[b]{safe(them)}[/] [dim](simulation · persona {safe(self.persona)})[/]", id="talk-title")
            yield StateIndicator(id="state")
            yield LevelMeter(id="level")
        with Horizontal(id="talk-main"):
            yield Transcript(id="transcript")
            with Vertical(id="talk-side"):
                yield StageBar(id="stages")
                yield MemoriesPanel(id="memories")
        yield Static("", id="talk-hint")
        yield Input(placeholder="Type a line and press Enter (always works)", id="say")
        yield Footer()

    # --- lifecycle -------------------------------------------------------------------------------

    def on_mount(self) -> None:
        services = self.vapp.services
        factory = self._engine_factory or self.vapp.engine_factory
        self.engine = (
            factory(self.persona)
            if factory is not None
            else eng.open_engine(services.store, self.persona, services.settings)
        )
        self.query_one(MemoriesPanel).them = self.engine.them
        self.query_one(MemoriesPanel).me = self.engine.me
        transcript = self.query_one(Transcript)
        transcript.note(self.engine.reminder)
        self._hint("loading the model… you can already type; your line is answered once it is ready.")
        self.query_one("#say", Input).focus()
        self.set_interval(0.1, self._poll_level)
        self._load()

    @work(thread=True, group="load", exit_on_error=False)
    def _load(self) -> None:
        assert self.engine is not None
        try:
            self.engine.load(on_stage=lambda text: self.post_message(self.Stage(text)))
        except Exception as exc:  # noqa: BLE001 - shown on screen, the app keeps running
            self.post_message(self.Failed(_error_text(exc)))
            return
        self.post_message(self.Loaded())

    def on_talk_screen_stage(self, message: Stage) -> None:
        self._hint(message.text + "…")

    def on_talk_screen_loaded(self, _: Loaded) -> None:
        assert self.engine is not None
        if not self.turn_running:
            self._set_state(eng.READY)
        if self.engine is not None and self.engine.voice and self.engine.hands_free:
            self._start_hands_free()
        voice = "space or ctrl+r to talk, " if self.engine.voice else ""
        if self.engine is not None and self.engine.voice and self.engine.hands_free:
            voice = "hands-free: just speak, "
        self._hint(f"{self.engine.model_label} · {voice}Enter sends a typed line, Esc interrupts, ctrl+g ends.")
        if self.engine.voice_notice:
            self.query_one(Transcript).note(self.engine.voice_notice)
        self.vapp.refresh_status()

    class Heard(Message):
        """Hands-free: the VAD ended an utterance."""

        bubble = False

        def __init__(self, utterance: Utterance) -> None:
            super().__init__()
            self.utterance = utterance

    def _start_hands_free(self) -> None:
        assert self.engine is not None and self.engine.voice
        try:
            self.engine.start_hands_free(lambda utterance: self.post_message(self.Heard(utterance)))
        except Exception as exc:  # noqa: BLE001 - typed input still works
            self.notify(f"Hands-free is unavailable: {safe(_error_text(exc))}", severity="warning")
            return
        self._set_state(eng.LISTENING)

    def _hands_free_on(self) -> bool:
        return self.engine is not None and self.engine.voice and self.engine.listener is not None

    def on_talk_screen_heard(self, message: Heard) -> None:
        self.say(message.utterance)

    def on_talk_screen_failed(self, message: Failed) -> None:
        self._pending = max(0, self._pending - 1)
        self.turn_running = False
        self._set_state("error")
        self.query_one(Transcript).note(message.text).add_class("error")
        self.notify(safe(message.text), severity="error", timeout=8)

    # --- typed input -----------------------------------------------------------------------------

    @on(Input.Changed, "#say")
    def _typing(self, event: Input.Changed) -> None:
        if self.engine is not None and not self.ended and not self.turn_running:
            self.engine.typing(event.value)

    @on(Input.Submitted, "#say")
    def _submitted(self, event: Input.Submitted) -> None:
        text = event.value.strip()
        event.input.value = ""
        if not text or self.ended:
            return
        self.say(text)

    def say(self, said: Utterance | str) -> None:
        """Answer a typed line (str) or an utterance; a reply still running is interrupted first."""
        if self.engine is None or self.ended:
            return
        if self.turn_running:
            self.engine.interrupt()
        self.turn_running = True
        self._pending += 1
        self._seq += 1
        if isinstance(said, str):  # a typed line shows at once, even while the model still loads
            self._show_user(self._seq, said)
        if self.engine.ready.is_set() is False:
            self._set_state(eng.LOADING)
        self._respond(self._seq, said)

    @work(thread=True, group="turn", exit_on_error=False)
    def _respond(self, seq: int, said: Utterance | str) -> None:
        assert self.engine is not None
        callbacks = eng.TurnCallbacks(
            on_state=lambda s: self.post_message(self.State(s)),
            on_user=lambda t: self.post_message(self.UserLine(seq, t)),
            on_piece=lambda p: self.post_message(self.Piece(seq, p)),
        )
        try:
            view = self.engine.respond(said, callbacks)
        except Exception as exc:  # noqa: BLE001 - shown on screen
            self.post_message(self.Failed(_error_text(exc)))
            return
        self.post_message(self.TurnDone(seq, view))

    def _show_user(self, seq: int, text: str) -> None:
        assert self.engine is not None
        transcript = self.query_one(Transcript)
        self._users[seq] = transcript.user(self.engine.me, text or "(nothing was heard)")
        if text:
            self._replies[seq] = transcript.reply(self.engine.them)

    def on_talk_screen_state(self, message: State) -> None:
        state = message.state
        if state == eng.READY and self._hands_free_on():
            state = eng.LISTENING  # hands-free: the microphone is open again once a turn is over
        self._set_state(state)

    def on_talk_screen_user_line(self, message: UserLine) -> None:
        if message.seq not in self._users:  # spoken: the transcript is known only now
            self._show_user(message.seq, message.text)

    def on_talk_screen_piece(self, message: Piece) -> None:
        reply = self._replies.get(message.seq)
        if reply is None:
            assert self.engine is not None
            reply = self._replies[message.seq] = self.query_one(Transcript).reply(self.engine.them)
        reply.append(message.text)
        self.query_one(Transcript).follow()

    def on_talk_screen_turn_done(self, message: TurnDone) -> None:
        view = message.view
        self.turns.append(view)
        self._users.pop(message.seq, None)
        reply = self._replies.pop(message.seq, None)
        if reply is not None:
            if view.reply and view.reply != reply.text:
                # what was heard (after a barge-in), not what was generated; no space after the last word
                reply.set_text(view.reply)
            if view.interrupted:
                reply.mark("interrupted")
            if view.care:
                reply.mark("out of character: " + view.care)
                reply.add_class("care")
            elif view.reply.strip():
                self._last_reply = reply
        self.query_one(StageBar).timeline = view.timeline
        self.query_one(MemoriesPanel).show(view.memories)
        self._pending = max(0, self._pending - 1)
        if self.engine is not None and self.engine.ready.is_set() and not self._pending:
            self.turn_running = False
            self._set_state(eng.LISTENING if self._hands_free_on() else eng.READY)
            self.engine.typing(self.query_one("#say", Input).value)  # typed during the reply: read it now
        nudge = self._nudge()
        if nudge:
            self.query_one(Transcript).note(nudge)

    def _nudge(self) -> str | None:
        chat = getattr(self.engine, "chat", None)
        try:
            return chat.nudge() if chat is not None else None
        except Exception:  # noqa: BLE001 - a nudge must never break the conversation
            return None

    # --- actions ---------------------------------------------------------------------------------

    def action_talk(self) -> None:
        """Push-to-talk: the first press starts recording, the next stops it and sends the utterance."""
        engine = self.engine
        if engine is None or self.ended:
            return
        if not engine.voice:
            self.notify("No microphone here: type your line and press Enter.", severity="warning")
            self.query_one("#say", Input).focus()
            return
        if not engine.ready.is_set():
            self.notify("Still loading the models…")
            return
        if self._hands_free_on():
            engine.interrupt()  # hands-free listens all the time: the key only stops a reply
            return
        if engine.recording:
            utterance = engine.stop_recording()
            self.query_one(LevelMeter).recording = False
            self.say(utterance)
        else:
            engine.start_recording()
            self.query_one(LevelMeter).recording = True
            self._set_state(eng.LISTENING)

    def action_interrupt(self) -> None:
        if self.engine is not None and self.turn_running:
            self.engine.interrupt()
            self.notify("Interrupted.", timeout=2)

    def action_not_them(self) -> None:
        """Mark their last reply "they wouldn't say that", with what they would have said (optional)."""
        reply = self._last_reply
        if self.engine is None or reply is None or self.ended:
            self.notify("No reply of theirs to mark yet.", severity="warning")
            return

        def chosen(better: str | None) -> None:
            if better is None or self.engine is None:
                return
            correction = self.engine.not_them(better)
            reply.mark("not them" + (f": {better}" if better else ""))
            self.notify(f"Saved (correction {correction.id}): later replies follow it.", timeout=4)

        self.app.push_screen(NotThemDialog(self.engine.them, reply.text), chosen)

    def action_toggle_memories(self) -> None:
        side = self.query_one("#talk-side")
        side.display = not side.display

    def action_focus_input(self) -> None:
        self.query_one("#say", Input).focus()

    def action_end_session(self) -> None:
        if self.ended:
            self.app.pop_screen()
            return
        self.ended = True
        self._set_state("ended")
        self.query_one("#say", Input).disabled = True
        self.query_one(Transcript).note("Session ended. It is saved; replay it from the home screen.")
        self._end()

    @work(thread=True, group="end", exit_on_error=False)
    def _end(self) -> None:
        if self.engine is not None:
            self.engine.end()
        self.vapp.later(self._after_end)

    def _after_end(self) -> None:
        self.vapp.refresh_home()
        if self.is_current:
            self.app.pop_screen()

    def on_unmount(self) -> None:
        # Leaving the app mid-conversation: stop the reply, close the microphone and its threads, end the session.
        if self.engine is not None and not self.ended:
            self.engine.interrupt()
            self.engine.end()

    # --- helpers ---------------------------------------------------------------------------------

    def _set_state(self, state: str) -> None:
        self.query_one(StateIndicator).state = state

    def _hint(self, text: str) -> None:
        self.query_one("#talk-hint", Static).update(text)

    def _poll_level(self) -> None:
        if self.engine is None:
            return
        meter = self.query_one(LevelMeter)
        meter.level = self.engine.level
        meter.recording = self.engine.recording


def _error_text(exc: BaseException) -> str:
    message = getattr(exc, "message", None) or str(exc) or type(exc).__name__
    fix = getattr(exc, "fix", None)
    return f"{message}" + (f"  fix: {fix}" if fix else "")
