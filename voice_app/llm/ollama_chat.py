"""OllamaChat: a model served by a local Ollama server, streamed through the `ollama` client."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import ollama

from voice_app.core.cancel import CancelToken
from voice_app.core.errors import LLMConnectionLostError, LLMError, OllamaModelMissingError, OllamaUnavailableError
from voice_app.llm.base import GenerationOptions, Message, ModelInfo


class OllamaChat:
    """Chat with an Ollama model: preloaded with keep_alive, streamed, typed errors with fixes."""

    def __init__(
        self,
        model: str,
        *,
        host: str,
        context_size: int = 4096,
        keep_alive: str = "30m",
        timeout: float = 120.0,
    ) -> None:
        self.host = host
        self.model = model
        self.keep_alive = keep_alive
        self._client = ollama.Client(host=host, timeout=timeout)
        self._info = ModelInfo("ollama", model, context_size)

    @property
    def info(self) -> ModelInfo:
        return self._info

    def _options(self, options: GenerationOptions) -> dict[str, Any]:
        opts: dict[str, Any] = {
            "temperature": options.temperature,
            "num_ctx": self._info.context_size,
            "num_predict": options.max_tokens,
            "top_p": options.top_p,
            "repeat_penalty": options.repeat_penalty,
        }
        if options.seed is not None:
            opts["seed"] = options.seed
        return opts

    def check(self) -> None:
        """Fail early with a typed error when the server is down or lacks the model."""
        try:
            self._client.show(self.model)
        except Exception as exc:  # noqa: BLE001 - mapped to typed errors below
            raise self._map(exc, started=False) from None

    def warm_up(self, prefix: list[Message]) -> None:
        """Load the model (kept alive) and let the server cache the prefix by evaluating it once."""
        try:
            self._client.chat(
                model=self.model,
                messages=prefix,
                options={**self._options(GenerationOptions()), "num_predict": 1},
                keep_alive=self.keep_alive,
            )
        except Exception as exc:  # noqa: BLE001
            raise self._map(exc, started=False) from None

    def stream(
        self,
        messages: list[Message],
        options: GenerationOptions | None = None,
        cancel: CancelToken | None = None,
    ) -> Iterator[str]:
        options = options or GenerationOptions()
        started = False
        chunks = None
        try:
            chunks = self._client.chat(
                model=self.model,
                messages=messages,
                stream=True,
                options=self._options(options),
                keep_alive=self.keep_alive,
            )
            for chunk in chunks:  # with stream=True, connection errors surface here, not at the call
                if cancel is not None and cancel.cancelled:
                    return
                started = True
                piece = chunk.message.content if chunk.message is not None else ""
                if piece:
                    yield piece
                if chunk.done:
                    return
            if started:
                raise LLMConnectionLostError(f"Ollama at {self.host} ended the reply before it was done.")
        except LLMError:
            raise
        except Exception as exc:  # noqa: BLE001
            raise self._map(exc, started=started) from None
        finally:
            if chunks is not None and hasattr(chunks, "close"):
                chunks.close()  # closes the HTTP stream at once (cancel / barge-in)

    def _map(self, exc: Exception, *, started: bool) -> LLMError:
        if isinstance(exc, ollama.ResponseError):
            if exc.status_code == 404:
                return OllamaModelMissingError(
                    f"Ollama at {self.host} does not have the model {self.model!r}: {exc.error}",
                    fix=f"Run `ollama pull {self.model}`, or pick another:"
                    " `voice-app config set llm.ollama_model NAME`.",
                )
            return LLMError(f"Ollama at {self.host} answered with an error: {exc.error} ({exc.status_code}).")
        if isinstance(exc, httpx.ConnectError | ConnectionError) and not started:
            return OllamaUnavailableError(f"No Ollama server is running at {self.host}.")
        if isinstance(exc, httpx.TransportError | ConnectionError | ValueError):
            return LLMConnectionLostError(f"The connection to Ollama at {self.host} was lost mid-reply: {exc}.")
        return LLMError(f"Ollama at {self.host} failed: {exc}")

    def close(self) -> None:
        inner = getattr(self._client, "_client", None)
        if isinstance(inner, httpx.Client):
            inner.close()
