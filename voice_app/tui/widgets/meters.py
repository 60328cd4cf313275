"""Small live gauges: the input level, the conversation state and a turn's latency by stage."""

from __future__ import annotations

from rich.text import Text
from textual.reactive import reactive
from textual.widgets import Static

STATE_STYLE = {
    "loading": ("◌ loading", "bold yellow"),
    "ready": ("● ready", "bold green"),
    "listening": ("◉ listening", "bold red"),
    "transcribing": ("◍ transcribing", "bold magenta"),
    "thinking": ("◐ thinking", "bold cyan"),
    "speaking": ("◆ speaking", "bold blue"),
    "ended": ("○ ended", "dim"),
    "error": ("✕ error", "bold red"),
}


class StateIndicator(Static):
    """listening / transcribing / thinking / speaking (and loading, ready)."""

    state: reactive[str] = reactive("loading")

    def render(self) -> Text:
        label, style = STATE_STYLE.get(self.state, (self.state, ""))
        return Text(label, style=style)


class LevelMeter(Static):
    """The microphone's input level (0..1) as a bar; without a microphone it says so."""

    level: reactive[float | None] = reactive(None)
    recording: reactive[bool] = reactive(False)

    def render(self) -> Text:
        if self.level is None:
            return Text("mic: none, type below", style="dim")
        width = max(4, self.size.width - 6)
        filled = min(width, round(width * min(1.0, self.level * 4)))  # speech sits around 0.05-0.25 RMS
        text = Text("mic ", style="bold red" if self.recording else "dim")
        text.append("█" * filled, style="green" if filled < width * 0.8 else "red")
        text.append("░" * (width - filled), style="dim")
        return text


# Stages of a turn, as (label, start event, end event); the first present pairs are drawn.
STAGES = (
    ("stt", "speech_end", "transcript_final"),
    ("llm", "transcript_final", "first_token"),
    ("tts", "first_token", "first_audio_out"),
    ("reply", "first_audio_out", "last_audio_out"),
)
TEXT_STAGES = (("first token", "start", "first_token"), ("reply", "first_token", "last_token"))
STAGE_COLORS = ("magenta", "cyan", "yellow", "blue")


class StageBar(Static):
    """A turn's latency split by stage, e.g. `stt 0.4s │ llm 1.2s │ tts 0.3s`, with a proportional bar."""

    timeline: reactive[dict[str, float] | None] = reactive(None)

    def render(self) -> Text:
        spans = stage_spans(self.timeline or {})
        if not spans:
            return Text("latency: –", style="dim")
        total = sum(seconds for _, seconds in spans) or 1.0
        width = max(10, self.size.width - 2)
        text = Text()
        for i, (_, seconds) in enumerate(spans):
            cells = max(1, round(width * seconds / total))
            text.append(" " * cells, style=f"on {STAGE_COLORS[i % len(STAGE_COLORS)]}")
        text.append("\n")
        for i, (label, seconds) in enumerate(spans):
            if i:
                text.append(" │ ", style="dim")
            text.append(f"{label} ", style=STAGE_COLORS[i % len(STAGE_COLORS)])
            text.append(f"{seconds:.1f}s")
        return text


def stage_spans(timeline: dict[str, float]) -> list[tuple[str, float]]:
    """(stage, seconds) for the stages the timeline has; typed turns have first token and reply only."""
    if "speech_end" in timeline or "transcript_final" in timeline:
        out = []
        for label, start, end in STAGES:
            if start in timeline and end in timeline:
                out.append((label, max(0.0, timeline[end] - timeline[start])))
        if out:
            return out
    with_start = {"start": 0.0, **timeline}
    return [
        (label, max(0.0, with_start[end] - with_start[start]))
        for label, start, end in TEXT_STAGES
        if start in with_start and end in with_start
    ]
