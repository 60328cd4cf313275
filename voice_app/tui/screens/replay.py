"""Replay: a session's turns, play/pause (audio when there is a speaker and a recording), jump, export."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any, ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen, Screen
from textual.widgets import Footer, OptionList, Static
from textual.widgets.option_list import Option

from voice_app.core.textsafe import printable, safe
from voice_app.tui.screens.home import short_stamp
from voice_app.tui.widgets import StageBar

if TYPE_CHECKING:
    from voice_app.tui.app import VoiceApp

EXPORT_FORMATS = (("md", "Markdown"), ("html", "HTML, audio embedded"), ("json", "JSON"), ("wav", "WAV, both voices"))


class ExportDialog(ModalScreen[str | None]):
    """Choose a format; Esc cancels."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel")]

    def compose(self) -> ComposeResult:
        with Vertical(id="export-box"):
            yield Static("[b]Export this session[/] as:")
            yield OptionList(*[Option(f"{fmt:5} {label}", id=fmt) for fmt, label in EXPORT_FORMATS], id="formats")

    @on(OptionList.OptionSelected, "#formats")
    def _chosen(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)

    def action_cancel(self) -> None:
        self.dismiss(None)


class ReplayScreen(Screen[None]):
    """Both sides of a saved session, in order; the turn being played is highlighted."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("space", "play_pause", "Play/pause"),
        Binding("enter", "jump", "Play from here", show=True),
        Binding("e", "export", "Export"),
        Binding("escape", "back", "Back"),
    ]

    STEP_S = 0.04  # seconds per character when a line has no audio (text-only replay)

    def __init__(self, session_id: int) -> None:
        super().__init__()
        self.session_id = session_id
        self.turns: list[dict[str, Any]] = []
        self.playing = False
        self.position = 0  # index in self.turns
        self._resume = threading.Event()
        self._stop = threading.Event()
        self.step_s = self.STEP_S
        self.exported: str | None = None

    @property
    def vapp(self) -> VoiceApp:
        return self.app  # type: ignore[return-value]

    def compose(self) -> ComposeResult:
        yield Static("", id="replay-title")
        yield Static("", id="replay-note")
        yield OptionList(id="turns")
        with Vertical(id="replay-bottom"):
            yield Static("", id="replay-state")
            yield StageBar(id="replay-stages")
        yield Footer()

    def on_mount(self) -> None:
        services = self.vapp.services
        info = services.session(self.session_id)
        self.them, self.me = services.names(info.persona)
        self.turns = services.turns(self.session_id)
        self.query_one("#replay-title", Static).update(
            f"[b]Session {info.id}[/] · {safe(self.them)} [dim](persona {safe(info.persona)})[/]"
            f" · {short_stamp(info.started_at)} · {info.turns} turns · {info.duration_s / 60:.0f} min"
            f" · {safe(info.model or '?')}"
        )
        from voice_app.conversation.sessions import SIMULATION_NOTE

        self.query_one("#replay-note", Static).update(safe(SIMULATION_NOTE.format(them=self.them)))
        options = self.query_one("#turns", OptionList)
        for i, turn in enumerate(self.turns):
            options.add_option(Option(self._turn_text(turn), id=str(i)))
        if self.turns:
            options.highlighted = 0
            self._show(0)
        else:
            self._status("This session has no turns.")
        options.focus()

    def _turn_text(self, turn: dict[str, Any]) -> Text:
        text = Text()
        text.append(printable(f"[{turn['idx']}] {self.me}: "), style="bold")
        text.append(printable(turn["user_text"] or "(no words recognised)") + "\n")
        text.append(printable(f"    {self.them}: "), style="bold")
        reply = turn["reply_text"] or ""
        if turn["status"] != "complete":
            reply += " (the session ended before this reply finished)"
        elif turn["interrupted"]:
            reply += " (you interrupted)"
        text.append(printable(reply or "(no reply)"))
        return text

    def _show(self, index: int) -> None:
        self.position = index
        turn = self.turns[index]
        self.query_one("#replay-stages", StageBar).timeline = turn.get("timeline") or {}
        self._status(self._state_text())

    def _state_text(self) -> str:
        where = f"turn {self.position + 1} of {len(self.turns)}"
        return ("▶ playing " if self.playing else "⏸ paused ") + where

    def _status(self, text: str) -> None:
        self.query_one("#replay-state", Static).update(text)

    @on(OptionList.OptionHighlighted, "#turns")
    def _highlighted(self, event: OptionList.OptionHighlighted) -> None:
        if event.option.id is not None and not self.playing:
            self._show(int(event.option.id))

    @on(OptionList.OptionSelected, "#turns")
    def _selected(self, event: OptionList.OptionSelected) -> None:
        self.action_jump()

    # --- playback ------------------------------------------------------------------------------

    def action_play_pause(self) -> None:
        if not self.turns:
            return
        if self.playing:
            self.playing = False
            self._resume.clear()
        else:
            self.playing = True
            self._resume.set()
            if not any(w.group == "play" and w.is_running for w in self.workers):
                self._play(self.position)
        self._status(self._state_text())

    def action_jump(self) -> None:
        """Play from the highlighted turn."""
        options = self.query_one("#turns", OptionList)
        if options.highlighted is None:
            return
        self._stop.set()
        self.workers.cancel_group(self, "play")
        self._stop = threading.Event()
        self.playing = True
        self._resume.set()
        self._show(options.highlighted)
        self._play(options.highlighted)

    @work(thread=True, group="play", exit_on_error=False)
    def _play(self, start: int) -> None:
        import time

        from textual.worker import get_current_worker

        worker = get_current_worker()
        stop = self._stop
        player = self.vapp.services.audio_player()

        def stopped() -> bool:
            return stop.is_set() or worker.is_cancelled

        for index in range(start, len(self.turns)):
            turn = self.turns[index]
            if stopped():
                return
            self.vapp.later(self._playing, index)
            for text, ref in ((turn["user_text"], turn["user_audio"]), (turn["reply_text"], turn["reply_audio"])):
                while not self._resume.wait(0.05):  # paused: wake up to notice a stop or the app closing
                    if stopped():
                        return
                if stopped():
                    return
                audio = self.vapp.services.read_audio(ref) if player is not None and ref else None
                if audio is not None and player is not None:
                    samples, rate = audio
                    player(samples, rate)
                else:
                    deadline = time.monotonic() + max(0.3, len(text or "") * self.step_s)
                    while time.monotonic() < deadline and not stopped():
                        time.sleep(0.02)
        if not stopped():
            self.vapp.later(self._finished)

    def _playing(self, index: int) -> None:
        options = self.query_one("#turns", OptionList)
        options.highlighted = index
        self._show(index)

    def _finished(self) -> None:
        self.playing = False
        self._status(f"⏹ end of session ({len(self.turns)} turns)")

    # --- export ---------------------------------------------------------------------------------

    def action_export(self) -> None:
        self.app.push_screen(ExportDialog(), self._export_chosen)

    def _export_chosen(self, fmt: str | None) -> None:
        if fmt:
            self._export(fmt)

    @work(thread=True, group="export", exit_on_error=False)
    def _export(self, fmt: str) -> None:
        try:
            path = self.vapp.services.export(self.session_id, fmt)
        except Exception as exc:  # noqa: BLE001
            self.vapp.later(self.notify, f"Export failed: {safe(getattr(exc, 'message', exc))}", severity="error")
            return
        self.exported = str(path)
        self.vapp.later(self.notify, f"Exported to {safe(path)}")

    def action_back(self) -> None:
        self.app.pop_screen()

    def on_unmount(self) -> None:
        self._stop.set()
        self._resume.set()
