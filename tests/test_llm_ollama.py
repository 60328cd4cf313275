"""The Ollama backend against a server speaking Ollama's exact wire format."""

from __future__ import annotations

import socket
import time

import pytest

from tests.ollama_fake import FakeOllama, FakeOllamaState
from voice_app.core import config
from voice_app.core.cancel import CancelToken
from voice_app.core.errors import LLMConnectionLostError, OllamaModelMissingError, OllamaUnavailableError
from voice_app.llm import open_chat_model
from voice_app.llm.backends import choose_backend, probe_ollama
from voice_app.llm.base import ChatModel, GenerationOptions
from voice_app.llm.ollama_chat import OllamaChat

MODEL = "qwen2.5:1.5b-instruct"
MESSAGES = [{"role": "system", "content": "You are Alex."}, {"role": "user", "content": "hey"}]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_streams_the_reply_with_options_and_keep_alive() -> None:
    with FakeOllama() as server:
        chat = OllamaChat(MODEL, host=server.host, context_size=2048, keep_alive="15m")
        assert isinstance(chat, ChatModel)
        pieces = list(chat.stream(MESSAGES, GenerationOptions(temperature=0.4, max_tokens=50, seed=7)))
        assert len(pieces) > 3
        assert "".join(pieces) == server.state.reply
        request = server.chat_requests()[-1]
        assert request["model"] == MODEL and request["stream"] is True
        assert request["messages"] == MESSAGES
        assert request["keep_alive"] == "15m"
        assert request["options"]["temperature"] == 0.4
        assert request["options"]["num_ctx"] == 2048
        assert request["options"]["num_predict"] == 50 and request["options"]["seed"] == 7
        assert chat.info.backend == "ollama" and chat.info.model == MODEL
        chat.close()


def test_warm_up_preloads_and_evaluates_the_prefix() -> None:
    with FakeOllama() as server:
        chat = OllamaChat(MODEL, host=server.host)
        chat.warm_up(MESSAGES[:1])
        request = server.chat_requests()[-1]
        assert request["messages"] == MESSAGES[:1]
        assert request["options"]["num_predict"] == 1
        assert request["keep_alive"] == "30m" and request["stream"] is False
        chat.check()  # /api/show answers for a present model


def test_missing_model_says_to_pull_it() -> None:
    with FakeOllama() as server:
        chat = OllamaChat("llama9", host=server.host)
        with pytest.raises(OllamaModelMissingError) as exc:
            list(chat.stream(MESSAGES))
        assert "ollama pull llama9" in (exc.value.fix or "")
        assert "not found, try pulling it first" in exc.value.message
        with pytest.raises(OllamaModelMissingError):
            chat.check()


def test_server_not_running_says_to_start_it() -> None:
    chat = OllamaChat(MODEL, host=f"http://127.0.0.1:{free_port()}")
    stream = chat.stream(MESSAGES)  # nothing happens until the first iteration
    with pytest.raises(OllamaUnavailableError) as exc:
        next(stream)
    assert "ollama serve" in (exc.value.fix or "")
    with pytest.raises(OllamaUnavailableError):
        chat.warm_up(MESSAGES[:1])


def test_server_dying_mid_stream_is_a_lost_connection() -> None:
    with FakeOllama(FakeOllamaState(die_after_chunks=3)) as server:
        chat = OllamaChat(MODEL, host=server.host)
        received: list[str] = []
        with pytest.raises(LLMConnectionLostError) as exc:
            for piece in chat.stream(MESSAGES):
                received.append(piece)
        assert len(received) == 3
        assert "lost" in exc.value.message or "ended" in exc.value.message
        assert exc.value.fix and "ollama serve" in exc.value.fix


def test_cancel_closes_the_http_stream() -> None:
    state = FakeOllamaState(reply=" ".join(f"w{i}" for i in range(200)), token_delay_s=0.02)
    with FakeOllama(state) as server:
        chat = OllamaChat(MODEL, host=server.host)
        cancel = CancelToken()
        received = []
        for piece in chat.stream(MESSAGES, cancel=cancel):
            received.append(piece)
            if len(received) == 5:
                cancel.cancel()
        assert len(received) <= 6
        deadline = time.monotonic() + 3
        while state.disconnects == 0 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert state.disconnects == 1  # the server saw the client hang up


def test_auto_backend_prefers_ollama_only_when_it_has_the_model(tmp_path: object) -> None:
    settings = config.Settings()
    with FakeOllama() as server:
        settings.set("llm.ollama_host", server.host)
        status = probe_ollama(server.host)
        assert status.reachable and status.models == [MODEL]
        assert choose_backend(settings) == "ollama"
        chat = open_chat_model(settings)
        assert chat.info.backend == "ollama"
        settings.set("llm.ollama_model", "other:7b")
        assert choose_backend(settings) == "embedded"
    settings.set("llm.ollama_host", f"http://127.0.0.1:{free_port()}")
    settings.set("llm.ollama_model", MODEL)
    assert not probe_ollama(settings.ollama_host()).reachable
    assert choose_backend(settings) == "embedded"
    settings.set("llm.backend", "ollama")
    assert choose_backend(settings) == "ollama"  # an explicit choice is kept; errors come with fixes
    with pytest.raises(OllamaUnavailableError):
        open_chat_model(settings)
