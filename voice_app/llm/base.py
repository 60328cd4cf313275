"""The ChatModel protocol every backend implements."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from voice_app.core.cancel import CancelToken

Message = dict[str, str]  # {"role": "system" | "user" | "assistant", "content": "..."}


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
    # (word, logits added) for the persona's own words; the embedded model applies it to each word's
    # single-token spellings, Ollama and OpenAI-compatible servers cannot (their tokenizer is not ours).
    word_bias: tuple[tuple[str, float], ...] = ()


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


@runtime_checkable
class PrefillingModel(Protocol):
    """A model with a local KV cache that can read a prompt ahead of the reply (the embedded one)."""

    def prefill(
        self,
        messages: list[Message],
        should_stop: Callable[[], bool] | None = None,
        *,
        max_tokens: int = 160,
        chunk: int = 32,
    ) -> int:
        """Evaluate `messages` (the last one left open) into the cache; returns the tokens it holds."""

    def is_cached(self, messages: list[Message], *, max_tokens: int = 160) -> bool:
        """Whether `messages` are wholly in the KV cache already."""
