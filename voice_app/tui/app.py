"""The Textual app: screens, bindings, command palette entries, themes."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, ClassVar

from textual.app import App, SystemCommand
from textual.binding import Binding, BindingType
from textual.message import Message
from textual.screen import Screen

from voice_app.conversation.engine import ConversationEngine
from voice_app.conversation.services import MachineStatus, Services
from voice_app.core import config
from voice_app.tui.screens import DoctorScreen, HomeScreen, ImportScreen, PersonaScreen, ReplayScreen, TalkScreen

DARK, LIGHT = "textual-dark", "textual-light"


class VoiceApp(App[int]):
    """voice-app: home, import, persona, talk and replay. Keyboard-first; models load in workers."""

    CSS_PATH = "app.tcss"
    TITLE = "voice-app"
    SUB_TITLE = "a simulation built from old messages, for closure; everything stays on this machine"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("f2", "toggle_theme", "Light/dark"),
        Binding("ctrl+q", "quit", "Quit", priority=True),
    ]

    def __init__(
        self,
        services: Services,
        *,
        persona: str | None = None,
        talk: bool = False,
        engine_factory: Callable[[str], ConversationEngine] | None = None,
        status: MachineStatus | None = None,
        doctor_rows: list[tuple[str, bool, bool, str, str | None]] | None = None,
    ) -> None:
        super().__init__()
        self.services = services
        self.start_persona = persona
        self.start_talk = talk
        self.engine_factory = engine_factory
        self._fixed_status = status
        self._fixed_doctor = doctor_rows
        self.theme = DARK

    class Call(Message):
        """Run a function on the UI thread (posted from a worker; never waits, dropped once the app closes)."""

        def __init__(self, fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
            super().__init__()
            self.fn = fn
            self.args = args
            self.kwargs = kwargs

    def later(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
        """From a worker thread: show a result on the UI thread without blocking the worker."""
        self.post_message(self.Call(fn, args, kwargs))

    def on_voice_app_call(self, message: Call) -> None:
        message.fn(*message.args, **message.kwargs)

    def on_mount(self) -> None:
        self.push_screen(HomeScreen())
        if self.start_talk and self.start_persona:
            self.open_talk(self.start_persona)

    # --- navigation --------------------------------------------------------------------------------

    def open_talk(self, persona: str) -> None:
        self.push_screen(TalkScreen(persona))

    def open_persona(self, persona: str) -> None:
        self.push_screen(PersonaScreen(persona))

    def open_import(self) -> None:
        self.push_screen(ImportScreen())

    def open_replay(self, session_id: int) -> None:
        self.push_screen(ReplayScreen(session_id))

    def open_doctor(self) -> None:
        self.push_screen(DoctorScreen())

    def go_home(self) -> None:
        while len(self.screen_stack) > 2:  # the default screen, then home
            self.pop_screen()

    def home(self) -> HomeScreen | None:
        for screen in self.screen_stack:
            if isinstance(screen, HomeScreen):
                return screen
        return None

    def refresh_home(self) -> None:
        home = self.home()
        if home is not None:
            home.reload()

    def refresh_status(self) -> None:
        home = self.home()
        if home is not None:
            home.load_status()

    # --- data the screens show (fixed in tests) -------------------------------------------------------

    def machine_status(self) -> MachineStatus:
        return self._fixed_status if self._fixed_status is not None else self.services.machine_status()

    def doctor_rows(self) -> list[tuple[str, bool, bool, str, str | None]]:
        return self._fixed_doctor if self._fixed_doctor is not None else self.services.doctor()

    # --- actions and the command palette ----------------------------------------------------------------

    def action_toggle_theme(self) -> None:
        self.theme = LIGHT if self.theme == DARK else DARK

    def action_hands_free(self) -> None:
        settings = self.services.settings
        mode = "push_to_talk" if settings.audio.mode == "hands_free" else "hands_free"
        settings.set("audio.mode", mode)
        config.save(settings)
        self.notify(f"Voice input: {mode.replace('_', '-')} (from the next conversation).")

    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        yield SystemCommand("Home", "Back to personas and sessions", self.go_home)
        yield SystemCommand("Import a chat export", "Inspect a file, choose who is them, import", self.open_import)
        yield SystemCommand("Doctor", "Check models, audio devices and backends", self.open_doctor)
        yield SystemCommand("Light/dark theme", "Switch between the dark and the light theme", self.action_toggle_theme)
        yield SystemCommand(
            "Hands-free / push-to-talk", "Switch how voice input ends a turn (a setting)", self.action_hands_free
        )
        for row in self.services.personas():
            name = row["name"]
            yield SystemCommand(f"Talk with {name}", f"A conversation with {row['them_name']}", self._talk_to(name))
            yield SystemCommand(f"Edit persona {name}", "The card and the style profile", self._edit(name))
        if isinstance(screen, TalkScreen):
            yield SystemCommand("End session", "End and save this conversation", screen.action_end_session)
            yield SystemCommand("Interrupt", "Stop the reply now", screen.action_interrupt)
            yield SystemCommand("Talk (start/stop)", "Push-to-talk", screen.action_talk)
        if isinstance(screen, ReplayScreen):
            yield SystemCommand("Export session", "md, html, json or wav", screen.action_export)

    def _talk_to(self, name: str) -> Callable[[], None]:
        return lambda: self.open_talk(name)

    def _edit(self, name: str) -> Callable[[], None]:
        return lambda: self.open_persona(name)
