"""Snapshots of every screen at 100×30, on fixed data (fixed stamps, a scripted model, a fixed status)."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.widgets import Input

from tests.tui.conftest import add_session, make_app, wait_until
from voice_app.conversation.importing import demo_history
from voice_app.storage.store import Store
from voice_app.tui.screens import DoctorScreen, ImportScreen, PersonaScreen, ReplayScreen, TalkScreen
from voice_app.tui.widgets import StageBar

SIZE = (100, 30)
FIXED_TIMELINE = {"first_token": 1.2, "last_token": 3.4}


def steady(run_before):  # type: ignore[no-untyped-def]
    """`run_before`, then the focused input's cursor held still: a blinking cursor is drawn or not
    depending on when the screenshot lands (seen on a busy CI machine)."""

    async def run(pilot) -> None:  # type: ignore[no-untyped-def]
        await run_before(pilot)
        for field in pilot.app.screen.query(Input):
            field.cursor_blink = False
        await pilot.pause()

    return run


@pytest.fixture
def session(store: Store) -> int:
    return add_session(store)


def test_home(snap_compare, store: Store, session: int) -> None:  # type: ignore[no-untyped-def]
    async def ready(pilot) -> None:  # type: ignore[no-untyped-def]
        await wait_until(pilot, lambda: "backend:" in str(pilot.app.screen.query_one("#status-line").render()))

    assert snap_compare(make_app(store), terminal_size=SIZE, run_before=steady(ready))


def test_home_light_theme(snap_compare, store: Store, session: int) -> None:  # type: ignore[no-untyped-def]
    async def ready(pilot) -> None:  # type: ignore[no-untyped-def]
        await wait_until(pilot, lambda: "backend:" in str(pilot.app.screen.query_one("#status-line").render()))
        await pilot.press("f2")

    assert snap_compare(make_app(store), terminal_size=SIZE, run_before=steady(ready))


def test_talk(snap_compare, store: Store) -> None:  # type: ignore[no-untyped-def]
    async def one_turn(pilot) -> None:  # type: ignore[no-untyped-def]
        await wait_until(pilot, lambda: isinstance(pilot.app.screen, TalkScreen))
        screen = pilot.app.screen
        await wait_until(pilot, lambda: screen.engine.ready.is_set())
        await pilot.press(*"do you remember the lake?", "enter")
        await wait_until(pilot, lambda: len(screen.turns) == 1)
        screen.query_one(StageBar).timeline = FIXED_TIMELINE  # real timings vary run to run
        await pilot.pause()

    assert snap_compare(make_app(store, persona="demo", talk=True), terminal_size=SIZE, run_before=steady(one_turn))


def test_replay(snap_compare, store: Store, session: int) -> None:  # type: ignore[no-untyped-def]
    async def open_replay(pilot) -> None:  # type: ignore[no-untyped-def]
        await pilot.press("r")
        await wait_until(pilot, lambda: isinstance(pilot.app.screen, ReplayScreen))
        await pilot.press("down")

    assert snap_compare(make_app(store), terminal_size=SIZE, run_before=steady(open_replay))


def test_import_preview(snap_compare, store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "WhatsApp Chat with Alex.txt").write_bytes(demo_history().read_bytes())
    monkeypatch.chdir(tmp_path)  # a relative path, so the screen is the same on every machine

    async def preview(pilot) -> None:  # type: ignore[no-untyped-def]
        await pilot.press("i")
        await wait_until(pilot, lambda: isinstance(pilot.app.screen, ImportScreen))
        await pilot.press(*"WhatsApp Chat with Alex.txt", "enter")
        screen = pilot.app.screen
        await wait_until(pilot, lambda: screen.preview is not None)
        screen.query_one("#them").value = "Alex"
        await pilot.pause()

    assert snap_compare(make_app(store), terminal_size=SIZE, run_before=steady(preview))


def test_persona(snap_compare, store: Store) -> None:  # type: ignore[no-untyped-def]
    async def open_persona(pilot) -> None:  # type: ignore[no-untyped-def]
        await pilot.press("p")
        await wait_until(pilot, lambda: isinstance(pilot.app.screen, PersonaScreen))
        style = pilot.app.screen.query_one("#style")
        await wait_until(pilot, lambda: "messages from" in str(style.render()), timeout=30)

    assert snap_compare(make_app(store), terminal_size=SIZE, run_before=steady(open_persona))


def test_doctor(snap_compare, store: Store) -> None:  # type: ignore[no-untyped-def]
    async def open_doctor(pilot) -> None:  # type: ignore[no-untyped-def]
        await pilot.press("d")
        await wait_until(pilot, lambda: isinstance(pilot.app.screen, DoctorScreen))
        await wait_until(pilot, lambda: pilot.app.screen.query_one("#doctor-table").row_count == 3)

    assert snap_compare(make_app(store), terminal_size=SIZE, run_before=steady(open_doctor))
