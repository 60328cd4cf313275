"""Usage care: time spent per session and per day, a gentle nudge, and the weekly summary."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from voice_app.core.records import SessionInfo


def _local_day(stamp: str) -> date:
    return datetime.fromisoformat(stamp).astimezone().date()


def minutes_on(day: date, infos: list[SessionInfo]) -> float:
    return sum(i.duration_s for i in infos if _local_day(i.started_at) == day) / 60


def nudge_text(session_minutes: float, today_minutes: float, limit: int) -> str | None:
    """A gentle nudge once a session, or today in total, passes `limit` minutes; None before that."""
    if limit <= 0:
        return None
    if session_minutes >= limit:
        return (
            f"You've been talking for {session_minutes:.0f} minutes. This can be a lot to carry."
            " Maybe take a break, drink some water, or say goodbye for today — you can always come back."
        )
    if today_minutes >= 2 * limit:
        return (
            f"You've spent {today_minutes:.0f} minutes here today. The goal is a goodbye, not a new routine:"
            " talking to a friend may help too."
        )
    return None


@dataclass
class WeekSummary:
    """`voice-app sessions --stats`."""

    week_start: str
    days: dict[str, float]  # ISO day -> minutes
    sessions: int
    turns: int
    minutes: float
    previous_week_minutes: float
    personas: dict[str, float]  # persona -> minutes this week

    def message(self) -> str:
        if self.sessions == 0:
            return "No sessions this week."
        if self.previous_week_minutes and self.minutes < self.previous_week_minutes:
            return "Less time than last week. Needing it less is often a sign of healing."
        if self.previous_week_minutes and self.minutes > 1.5 * self.previous_week_minutes:
            return "More time than last week. If it feels like it is holding you back, consider the goodbye ritual."
        return "Take care of yourself between sessions, too."


def weekly_summary(infos: list[SessionInfo], today: date | None = None) -> WeekSummary:
    """The last 7 days (today included) against the 7 before."""
    today = today or datetime.now().astimezone().date()
    start = today - timedelta(days=6)
    days = {(start + timedelta(days=i)).isoformat(): 0.0 for i in range(7)}
    personas: dict[str, float] = defaultdict(float)
    sessions = turns = 0
    previous = 0.0
    for info in infos:
        day = _local_day(info.started_at)
        minutes = info.duration_s / 60
        if start <= day <= today:
            days[day.isoformat()] += minutes
            personas[info.persona] += minutes
            sessions += 1
            turns += info.turns
        elif start - timedelta(days=7) <= day < start:
            previous += minutes
    return WeekSummary(
        week_start=start.isoformat(),
        days={k: round(v, 1) for k, v in days.items()},
        sessions=sessions,
        turns=turns,
        minutes=round(sum(days.values()), 1),
        previous_week_minutes=round(previous, 1),
        personas={k: round(v, 1) for k, v in personas.items()},
    )
