"""The conversation transcript: notes, the user's lines and replies that grow as they stream in."""

from __future__ import annotations

from rich.text import Text
from textual.containers import VerticalScroll
from textual.widgets import Static

from voice_app.core.textsafe import printable, safe


class Bubble(Static):
    """One line of the transcript; a reply's text grows with `append`."""

    def __init__(self, who: str, text: str = "", *, kind: str) -> None:
        super().__init__(classes=f"bubble {kind}")
        self.who = who
        self.text = text
        self.kind = kind
        self.border_title = safe(who) if who else None

    def on_mount(self) -> None:
        self._refresh_text()

    def append(self, piece: str) -> None:
        self.text += piece
        self._refresh_text()

    def set_text(self, text: str) -> None:
        self.text = text
        self._refresh_text()

    def mark(self, label: str) -> None:
        """A small tag after the text, e.g. 'interrupted'."""
        self.border_subtitle = label

    def _refresh_text(self) -> None:
        self.update(Text(printable(self.text) or "…"))


class Transcript(VerticalScroll):
    """The transcript; keeps the latest line in view while replies stream."""

    can_focus = True

    def add(self, who: str, text: str, *, kind: str) -> Bubble:
        bubble = Bubble(who, text, kind=kind)
        self.mount(bubble)
        self.scroll_end(animate=False)
        return bubble

    def note(self, text: str) -> Bubble:
        return self.add("", text, kind="note")

    def user(self, who: str, text: str) -> Bubble:
        return self.add(who, text, kind="user")

    def reply(self, who: str) -> Bubble:
        return self.add(who, "", kind="reply")

    def follow(self) -> None:
        self.scroll_end(animate=False)

    @property
    def bubbles(self) -> list[Bubble]:
        return list(self.query(Bubble))
