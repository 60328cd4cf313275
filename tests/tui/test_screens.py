"""Pilot tests for home, import, persona, replay and doctor, on a real store."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.widgets import Checkbox, DataTable, Input, OptionList, Select, Static, TextArea

from tests.tui.conftest import add_session, make_app, wait_until
from voice_app.conversation.importing import demo_history
from voice_app.storage.store import Store
from voice_app.tui.screens import DoctorScreen, HomeScreen, ImportScreen, PersonaScreen, ReplayScreen, TalkScreen

pytestmark = pytest.mark.anyio


async def test_home_lists_personas_sessions_and_status(store: Store) -> None:
    session = add_session(store)
    app = make_app(store)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, lambda: isinstance(app.screen, HomeScreen))
        home = app.screen
        personas = home.query_one("#personas", DataTable)
        assert personas.row_count == 2  # the two fictional demos
        assert [str(cell) for cell in personas.get_row_at(0)[:3]] == ["demo", "Alex", str(store.message_count("demo"))]
        assert [str(cell) for cell in personas.get_row_at(1)[:2]] == ["demo-zh", "阿杰"]
        assert personas.get_row_at(0)[3] == "2024-05-04 18:30"
        sessions = home.query_one("#sessions", DataTable)
        assert [str(cell) for cell in sessions.get_row_at(0)[:2]] == [str(session), "demo"]
        await wait_until(pilot, lambda: "backend: embedded" in str(home.query_one("#status-line", Static).render()))
        status = str(home.query_one("#status-line", Static).render())
        assert "mic: none" in status and "models loaded" in status
        await pilot.press("f2")
        assert app.theme == "textual-light"
        await pilot.press("f2")
        assert app.theme == "textual-dark"


async def test_home_keys_open_each_screen(store: Store) -> None:
    add_session(store)
    app = make_app(store)
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_until(pilot, lambda: isinstance(app.screen, HomeScreen))
        for key, screen_type in (("p", PersonaScreen), ("i", ImportScreen), ("d", DoctorScreen)):
            await pilot.press(key)
            await wait_until(pilot, lambda screen_type=screen_type: isinstance(app.screen, screen_type))
            await pilot.press("escape")
            await wait_until(pilot, lambda: isinstance(app.screen, HomeScreen))
        await pilot.press("r")
        await wait_until(pilot, lambda: isinstance(app.screen, ReplayScreen))
        await pilot.press("escape")
        await pilot.press("t")
        await wait_until(pilot, lambda: isinstance(app.screen, TalkScreen))


async def test_command_palette_lists_the_app_commands(store: Store) -> None:
    app = make_app(store)
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_until(pilot, lambda: isinstance(app.screen, HomeScreen))
        titles = [c.title for c in app.get_system_commands(app.screen)]
        for wanted in ("Import a chat export", "Doctor", "Light/dark theme", "Talk with demo", "Edit persona demo"):
            assert wanted in titles
        await pilot.press("ctrl+p")
        await pilot.press(*"Doctor")
        await pilot.pause(0.3)
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, DoctorScreen))


async def test_doctor_shows_the_checks(store: Store) -> None:
    app = make_app(store)
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_until(pilot, lambda: isinstance(app.screen, HomeScreen))
        await pilot.press("d")
        await wait_until(pilot, lambda: isinstance(app.screen, DoctorScreen))
        table = app.screen.query_one(DataTable)
        await wait_until(pilot, lambda: table.row_count == 3)
        assert "fix: Connect a microphone." in str(table.get_row_at(1)[2])


async def test_import_previews_then_creates_the_persona(store: Store, tmp_path: Path) -> None:
    export = tmp_path / "WhatsApp Chat with Alex.txt"
    export.write_bytes(demo_history().read_bytes())
    app = make_app(store)
    async with app.run_test(size=(100, 30), notifications=True) as pilot:
        await wait_until(pilot, lambda: isinstance(app.screen, HomeScreen))
        await pilot.press("i")
        await wait_until(pilot, lambda: isinstance(app.screen, ImportScreen))
        screen = app.screen
        assert isinstance(screen, ImportScreen)
        path_input = screen.query_one("#path", Input)
        path_input.value = str(export)
        await pilot.press("enter")
        await wait_until(pilot, lambda: screen.preview is not None)
        preview = str(screen.query_one("#preview", Static).render())
        assert "WhatsApp" in preview and "Alex" in preview and "Sam" in preview
        assert screen.preview.summary["messages"] > 0
        them = screen.query_one("#them", Select)
        assert them.value == Select.NULL  # two participants: the user chooses
        them.value = "Alex"
        await pilot.pause()
        assert screen.query_one("#persona-name", Input).value == "alex"
        assert screen.query_one("#consent", Checkbox).display
        assert "has not agreed" in str(screen.query_one("#consent-text", Static).render())
        await pilot.press("ctrl+s")  # refused without consent
        await pilot.pause()
        assert store.find_persona("alex") is None
        screen.query_one("#consent", Checkbox).value = True
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: isinstance(app.screen, PersonaScreen))
        persona = store.get_persona("alex")
        assert persona.them_name == "Alex" and persona.consent_at
        assert store.message_count("alex") == store.message_count("demo")


async def test_import_shows_a_clear_error_for_a_non_export(store: Store, tmp_path: Path) -> None:
    bogus = tmp_path / "notes.txt"
    bogus.write_text("just some notes\nnothing here\n", encoding="utf-8")
    app = make_app(store)
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_until(pilot, lambda: isinstance(app.screen, HomeScreen))
        await pilot.press("i")
        await wait_until(pilot, lambda: isinstance(app.screen, ImportScreen))
        screen = app.screen
        screen.query_one("#path", Input).value = str(bogus)
        await pilot.press("enter")
        await wait_until(pilot, lambda: "not a recognized" in str(screen.query_one("#preview", Static).render()))
        assert screen.query_one("#import").disabled


async def test_persona_card_edits_are_saved(store: Store) -> None:
    app = make_app(store)
    async with app.run_test(size=(100, 30), notifications=True) as pilot:
        await wait_until(pilot, lambda: isinstance(app.screen, HomeScreen))
        await pilot.press("p")
        await wait_until(pilot, lambda: isinstance(app.screen, PersonaScreen))
        screen = app.screen
        style = screen.query_one("#style", Static)
        await wait_until(pilot, lambda: "messages from Alex" in str(style.render()), timeout=30)
        assert screen.query_one("#f-them_name", Input).value == "Alex"
        how = screen.query_one("#f-how_it_ended", Input)
        how.value = "slowly, then all at once"
        screen.query_one("#f-unresolved_questions", TextArea).text = "why Lisbon?\n\nwere you happy?\n"
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert screen.saved
        card = store.get_persona("demo").card
        assert card["how_it_ended"] == "slowly, then all at once"
        assert card["unresolved_questions"] == ["why Lisbon?", "were you happy?"]


async def test_replay_plays_jumps_and_exports(store: Store, tmp_path: Path) -> None:
    session = add_session(store)
    app = make_app(store)
    app.services.export_dir = tmp_path
    async with app.run_test(size=(100, 30), notifications=True) as pilot:
        await wait_until(pilot, lambda: isinstance(app.screen, HomeScreen))
        await pilot.press("r")
        await wait_until(pilot, lambda: isinstance(app.screen, ReplayScreen))
        screen = app.screen
        assert isinstance(screen, ReplayScreen)
        screen.step_s = 0.001
        options = screen.query_one("#turns", OptionList)
        assert options.option_count == 3
        assert "do you remember the lake?" in str(options.get_option_at_index(0).prompt)
        await pilot.press("space")  # play from the first turn
        await wait_until(pilot, lambda: "end of session" in str(screen.query_one("#replay-state", Static).render()))
        assert options.highlighted == 2
        await pilot.press("up", "up")
        await pilot.press("enter")  # jump: play from the first turn again
        await wait_until(pilot, lambda: screen.playing)
        await pilot.press("space")  # pause
        assert not screen.playing
        await pilot.press("e")
        await wait_until(pilot, lambda: app.screen.query("#formats"))
        await pilot.press("enter")  # md, the first format
        await wait_until(pilot, lambda: screen.exported is not None)
        text = Path(screen.exported).read_text(encoding="utf-8")
        assert f"Session {session}" in text and "why did you leave?" in text and "simulation" in text
