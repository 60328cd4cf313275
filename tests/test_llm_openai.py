"""The OpenAI-compatible backend: against llama-cpp-python's own real server, and a wire-level fake for failures."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest

from voice_app.core import assets, config
from voice_app.core.cancel import CancelToken
from voice_app.core.errors import (
    LLMConnectionLostError,
    OpenAIAuthError,
    OpenAIModelMissingError,
    OpenAIUnavailableError,
    RemoteServerNotAllowedError,
)
from voice_app.llm import open_chat_model
from voice_app.llm.base import ChatModel, GenerationOptions, Message
from voice_app.llm.openai_chat import OpenAIChat

ALIAS = "qwen-local"
MESSAGES: list[Message] = [
    {"role": "system", "content": "You are Alex, texting with Sam. Reply in one short casual line."},
    {"role": "user", "content": "hey, what are you up to tonight?"},
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def real_server() -> Iterator[str]:
    """llama-cpp-python's own server (`python -m voice_app.llm.serve`, which runs `llama_cpp.server` on this
    build's CPU code) on loopback with the embedded GGUF: a real OpenAI-compatible server."""
    port = free_port()
    gguf = assets.resolve("llm").path
    command = [sys.executable, "-m", "voice_app.llm.serve", "--model", str(gguf), "--model_alias", ALIAS]
    command += ["--host", "127.0.0.1", "--port", str(port), "--n_ctx", "1024", "--n_threads", "2"]
    proc = subprocess.Popen(
        [*command, "--verbose", "false"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    base = f"http://127.0.0.1:{port}/v1"
    deadline = time.monotonic() + 300
    try:
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"llama_cpp.server exited: {proc.stderr.read().decode()[-2000:]}")  # type: ignore[union-attr]
            try:
                if httpx.get(f"{base}/models", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("llama_cpp.server did not start in 300 s")
            time.sleep(0.5)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()


@pytest.mark.slow
def test_streams_a_real_reply_from_the_llama_cpp_server(real_server: str) -> None:
    chat = OpenAIChat(real_server)
    assert isinstance(chat, ChatModel)
    chat.check()
    assert chat.model == ALIAS and chat.info.backend == "openai"  # the first model the server lists
    pieces = list(chat.stream(MESSAGES, GenerationOptions(temperature=0.0, max_tokens=24, seed=1)))
    assert len(pieces) >= 3 and "".join(pieces).strip()
    chat.warm_up(MESSAGES[:1])
    chat.close()


@pytest.mark.slow
def test_a_cancelled_reply_stops_at_once_on_the_real_server(real_server: str) -> None:
    chat = OpenAIChat(real_server, ALIAS)
    cancel = CancelToken()
    pieces: list[str] = []
    start = time.monotonic()
    for piece in chat.stream(MESSAGES, GenerationOptions(temperature=0.7, max_tokens=200, seed=3), cancel):
        pieces.append(piece)
        if len(pieces) == 2:
            cancel.cancel()
    assert len(pieces) == 2  # nothing after the cancel
    assert time.monotonic() - start < 60
    # the server is free again: the next request is answered
    assert "".join(chat.stream(MESSAGES, GenerationOptions(temperature=0.0, max_tokens=8, seed=1))).strip()
    chat.close()


@pytest.mark.slow
def test_a_model_the_real_server_does_not_have_is_named_with_the_ones_it_has(real_server: str) -> None:
    with pytest.raises(OpenAIModelMissingError) as raised:
        OpenAIChat(real_server, "llama-9-huge").check()
    assert ALIAS in raised.value.message and "llm.openai_model" in (raised.value.fix or "")


def test_the_backend_is_chosen_and_checked_from_the_settings(isolated_home: Any) -> None:
    with FakeOpenAI() as fake:
        settings = config.Settings()
        settings.set("llm.backend", "openai")
        settings.set("llm.openai_base_url", fake.base)
        settings.set("llm.openai_model", "served")
        chat = open_chat_model(settings)
        assert isinstance(chat, OpenAIChat) and chat.info.model == "served"
        settings.set("llm.openai_base_url", "http://192.0.2.10:8080/v1")  # another machine
        with pytest.raises(RemoteServerNotAllowedError) as raised:
            open_chat_model(settings)
        assert "llm.openai_base_url" in raised.value.message


# --- failures a real server will not produce on demand: a wire-level fake ------------------------------


class FakeOpenAI:
    """A server speaking OpenAI's chat-completions SSE, that can refuse the key, lack the model or cut the stream."""

    def __init__(self, mode: str = "ok", key: str = "") -> None:
        self.mode = mode
        self.key = key
        self.requests: list[dict[str, Any]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _send(self, status: int, body: dict[str, Any]) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _authorised(self) -> bool:
                if outer.key and self.headers.get("Authorization") != f"Bearer {outer.key}":
                    self._send(
                        401, {"error": {"message": "Incorrect API key provided", "type": "invalid_request_error"}}
                    )
                    return False
                return True

            def do_GET(self) -> None:
                if self._authorised():
                    self._send(200, {"object": "list", "data": [{"id": "served", "object": "model"}]})

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                outer.requests.append(body)
                if not self._authorised():
                    return
                if outer.mode == "missing":
                    self._send(404, {"error": {"message": f"The model `{body['model']}` does not exist"}})
                    return
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.end_headers()
                for word in ["hey ", "you, ", "not ", "much"]:
                    chunk = {"choices": [{"index": 0, "delta": {"content": word}, "finish_reason": None}]}
                    self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
                    self.wfile.flush()
                    if outer.mode == "drop":
                        self.close_connection = True
                        return  # the connection ends mid-reply: no finish_reason, no [DONE]
                end = {"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}
                self.wfile.write(f"data: {json.dumps(end)}\n\ndata: [DONE]\n\n".encode())
                self.close_connection = True

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> FakeOpenAI:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_the_request_carries_the_options_and_the_key_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VOICE_APP_OPENAI_API_KEY", "sk-local")
    with FakeOpenAI(key="sk-local") as fake:
        chat = OpenAIChat(fake.base, "served")
        text = "".join(chat.stream(MESSAGES, GenerationOptions(temperature=0.3, max_tokens=40, seed=9)))
        assert text == "hey you, not much"
        sent = fake.requests[-1]
        assert sent["stream"] is True and sent["messages"] == MESSAGES and sent["model"] == "served"
        assert (sent["temperature"], sent["max_tokens"], sent["seed"]) == (0.3, 40, 9)


def test_a_refused_key_says_where_the_key_goes() -> None:
    with FakeOpenAI(key="sk-right") as fake:
        chat = OpenAIChat(fake.base, "served", key="sk-wrong")
        with pytest.raises(OpenAIAuthError) as raised:
            list(chat.stream(MESSAGES))
        assert "401" in raised.value.message and "VOICE_APP_OPENAI_API_KEY" in (raised.value.fix or "")
        with pytest.raises(OpenAIAuthError):
            chat.check()


def test_a_missing_model_is_a_typed_error() -> None:
    with FakeOpenAI(mode="missing") as fake, pytest.raises(OpenAIModelMissingError) as raised:
        list(OpenAIChat(fake.base, "gpt-7").stream(MESSAGES))
    assert "404" in raised.value.message


def test_a_stream_cut_mid_reply_is_a_lost_connection() -> None:
    with FakeOpenAI(mode="drop") as fake:
        pieces: list[str] = []
        with pytest.raises(LLMConnectionLostError):
            for piece in OpenAIChat(fake.base, "served").stream(MESSAGES):
                pieces.append(piece)
        assert pieces == ["hey "]


def test_no_server_is_a_typed_error_with_the_fix() -> None:
    chat = OpenAIChat(f"http://127.0.0.1:{free_port()}/v1", "served")
    with pytest.raises(OpenAIUnavailableError) as raised:
        list(chat.stream(MESSAGES))
    assert "llm.openai_base_url" in (raised.value.fix or "")
