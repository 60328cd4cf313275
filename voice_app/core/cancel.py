"""Cancellation shared by every stage (LLM stream, TTS, playback): set from any thread, read by all."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


class CancelToken:
    """Set from any thread (barge-in, Ctrl-C, a UI key); a stream stops at its next token."""

    def __init__(self) -> None:
        self._event = threading.Event()
        self.cancelled_at: float | None = None
        self._hooks: list[Callable[[], None]] = []

    def cancel(self) -> None:
        if not self._event.is_set():
            self.cancelled_at = time.perf_counter()
        self._event.set()
        for hook in list(self._hooks):
            hook()

    def on_cancel(self, hook: Callable[[], None]) -> Callable[[], None]:
        """Call `hook` when cancelled (at once if it already is); returns a function that removes it."""
        self._hooks.append(hook)
        if self.cancelled:
            hook()
        return lambda: self._hooks.remove(hook) if hook in self._hooks else None

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()
