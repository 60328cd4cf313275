"""The ChatModel protocol every backend implements, and the cancellation token they honour."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

Message = dict[str, str]  # {"role": "system" | "user" | "assistant", "content": "..."}


class CancelToken:
    """Set from any thread (barge-in, Ctrl-C, a UI key); a stream stops at its next token."""

    def __init__(self) -> None:
        self._event = threading.Event()
        self.cancelled_at: float | None = None
        self._hooks: list[Callable[[], None]] = []

    def cancel(self) -> None:
        import time

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


@dataclass(frozen=True)
class ModelInfo:
    """What the UI and `doctor` show about the model in use."""

    backend: str  # "embedded" | "ollama"
    model: str
    context_size: int


@dataclass(frozen=True)
class GenerationOptions:
    """Per-reply sampling settings."""

    temperature: float = 0.8
    max_tokens: int = 160
    top_p: float = 0.95
    repeat_penalty: float = 1.1
    seed: int | None = None


@runtime_checkable
class ChatModel(Protocol):
    """A local chat model that streams its reply token by token."""

    @property
    def info(self) -> ModelInfo: ...

    def warm_up(self, prefix: list[Message]) -> None:
        """Load the model and evaluate the fixed prompt prefix once, so later turns reuse it."""

    def stream(
        self,
        messages: list[Message],
        options: GenerationOptions | None = None,
        cancel: CancelToken | None = None,
    ) -> Iterator[str]:
        """Yield the reply's text pieces as they are generated; stop at once when `cancel` is set."""

    def close(self) -> None:
        """Release the model (and any connection)."""
