"""Usage care: nudges and the weekly summary, from real session rows."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from tests.ollama_fake import FakeOllama
from voice_app.care.usage import nudge_text, weekly_summary
from voice_app.cli import main
from voice_app.conversation.conversation import Conversation
from voice_app.conversation.importing import ensure_demo
from voice_app.core import config
from voice_app.llm.ollama_chat import OllamaChat
from voice_app.storage.store import Store


def add_session(store: Store, start: datetime, minutes: float, turns: int = 1) -> None:
    sid = store.start_session("demo", "text", "embedded", "m")
    end = start + timedelta(minutes=minutes)
    with store.transaction() as conn:
        conn.execute(
            "UPDATE sessions SET started_at = ?, ended_at = ? WHERE id = ?", (start.isoformat(), end.isoformat(), sid)
        )
    for _ in range(turns):
        store.begin_turn(sid, "hi")


def test_nudge_thresholds() -> None:
    assert nudge_text(5, 10, 30) is None
    assert "30 minutes" in (nudge_text(30.2, 31, 30) or "")
    assert "today" in (nudge_text(3, 75, 30) or "")
    assert nudge_text(500, 500, 0) is None  # 0 turns nudges off


def test_weekly_summary_and_cli(isolated_home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    with Store(isolated_home / "voice_app.sqlite3") as store:
        ensure_demo(store)
        add_session(store, now - timedelta(hours=1), 20, turns=3)
        add_session(store, now - timedelta(days=2), 10)
        add_session(store, now - timedelta(days=9), 60)  # the week before
        add_session(store, now - timedelta(days=30), 90)  # too old to count
        summary = weekly_summary(store.list_sessions())
    assert summary.sessions == 2 and summary.turns == 4
    assert summary.minutes == pytest.approx(30, abs=0.2) and summary.previous_week_minutes == pytest.approx(60, abs=0.2)
    started_day = (now - timedelta(hours=1)).astimezone().date().isoformat()  # yesterday just after midnight
    assert len(summary.days) == 7 and summary.days[started_day] >= 19
    assert "Less time than last week" in summary.message()
    capsys.readouterr()
    assert main(["sessions", "--stats", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["sessions"] == 2 and data["personas"] == {"demo": pytest.approx(30, abs=0.2)}
    assert weekly_summary([], today=date(2026, 1, 1)).message() == "No sessions this week."


def test_chat_session_nudges_once_when_over_the_limit(isolated_home: Path) -> None:
    settings = config.Settings()
    settings.set("care.nudge_minutes", "1")
    with FakeOllama() as server, Store(isolated_home / "voice_app.sqlite3") as store:
        ensure_demo(store)
        session = Conversation(
            store, "demo", settings=settings, model=OllamaChat("qwen2.5:1.5b-instruct", host=server.host)
        )
        session.reply("hi")
        assert session.nudge() is None
        session.started -= 90  # the session has run for 1.5 minutes
        text = session.nudge()
        assert text and "talking for 2 minutes" in text
        assert session.nudge() is None
        assert store.session_meta(session.session_id)["nudged_at_min"] >= 1.5
