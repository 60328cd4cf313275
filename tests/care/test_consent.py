"""The consent gate on persona creation."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest

from tests.test_chat import voice_app
from voice_app.care.consent import obtain_consent
from voice_app.conversation.importing import demo_history
from voice_app.core.errors import ConsentRequiredError
from voice_app.storage.store import Store


def test_import_without_consent_and_without_a_terminal_is_a_clear_error(isolated_home: Path) -> None:
    result = voice_app(isolated_home, "import", str(demo_history()), "--persona", "alex", "--them", "Alex", stdin="")
    assert result.returncode == 2
    assert "needs your acknowledgement" in result.stderr and "--consent" in result.stderr
    assert "did not agree" in result.stderr or "has not agreed" in result.stderr
    with Store(isolated_home / "voice_app.sqlite3") as store:
        assert store.find_persona("alex") is None


def test_consent_flag_records_the_date_and_extending_needs_none(isolated_home: Path) -> None:
    args = ("import", str(demo_history()), "--persona", "alex", "--them", "Alex")
    assert voice_app(isolated_home, *args, "--consent").returncode == 0
    with Store(isolated_home / "voice_app.sqlite3") as store:
        stamp = store.get_persona("alex").consent_at
    assert stamp is not None and datetime.fromisoformat(stamp).year >= 2026
    again = voice_app(isolated_home, *args, stdin="")  # the persona exists: no new consent is needed
    assert again.returncode == 0, again.stderr


def test_terminal_prompt_accepts_yes_and_refuses_anything_else() -> None:
    asked: list[str] = []

    def answer(text: str) -> str:
        asked.append(text)
        return "y"

    stamp = obtain_consent("alex", "Alex", given=False, ask=answer, interactive=True)
    assert datetime.fromisoformat(stamp) and "has not agreed to be simulated" in asked[0]
    with pytest.raises(ConsentRequiredError):
        obtain_consent("alex", "Alex", given=False, ask=lambda _: "no", interactive=True)
