"""Fuzzing: random persona names, senders and texts through import → personas → replay → export → TUI home."""

from __future__ import annotations

import os
import random
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from voice_app.cli import main
from voice_app.storage.store import Store

# What hostile names and texts are made of: markup, escapes, path pieces, bidi controls, CJK, emoji.
PIECES = [
    "[",
    "]",
    "[/]",
    "[bold red]",
    "\\",
    "/",
    "..",
    "\x1b[2J",
    "\x1b]52;c;aGk=\x07",
    "\x07",
    "\x00",
    "\u202e",
    "\u200b",
    "\r",
    "\t",
    "-",
    ":",
    "%s",
    "{0}",
    "$(rm)",
    "笑死",
    "😂",
    ":skull:",
    "'",
    '"',
    "<b>",
    "&amp;",
]
hostile = st.lists(st.one_of(st.sampled_from(PIECES), st.text(max_size=6)), min_size=1, max_size=8).map("".join)


def export(folder: Path, sender: str, text: str) -> Path:
    sender = sender.replace("\n", " ").replace(":", " ").strip() or "x"
    text = text.replace("\n", " ")
    path = folder / "chat.txt"
    path.write_text(
        f"01/02/2024, 10:00 - {sender}: {text}\n01/02/2024, 10:01 - Me: ok then\n",
        encoding="utf-8",
        errors="surrogatepass",
    )
    return path


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(name=hostile, sender=hostile, text=hostile)
@example(name="[", sender="[", text="enc1:")  # a line that began like ciphertext failed to replay (CI, 2026-12-05)
def test_hostile_names_and_texts_never_crash_the_cli(
    name: str, sender: str, text: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp) / "home"
        saved = os.environ.get("VOICE_APP_HOME")
        os.environ["VOICE_APP_HOME"] = str(home)
        try:
            path = export(Path(tmp), sender, text)
            them = sender.replace("\n", " ").replace(":", " ").strip() or "x"
            code = main(["import", str(path), f"--persona={name}", f"--them={them}", "--consent"])
            assert code in (0, 2)  # stored, or a typed error with a fix: never a traceback
            assert main(["personas"]) == 0
            with Store(home / "voice_app.sqlite3") as store:
                persona = store.list_personas()[-1]["name"]
                sid = store.start_session(persona, "text", "embedded", "qwen")
                turn = store.begin_turn(sid, text)
                store.complete_turn(turn, reply_text=f"{sender} {text}")
            assert main(["replay", str(sid), "--no-audio", "--speed", "1000"]) == 0
            for fmt in ("md", "html", "json"):
                assert main(["export", str(sid), "--format", fmt, "-o", str(Path(tmp) / f"out.{fmt}")]) == 0
            assert main(["sessions"]) == 0
            printed = capsys.readouterr()
            assert "\x1b" not in printed.out and "\x07" not in printed.out
            assert "Traceback" not in printed.err
        finally:
            if saved is None:
                os.environ.pop("VOICE_APP_HOME", None)
            else:
                os.environ["VOICE_APP_HOME"] = saved


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.mark.anyio
async def test_the_tui_home_shows_hostile_names_as_they_are(isolated_home: Path, tmp_path: Path) -> None:
    from tests.tui.conftest import make_app
    from voice_app.conversation.importing import import_path
    from voice_app.tui.screens import HomeScreen

    rng = random.Random(7)
    names = ["p [/] q", "[bold red]Mal[/]", "\x1b[2Jclear", "a\u202eb", ":skull:"]
    names += ["".join(rng.choice([*PIECES, "ab", "xy"]) for _ in range(rng.randint(1, 6))) for _ in range(25)]
    with Store.open_default() as store:
        kept = []
        for i, raw in enumerate(names):
            name = f"{raw} {i}".replace("\x00", "").strip()
            path = export(tmp_path, raw or "x", raw)
            try:
                them = raw.replace("\n", " ").replace(":", " ").strip() or "x"
                import_path(store, path, persona=name, them=them, consent_at="2024-01-01")
                kept.append(name)
            except Exception as exc:  # noqa: BLE001 - only typed errors are allowed
                assert getattr(exc, "fix", None) is not None, exc
        assert len(kept) >= 10  # the rest were refused with a typed error (control characters in the name)
        app = make_app(store)
        async with app.run_test(size=(120, 40)) as pilot:
            for _ in range(100):
                await pilot.pause(0.05)
                if isinstance(app.screen, HomeScreen):
                    break
            from textual.widgets import DataTable

            table = app.screen.query_one("#personas", DataTable)
            assert table.row_count >= len(kept)
            shown = {str(table.get_row_at(i)[0]) for i in range(table.row_count)}
            assert "p [/] q 0" in shown and "[bold red]Mal[/] 1" in shown
            assert not any("\x1b" in cell for cell in shown)
