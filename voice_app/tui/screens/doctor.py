"""Doctor: the `voice-app doctor` checks, run in a worker, shown as a table."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import DataTable, LoadingIndicator, Static

from voice_app.core.textsafe import printable

if TYPE_CHECKING:
    from voice_app.tui.app import VoiceApp

Row = tuple[str, bool, bool, str, str | None]


class DoctorScreen(ModalScreen[None]):
    """What this machine can run, and what to fix."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape,q", "dismiss", "Close")]

    def compose(self) -> ComposeResult:
        with Vertical(id="doctor-box"):
            yield Static("[b]doctor[/]: what this machine can run  [dim](Esc closes)[/]")
            yield LoadingIndicator(id="doctor-loading")
            yield DataTable(id="doctor-table", cursor_type="row")

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        table.add_columns("check", "", "detail / fix")
        table.display = False
        self.run_checks()

    @work(thread=True, exit_on_error=False)
    def run_checks(self) -> None:
        vapp: VoiceApp = self.app  # type: ignore[assignment]
        try:
            rows = vapp.doctor_rows()
        except Exception as exc:  # noqa: BLE001
            rows = [("doctor", False, True, str(exc), None)]
        vapp.later(self.show, rows)

    def show(self, rows: list[Row]) -> None:
        self.query_one("#doctor-loading").display = False
        table = self.query_one(DataTable)
        table.display = True
        for name, ok, required, detail, fix in rows:
            mark = Text("ok", "green") if ok else Text("FAIL", "red") if required else Text("--", "yellow")
            text = Text(printable(detail + (f"\nfix: {fix}" if fix and not ok else "")))
            table.add_row(name, mark, text, height=None)
        table.focus()

    async def action_dismiss(self, result: None = None) -> None:
        self.dismiss(result)
