"""The "memories used" panel: the real past messages the last reply drew on."""

from __future__ import annotations

from rich.text import Text
from textual.containers import VerticalScroll
from textual.widgets import Static

from voice_app.core.textsafe import printable
from voice_app.core.types import Memory


class MemoriesPanel(VerticalScroll):
    """Each memory is a real exchange: what you wrote, what they answered, and when."""

    def __init__(self, *, them: str = "them", me: str = "you", id: str | None = None) -> None:
        super().__init__(id=id)
        self.them = them
        self.me = me
        self.border_title = "memories used"
        self.memories: list[Memory] = []

    def on_mount(self) -> None:
        hint = Text("The real past messages a reply draws on show here.", style="dim")
        self.mount(Static(hint, classes="memory empty"))

    def show(self, memories: list[Memory]) -> None:
        self.memories = list(memories)
        self.remove_children()
        if not memories:
            self.mount(Static(Text("This reply drew on no past messages.", style="dim"), classes="memory empty"))
            return
        for item in memories:
            text = Text()
            stamp = item.ts[:10]
            if stamp:
                text.append(stamp + "\n", style="dim")
            text.append(printable(f"{self.me}: "), style="bold")
            text.append(printable(item.you) + "\n")
            text.append(printable(f"{self.them}: "), style="bold")
            text.append(printable(item.them))
            self.mount(Static(text, classes="memory"))
