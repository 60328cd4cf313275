"""Persona: edit the card (what you remember) and read the style profile computed from their messages."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import Screen
from textual.widgets import Footer, Input, Label, Static, TextArea

from voice_app.conversation.services import CardForm
from voice_app.core.textsafe import safe

if TYPE_CHECKING:
    from voice_app.tui.app import VoiceApp


class PersonaScreen(Screen[None]):
    """The card as a form (lists: one entry per line) beside the style profile summary."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+s", "save", "Save card"),
        Binding("ctrl+t", "talk", "Talk"),
        Binding("escape", "back", "Back"),
    ]

    def __init__(self, persona: str) -> None:
        super().__init__()
        self.persona = persona
        self.form: CardForm | None = None
        self.saved = False

    @property
    def vapp(self) -> VoiceApp:
        return self.app  # type: ignore[return-value]

    def compose(self) -> ComposeResult:
        services = self.vapp.services
        head = services.persona_header(self.persona)
        self.form = services.card(self.persona)
        consent = head["consent_at"] or "not recorded"
        yield Static(
            f"[b]{safe(head['name'])}[/]: a simulation of {safe(head['them'] or '?')}"
            f" · {head['messages']} messages · consent: {consent}",
            id="persona-title",
        )
        with Horizontal(id="persona-main"):
            with VerticalScroll(id="card-form", classes="pane"):
                yield Static("[b]Card[/]  [dim]what you remember; lists take one entry per line · ctrl+s saves[/]")
                for name, help_text in self.form.help.items():
                    value = self.form.fields.get(name, "")
                    yield Label(help_text, classes="field-help")
                    if name in self.form.lists:
                        lines = "\n".join(value) if isinstance(value, list) else str(value)
                        yield TextArea(lines, id=f"f-{name}", classes="field-list", soft_wrap=True)
                    else:
                        yield Input(str(value), id=f"f-{name}", classes="field-text")
            with Vertical(id="style-pane", classes="pane"):
                yield Static("[b]Style profile[/]  [dim]from their messages[/]")
                yield Static("computing…", id="style")
        yield Footer()

    def on_mount(self) -> None:
        first = self.query("#card-form Input")
        if first:
            first.first().focus()
        self.load_style()

    @work(thread=True, exclusive=True, group="style", exit_on_error=False)
    def load_style(self) -> None:
        try:
            text = self.vapp.services.style_summary(self.persona)
        except Exception as exc:  # noqa: BLE001
            text = f"[red]The style profile could not be computed: {safe(getattr(exc, 'message', exc))}[/]"
        self.vapp.later(self.query_one("#style", Static).update, text)

    def values(self) -> dict[str, str | list[str]]:
        assert self.form is not None
        out: dict[str, str | list[str]] = {}
        for name in self.form.help:
            if name in self.form.lists:
                area = self.query_one(f"#f-{name}", TextArea)
                out[name] = [line.strip() for line in area.text.splitlines() if line.strip()]
            else:
                out[name] = self.query_one(f"#f-{name}", Input).value.strip()
        return out

    def action_save(self) -> None:
        try:
            self.vapp.services.save_card(self.persona, self.values())
        except Exception as exc:  # noqa: BLE001 - a bad value is shown, nothing is lost
            self.notify(f"Not saved: {safe(getattr(exc, 'message', exc))}", severity="error")
            return
        self.saved = True
        self.notify("Card saved. The next conversation uses it.")
        self.query_one("#style", Static).update("computing…")
        self.load_style()

    def action_talk(self) -> None:
        self.app.pop_screen()
        self.vapp.open_talk(self.persona)

    def action_back(self) -> None:
        self.app.pop_screen()
