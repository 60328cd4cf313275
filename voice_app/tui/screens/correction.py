""" "They wouldn't say that": what they would have said instead (optional); Enter saves, Esc cancels."""

from __future__ import annotations

from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Static

from voice_app.core.textsafe import safe


class NotThemDialog(ModalScreen[str | None]):
    """Asks what they would have said; an empty answer still marks the reply."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, them: str, reply: str) -> None:
        super().__init__()
        self.them = them
        self.reply = reply

    def compose(self) -> ComposeResult:
        with Vertical(id="not-them-box"):
            yield Static(f"[b]{safe(self.them)} wouldn't say that:[/] {safe(self.reply)}")
            yield Static(f"What would {safe(self.them)} have said? (optional; Enter saves, Esc cancels)")
            yield Input(placeholder="their words, or leave empty", id="better")

    def on_mount(self) -> None:
        self.query_one("#better", Input).focus()

    @on(Input.Submitted, "#better")
    def _submitted(self, event: Input.Submitted) -> None:
        self.dismiss(event.value.strip())

    def action_cancel(self) -> None:
        self.dismiss(None)
