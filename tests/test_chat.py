"""`voice-app chat`: streamed text sessions saved in the store, on the embedded model and on Ollama."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.ollama_fake import FakeOllama
from voice_app.conversation.conversation import Conversation
from voice_app.conversation.importing import ensure_demo
from voice_app.core import config
from voice_app.llm.ollama_chat import OllamaChat
from voice_app.persona import lexicon
from voice_app.storage.store import Store

CHAT_KEYS = {"reply", "backend", "model", "ttft_s", "total_s", "session", "care", "warm_up_s"}


def closed_port_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{s.getsockname()[1]}"


def voice_app(home: Path, *args: str, stdin: str | None = None, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "voice_app", *args],
        capture_output=True,
        text=True,
        input=stdin,
        timeout=600,
        env={**os.environ, "VOICE_APP_HOME": str(home), **env},
    )


@pytest.mark.slow
def test_once_json_on_a_fresh_install_without_ollama(isolated_home: Path) -> None:
    result = voice_app(
        isolated_home, "chat", "demo", "--once", "hey, are you there?", "--json", OLLAMA_HOST=closed_port_url()
    )
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert set(data) == CHAT_KEYS
    assert data["backend"] == "embedded" and data["model"] == "qwen2.5-1.5b"
    assert data["reply"].strip()
    assert 0 < data["ttft_s"] <= data["total_s"]
    with Store(isolated_home / "voice_app.sqlite3") as store:
        turns = store.turns(data["session"])
        assert [(t["user_text"], t["status"]) for t in turns] == [("hey, are you there?", "complete")]
        assert turns[0]["reply_text"] == data["reply"]
        assert turns[0]["backend"] == "embedded"


def test_once_json_through_ollama_when_it_is_up(isolated_home: Path) -> None:
    with FakeOllama() as server:
        result = voice_app(isolated_home, "chat", "demo", "--once", "hey", "--json", OLLAMA_HOST=server.host)
        assert result.returncode == 0, result.stderr
        data = json.loads(result.stdout)
        # Alex (the demo persona) does not end messages with a full stop: the style adapter drops it.
        assert server.state.reply.endswith(".")
        assert (data["backend"], data["model"], data["reply"]) == (
            "ollama",
            "qwen2.5:1.5b-instruct",
            server.state.reply.removesuffix("."),
        )
        system = server.chat_requests()[-1]["messages"][0]
        assert system["role"] == "system" and "Alex" in system["content"]


def test_ollama_backend_down_is_a_clear_error(isolated_home: Path) -> None:
    result = voice_app(
        isolated_home, "chat", "demo", "--once", "hi", "--backend", "ollama", OLLAMA_HOST=closed_port_url()
    )
    assert result.returncode == 2
    assert "No Ollama server" in result.stderr and "ollama serve" in result.stderr
    assert "Traceback" not in result.stderr


def test_unknown_persona_is_a_clear_error(isolated_home: Path) -> None:
    result = voice_app(isolated_home, "chat", "nobody", "--once", "hi")
    assert result.returncode == 2 and "No persona named 'nobody'" in result.stderr and "demo" in result.stderr


def test_interactive_chat_streams_and_saves_every_turn(isolated_home: Path) -> None:
    with FakeOllama() as server:
        result = voice_app(
            isolated_home, "chat", "demo", stdin="hi there\n\nhow are you\n/quit\n", OLLAMA_HOST=server.host
        )
    assert result.returncode == 0, result.stderr
    assert result.stdout.count(server.state.reply.removesuffix(".") + "\n") == 2  # in Alex's style: no full stop
    with Store(isolated_home / "voice_app.sqlite3") as store:
        session = store.list_sessions("demo")[0]
        assert session.turns == 2 and session.ended_at is not None and session.backend == "ollama"


def test_session_sends_history_and_a_byte_identical_prefix(isolated_home: Path) -> None:
    with FakeOllama() as server, Store(isolated_home / "db.sqlite3") as store:
        ensure_demo(store)
        settings = config.Settings()
        model = OllamaChat("qwen2.5:1.5b-instruct", host=server.host)
        session = Conversation(store, "demo", settings=settings, model=model)
        session.warm_up()
        first = session.reply("do you remember the lake?")
        session.reply("why did you go quiet after that?")
        session.end()
        warm, one, two = server.chat_requests()
        n = len(session.prompt.prefix)
        assert warm["messages"] == session.prompt.prefix == one["messages"][:n] == two["messages"][:n]
        # The second turn repeats the first exactly as the model saw it, so its KV cache stays valid.
        assert two["messages"][n : n + 2] == [one["messages"][-1], {"role": "assistant", "content": first.reply}]
        assert one["messages"][-1]["content"].endswith("do you remember the lake?")
        assert two["messages"][-1]["content"].endswith("why did you go quiet after that?")
        assert store.history(session.session_id)[0] == ("do you remember the lake?", first.reply)


def test_every_turn_nudges_the_personas_own_words_and_keeps_their_name_out(isolated_home: Path) -> None:
    """Typed and spoken turns alike go through `Turn`, which hands the model the persona's words."""
    from tests.persona.fakes import EchoModel

    with Store(isolated_home / "db.sqlite3") as store:
        ensure_demo(store)
        model = EchoModel()
        session = Conversation(store, "demo", settings=config.Settings(), model=model)
        session.warm_up()
        session.reply("do you remember the lake?")
        session.end()
        sent = model.options[-1]
        assert sent is not None and sent.word_bias == session.prompt.word_bias != ()
        nudged = {word for word, bias in sent.word_bias if bias > 0}
        assert not nudged & {"alex", "sam"}
        assert nudged <= {word for word, _ in session.prompt.style.lexicon}  # type: ignore[union-attr]
        # and their own name kept out: the demo's Alex never writes "Alex" to Sam
        assert [(w, b) for w, b in sent.word_bias if b < 0] == [("alex", lexicon.KEPT_OUT)]
