"""A tiny deterministic ChatModel for the fast tests (the real model is exercised in the slow tests)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator

from voice_app.core.cancel import CancelToken
from voice_app.llm.base import GenerationOptions, Message, ModelInfo


class EchoModel:
    """Replies with the first assistant example of the prompt plus a hash of the last user line."""

    def __init__(self) -> None:
        self.calls: list[list[Message]] = []
        self.warmed: list[list[Message]] = []
        self.options: list[GenerationOptions | None] = []

    @property
    def info(self) -> ModelInfo:
        return ModelInfo("fake", "echo", 4096)

    def warm_up(self, prefix: list[Message]) -> None:
        self.warmed.append(prefix)

    def stream(
        self, messages: list[Message], options: GenerationOptions | None = None, cancel: CancelToken | None = None
    ) -> Iterator[str]:
        self.calls.append(messages)
        self.options.append(options)
        example = next((m["content"] for m in messages if m["role"] == "assistant"), "ok")
        digest = hashlib.sha256(messages[-1]["content"].encode()).hexdigest()[:6]
        yield from (example.split("\n")[0], f" {digest}")

    def close(self) -> None:
        pass
