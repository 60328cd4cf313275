"""OpenAIChat: any OpenAI-compatible chat server (llama-server, vLLM, LM Studio…), streamed over SSE."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from typing import Any

import httpx

from voice_app.core.cancel import CancelToken
from voice_app.core.errors import (
    LLMConnectionLostError,
    LLMError,
    OpenAIAuthError,
    OpenAIModelMissingError,
    OpenAIUnavailableError,
)
from voice_app.llm.base import GenerationOptions, Message, ModelInfo

API_KEY_VARIABLES = ("VOICE_APP_OPENAI_API_KEY", "OPENAI_API_KEY")  # the key comes from the environment only


def api_key() -> str:
    return next((os.environ[v] for v in API_KEY_VARIABLES if os.environ.get(v)), "")


class OpenAIChat:
    """`/v1/chat/completions` with `stream: true`; typed errors for a refused connection, 401, 404, a cut stream."""

    def __init__(
        self,
        base_url: str,
        model: str = "",
        *,
        key: str | None = None,
        context_size: int = 4096,
        timeout: float = 120.0,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        key = api_key() if key is None else key
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        self._client = httpx.Client(headers=headers, timeout=httpx.Timeout(timeout, connect=5.0))
        self.model = model
        self._context_size = context_size

    @property
    def info(self) -> ModelInfo:
        return ModelInfo("openai", self.model, self._context_size)

    def models(self) -> list[str]:
        """What the server serves (GET /models)."""
        try:
            response = self._client.get(f"{self.base_url}/models")
        except httpx.HTTPError as exc:
            raise self._map(exc, started=False) from None
        self._raise_for_status(response)
        try:
            return [str(m["id"]) for m in response.json().get("data", []) if m.get("id")]
        except (ValueError, AttributeError, KeyError, TypeError) as exc:
            raise LLMError(f"{self.base_url}/models did not answer like an OpenAI-compatible server: {exc}") from None

    def check(self) -> None:
        """Fail early with a typed error when the server is down, refuses the key or lacks the model."""
        served = self.models()
        if not self.model:
            if not served:
                raise OpenAIModelMissingError(
                    f"The server at {self.base_url} lists no model.",
                    fix="Name one: `voice-app config set llm.openai_model NAME`.",
                )
            self.model = served[0]
        elif served and self.model not in served:
            raise OpenAIModelMissingError(
                f"The server at {self.base_url} has no model {self.model!r}; it serves: {', '.join(served)}.",
                fix="Pick one of those: `voice-app config set llm.openai_model NAME`.",
            )

    def warm_up(self, prefix: list[Message]) -> None:
        """Load the model and let the server cache the persona prefix: one token on it."""
        for _ in self.stream(prefix, GenerationOptions(max_tokens=1)):
            pass

    def _body(self, messages: list[Message], options: GenerationOptions) -> dict[str, Any]:
        body: dict[str, Any] = {
            "model": self.model,
            "messages": messages,
            "stream": True,
            "temperature": options.temperature,
            "top_p": options.top_p,
            "max_tokens": options.max_tokens,
        }
        if options.seed is not None:
            body["seed"] = options.seed
        return body

    def stream(
        self,
        messages: list[Message],
        options: GenerationOptions | None = None,
        cancel: CancelToken | None = None,
    ) -> Iterator[str]:
        options = options or GenerationOptions()
        started = False
        try:
            with self._client.stream(
                "POST", f"{self.base_url}/chat/completions", json=self._body(messages, options)
            ) as response:
                if response.status_code >= 400:
                    response.read()
                    self._raise_for_status(response)
                for line in response.iter_lines():  # leaving the block closes the stream (barge-in)
                    if cancel is not None and cancel.cancelled:
                        return
                    if not line.startswith("data:"):
                        continue
                    data = line[5:].strip()
                    if data == "[DONE]":
                        return
                    started = True
                    piece, finished = _delta(data)
                    if piece:
                        yield piece
                    if finished:
                        return
            raise LLMConnectionLostError(f"The server at {self.base_url} ended the reply before it was done.")
        except LLMError:
            raise
        except (httpx.HTTPError, ValueError) as exc:
            raise self._map(exc, started=started) from None

    def _raise_for_status(self, response: httpx.Response) -> None:
        if response.status_code < 400:
            return
        detail = _error_text(response)
        where = f"The server at {self.base_url}"
        if response.status_code in (401, 403):
            raise OpenAIAuthError(f"{where} refused the API key ({response.status_code}): {detail}")
        if response.status_code == 404:
            raise OpenAIModelMissingError(
                f"{where} has no model {self.model!r} or no such endpoint (404): {detail}",
                fix="Check `llm.openai_base_url` (it ends in /v1) and `llm.openai_model`"
                " (`voice-app config set llm.openai_model NAME`).",
            )
        raise LLMError(f"{where} answered with an error ({response.status_code}): {detail}")

    def _map(self, exc: Exception, *, started: bool) -> LLMError:
        if isinstance(exc, httpx.ConnectError) and not started:
            return OpenAIUnavailableError(f"No OpenAI-compatible server answers at {self.base_url}.")
        if isinstance(exc, httpx.TransportError | ValueError):
            return LLMConnectionLostError(
                f"The connection to {self.base_url} was lost mid-reply: {exc}.",
                fix="Check that the server is still running, then say your line again.",
            )
        return LLMError(f"The server at {self.base_url} failed: {exc}")

    def close(self) -> None:
        self._client.close()


def _delta(data: str) -> tuple[str, bool]:
    """The text of one SSE event and whether the choice finished."""
    event = json.loads(data)
    if "error" in event:
        raise LLMError(f"The server reported an error mid-reply: {event['error']}")
    choices = event.get("choices") or []
    if not choices:
        return "", False
    choice = choices[0]
    piece = (choice.get("delta") or {}).get("content") or ""
    return str(piece), bool(choice.get("finish_reason"))


def _error_text(response: httpx.Response) -> str:
    try:
        data = response.json()
        error = data.get("error", data.get("detail", data))
        return str(error.get("message", error) if isinstance(error, dict) else error)[:300]
    except ValueError:
        return response.text[:300]
