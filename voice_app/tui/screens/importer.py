"""Import: pick an export, preview what `inspect` finds, choose who is "them", consent, import, then the card."""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, VerticalScroll
from textual.screen import Screen
from textual.widgets import Button, Checkbox, DirectoryTree, Footer, Input, Label, ProgressBar, Select, Static

from voice_app.conversation.services import Preview
from voice_app.core.textsafe import safe

if TYPE_CHECKING:
    from voice_app.tui.app import VoiceApp


def persona_slug(name: str) -> str:
    """A persona name from a display name: 'Alex Kim' -> 'alex-kim'."""
    slug = re.sub(r"[^\w]+", "-", name.strip().lower(), flags=re.UNICODE).strip("-")
    return slug or "persona"


def preview_text(preview: Preview) -> str:
    from voice_app.chatlog import SUPPORTED_FORMATS

    s = preview.summary
    lines = [
        f"[b]{safe(preview.path.name)}[/]: {safe(SUPPORTED_FORMATS.get(s['format'], s['format']))}",
        f"{s['messages']} messages, {safe((s['first'] or '?')[:10])} → {safe((s['last'] or '?')[:10])}",
        "participants: " + ", ".join(f"{safe(p['name'])} ({p['messages']})" for p in s["participants"]),
        "kinds: " + (", ".join(f"{safe(k)} {v}" for k, v in s["kinds"].items()) or "-"),
    ]
    warnings = s.get("warnings") or []
    for warning in warnings[:5]:
        lines.append(f"[yellow]warning:[/] {safe(warning)}")
    if len(warnings) > 5:
        lines.append(f"[yellow]… and {len(warnings) - 5} more warnings[/]")
    return "\n".join(lines)


class ImportScreen(Screen[None]):
    """Four steps on one screen: file, preview, who is who (and consent), import."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+b", "browse", "Browse files"),
        Binding("ctrl+s", "do_import", "Import"),
        Binding("escape", "back", "Back"),
    ]

    def __init__(self, start_dir: Path | None = None) -> None:
        super().__init__()
        self.start_dir = start_dir or Path.home()
        self.preview: Preview | None = None
        self.result: object | None = None

    @property
    def vapp(self) -> VoiceApp:
        return self.app  # type: ignore[return-value]

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="import-main"):
            yield Static("[b]Import a chat history[/]  [dim]Enter inspects the path · ctrl+b browses[/]")
            yield Input(placeholder="Path of the export (file, zip or folder)", id="path")
            yield DirectoryTree(self.start_dir, id="tree")
            yield ProgressBar(id="progress", show_eta=False)
            yield Static("Nothing inspected yet.", id="preview")
            with Horizontal(classes="field-row"):
                yield Label("Who is them?", classes="field-label")
                yield Select[str]([], prompt="choose the person to simulate", id="them")
            with Horizontal(classes="field-row"):
                yield Label("Persona name", classes="field-label")
                yield Input(placeholder="e.g. alex", id="persona-name")
            yield Static("", id="consent-text")
            with Horizontal(classes="field-row"):
                yield Checkbox("I understand and agree", id="consent")
                yield Button("Import", id="import", variant="primary", disabled=True)
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#tree").display = False
        self.query_one("#consent").display = False
        self.query_one("#path", Input).focus()

    # --- choosing a file -------------------------------------------------------------------------

    def action_browse(self) -> None:
        tree = self.query_one("#tree", DirectoryTree)
        tree.display = not tree.display
        if tree.display:
            tree.focus()

    @on(DirectoryTree.FileSelected, "#tree")
    def _file_chosen(self, event: DirectoryTree.FileSelected) -> None:
        self.query_one("#path", Input).value = str(event.path)
        self.query_one("#tree").display = False
        self.inspect(Path(event.path))

    @on(Input.Submitted, "#path")
    def _path_entered(self, event: Input.Submitted) -> None:
        value = event.value.strip()
        if value:
            self.inspect(Path(value).expanduser())

    # --- inspect ----------------------------------------------------------------------------------

    @work(thread=True, exclusive=True, group="inspect", exit_on_error=False)
    def inspect(self, path: Path) -> None:
        self.vapp.later(self._progress, 0, None, f"reading {safe(path.name)}…")
        last = [0.0]

        def progress(done: int, total: int) -> None:
            now = time.monotonic()
            if now - last[0] > 0.1 or done >= total:
                last[0] = now
                self.vapp.later(self._progress, done, total, None)

        try:
            preview = self.vapp.services.inspect(path, progress=progress)
        except Exception as exc:  # noqa: BLE001 - an unreadable file is shown, not raised
            message = getattr(exc, "message", None) or str(exc)
            fix = getattr(exc, "fix", None)
            self.vapp.later(self._failed, safe(message) + (f"\n[cyan]fix:[/] {safe(fix)}" if fix else ""))
            return
        self.vapp.later(self.show_preview, preview)

    def _progress(self, done: int, total: int | None, text: str | None) -> None:
        self.query_one("#progress", ProgressBar).update(total=total, progress=done)
        if text:
            self.query_one("#preview", Static).update(text)

    def _failed(self, text: str) -> None:
        self.preview = None
        self.query_one("#progress", ProgressBar).update(total=100, progress=0)
        self.query_one("#preview", Static).update(f"[red]{text}[/]")
        self.query_one("#import", Button).disabled = True

    def show_preview(self, preview: Preview) -> None:
        self.preview = preview
        bar = self.query_one("#progress", ProgressBar)
        bar.update(total=100, progress=100)
        self.query_one("#preview", Static).update(preview_text(preview))
        select = self.query_one("#them", Select)
        names = preview.participants
        select.set_options([(name, name) for name in names])
        if len(names) == 1:
            select.value = names[0]
        self._update_consent()
        self.query_one("#import", Button).disabled = not names
        select.focus()

    # --- who is who, consent -------------------------------------------------------------------------

    @on(Select.Changed, "#them")
    def _them_changed(self, event: Select.Changed) -> None:
        if isinstance(event.value, str):
            name_input = self.query_one("#persona-name", Input)
            if not name_input.value or name_input.value == getattr(self, "_auto_name", None):
                self._auto_name = persona_slug(event.value)
                name_input.value = self._auto_name
        self._update_consent()

    @on(Input.Changed, "#persona-name")
    def _name_changed(self) -> None:
        self._update_consent()

    def _them(self) -> str | None:
        value = self.query_one("#them", Select).value
        return value if isinstance(value, str) else None

    def _update_consent(self) -> None:
        persona = self.query_one("#persona-name", Input).value.strip()
        them = self._them()
        needs = bool(persona and them) and not self.vapp.services.persona_exists(persona)
        self.query_one("#consent").display = needs
        text = safe(self.vapp.services.consent_text(persona, them or "them")) if needs else ""
        if persona and them and not needs:
            text = f"'{safe(persona)}' exists: this import extends it (messages already stored are skipped)."
        self.query_one("#consent-text", Static).update(text)

    # --- import ----------------------------------------------------------------------------------

    @on(Button.Pressed, "#import")
    def _import_pressed(self) -> None:
        self.action_do_import()

    def action_do_import(self) -> None:
        preview, them = self.preview, self._them()
        persona = self.query_one("#persona-name", Input).value.strip()
        if preview is None:
            self.notify("Inspect a file first.", severity="warning")
            return
        if not them or not persona:
            self.notify("Choose who is them, and a persona name.", severity="warning")
            return
        consent = self.query_one("#consent", Checkbox).value
        if not self.vapp.services.persona_exists(persona) and not consent:
            self.notify("Creating a persona needs your acknowledgement (the checkbox).", severity="warning")
            self.query_one("#consent").focus()
            return
        self.query_one("#import", Button).disabled = True
        self.query_one("#progress", ProgressBar).update(total=None, progress=0)
        self.run_import(preview, persona, them, consent)

    @work(thread=True, exclusive=True, group="import", exit_on_error=False)
    def run_import(self, preview: Preview, persona: str, them: str, consent: bool) -> None:
        try:
            result = self.vapp.services.import_preview(preview, persona=persona, them=them, me=None, consent=consent)
        except Exception as exc:  # noqa: BLE001
            message = getattr(exc, "message", None) or str(exc)
            self.vapp.later(self._failed, message)
            return
        self.vapp.later(self._imported, result)

    def _imported(self, result: object) -> None:
        self.result = result
        self.query_one("#progress", ProgressBar).update(total=100, progress=100)
        added = getattr(result, "added", 0)
        persona = str(getattr(result, "persona", ""))
        self.notify(f"Imported {added} new messages into '{safe(persona)}'.")
        self.vapp.refresh_home()
        self.app.pop_screen()
        self.vapp.open_persona(persona)

    def action_back(self) -> None:
        self.app.pop_screen()
