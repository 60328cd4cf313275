"""Home: personas, recent sessions, import and doctor, and a status line about this machine."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, Static

from voice_app.conversation.services import MachineStatus
from voice_app.core.textsafe import printable

if TYPE_CHECKING:
    from voice_app.tui.app import VoiceApp


def short_stamp(stamp: str | None) -> str:
    """An ISO stamp as 'YYYY-MM-DD HH:MM' in local time ('-' when missing)."""
    if not stamp:
        return "-"
    from datetime import datetime

    try:
        return datetime.fromisoformat(stamp).astimezone().strftime("%Y-%m-%d %H:%M")
    except ValueError:
        return stamp[:16]


class HomeScreen(Screen[None]):
    """Where the app opens."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("t", "talk", "Talk"),
        Binding("p", "persona", "Persona"),
        Binding("i", "import", "Import"),
        Binding("r", "replay", "Replay"),
        Binding("d", "doctor", "Doctor"),
        Binding("tab", "app.focus_next", "Next pane", show=False),
    ]

    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal(id="home-main"):
            with Vertical(id="home-personas", classes="pane"):
                yield Static("[b]Personas[/]  [dim]t talk · p persona · i import[/]", classes="pane-title")
                yield DataTable(id="personas", cursor_type="row", zebra_stripes=True)
            with Vertical(id="home-sessions", classes="pane"):
                yield Static("[b]Recent sessions[/]  [dim]r replay[/]", classes="pane-title")
                yield DataTable(id="sessions", cursor_type="row", zebra_stripes=True)
        yield Static(
            "It is a simulation built from old messages, for your own closure. Everything stays on this machine.",
            id="home-note",
        )
        yield Static("status: checking…", id="status-line")
        yield Footer()

    @property
    def vapp(self) -> VoiceApp:
        return self.app  # type: ignore[return-value]

    def on_mount(self) -> None:
        personas = self.query_one("#personas", DataTable)
        personas.add_columns("persona", "them", "messages", "last session")
        sessions = self.query_one("#sessions", DataTable)
        sessions.add_columns("id", "persona", "started", "turns", "min")
        self.reload()
        personas.focus()
        self.load_status()

    def on_screen_resume(self) -> None:
        self.reload()

    def reload(self) -> None:
        services = self.vapp.services
        personas = self.query_one("#personas", DataTable)
        selected = self.selected_persona()
        personas.clear()
        for row in services.personas():
            personas.add_row(
                Text(printable(row["name"])),
                Text(printable(row["them_name"])),
                str(row["messages"]),
                short_stamp(row["last_session"]),
                key=row["name"],
            )
        if selected is not None and selected in [str(k.value) for k in personas.rows]:
            personas.move_cursor(row=personas.get_row_index(selected))
        sessions = self.query_one("#sessions", DataTable)
        sessions.clear()
        for info in services.sessions():
            sessions.add_row(
                str(info.id),
                Text(printable(info.persona)),
                short_stamp(info.started_at),
                str(info.turns),
                f"{info.duration_s / 60:.0f}",
                key=str(info.id),
            )

    @work(thread=True, group="status", exclusive=True, exit_on_error=False)
    def load_status(self) -> None:
        try:
            status = self.vapp.machine_status()
        except Exception as exc:  # noqa: BLE001 - the status line is informative only
            status = MachineStatus(backend=f"unknown ({exc})")
        self.vapp.later(self.show_status, status)

    def show_status(self, status: MachineStatus) -> None:
        self.query_one("#status-line", Static).update(status.line())

    # --- selection -------------------------------------------------------------------------------

    def selected_persona(self) -> str | None:
        table = self.query_one("#personas", DataTable)
        if not table.row_count:
            return None
        key, _ = table.coordinate_to_cell_key(table.cursor_coordinate)
        return str(key.value)

    def selected_session(self) -> int | None:
        table = self.query_one("#sessions", DataTable)
        if not table.row_count:
            return None
        key, _ = table.coordinate_to_cell_key(table.cursor_coordinate)
        return int(str(key.value))

    @on(DataTable.RowSelected, "#personas")
    def _persona_chosen(self) -> None:
        self.action_talk()

    @on(DataTable.RowSelected, "#sessions")
    def _session_chosen(self) -> None:
        self.action_replay()

    # --- actions ----------------------------------------------------------------------------------

    def action_talk(self) -> None:
        persona = self.selected_persona()
        if persona:
            self.vapp.open_talk(persona)

    def action_persona(self) -> None:
        persona = self.selected_persona()
        if persona:
            self.vapp.open_persona(persona)

    def action_import(self) -> None:
        self.vapp.open_import()

    def action_replay(self) -> None:
        session = self.selected_session()
        if session is None:
            self.notify("No session yet: talk first, then replay it here.")
            return
        self.vapp.open_replay(session)

    def action_doctor(self) -> None:
        self.vapp.open_doctor()
