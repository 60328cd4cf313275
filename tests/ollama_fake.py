"""A local HTTP server that speaks Ollama's wire protocol (no real Ollama can be installed here).

It implements what voice_app uses, with the real field names: `/api/tags`, `/api/show`, `/api/chat`
(NDJSON stream with a final `done` object, or one JSON object when `stream` is false), the 404 body
for a missing model, and a mode that dies mid-stream.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


def _created_at() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass
class FakeOllamaState:
    """What the server holds and what it saw."""

    models: list[str] = field(default_factory=lambda: ["qwen2.5:1.5b-instruct"])
    reply: str = "I hear you. I never knew how to say it back then."
    token_delay_s: float = 0.0
    die_after_chunks: int | None = None  # close the socket abruptly after this many chunks
    requests: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    disconnects: int = 0  # streams the client closed before the end


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    state: FakeOllamaState  # set on the subclass made per server

    def log_message(self, format: str, *args: Any) -> None:  # silence the default stderr log
        return

    def _json(self, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _body(self) -> dict[str, Any]:
        length = int(self.headers.get("Content-Length") or 0)
        return json.loads(self.rfile.read(length) or b"{}")

    def _missing(self, name: str) -> None:
        self._json(404, {"error": f'model "{name}" not found, try pulling it first'})

    def do_GET(self) -> None:
        self.state.requests.append((self.path, {}))
        if self.path == "/api/tags":
            models = [
                {
                    "name": name,
                    "model": name,
                    "modified_at": "2026-11-01T10:00:00.000000000Z",
                    "size": 986061892,
                    "digest": "65ec06548149" + "0" * 52,
                    "details": {
                        "parent_model": "",
                        "format": "gguf",
                        "family": "qwen2",
                        "families": ["qwen2"],
                        "parameter_size": "1.5B",
                        "quantization_level": "Q4_K_M",
                    },
                }
                for name in self.state.models
            ]
            self._json(200, {"models": models})
        elif self.path in ("/", "/api/version"):
            self._json(200, {"version": "0.12.6"})
        else:
            self._json(404, {"error": "not found"})

    def do_HEAD(self) -> None:
        self.send_response(200)
        self.end_headers()

    def do_POST(self) -> None:
        body = self._body()
        self.state.requests.append((self.path, body))
        name = body.get("model", "")
        if self.path == "/api/show":
            if name not in self.state.models:
                self._json(404, {"error": f"model '{name}' not found"})
                return
            self._json(
                200,
                {
                    "modelfile": f"FROM {name}",
                    "parameters": 'stop "<|im_end|>"',
                    "template": "{{ .Prompt }}",
                    "details": {"format": "gguf", "family": "qwen2", "parameter_size": "1.5B"},
                    "model_info": {"general.architecture": "qwen2", "qwen2.context_length": 32768},
                    "capabilities": ["completion"],
                    "modified_at": "2026-11-01T10:00:00.000000000Z",
                },
            )
        elif self.path == "/api/chat":
            if name not in self.state.models:
                self._missing(name)
            elif body.get("stream", True):
                self._stream_chat(name, body)
            else:
                self._json(200, self._final(name, self._reply_for(body), body))
        else:
            self._json(404, {"error": "not found"})

    def _reply_for(self, body: dict[str, Any]) -> str:
        if not body.get("messages"):
            return ""  # a load-only request
        limit = (body.get("options") or {}).get("num_predict")
        words = self.state.reply.split(" ")
        return " ".join(words[:limit] if limit and limit > 0 else words)

    def _final(self, name: str, content: str, body: dict[str, Any]) -> dict[str, Any]:
        return {
            "model": name,
            "created_at": _created_at(),
            "message": {"role": "assistant", "content": content},
            "done_reason": "stop" if body.get("messages") else "load",
            "done": True,
            "total_duration": 4883583458,
            "load_duration": 1334875,
            "prompt_eval_count": 26,
            "prompt_eval_duration": 342546000,
            "eval_count": len(content.split()),
            "eval_duration": 4535599000,
        }

    def _chunk(self, payload: dict[str, Any]) -> None:
        data = (json.dumps(payload) + "\n").encode()
        self.wfile.write(f"{len(data):X}\r\n".encode() + data + b"\r\n")
        self.wfile.flush()

    def _stream_chat(self, name: str, body: dict[str, Any]) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/x-ndjson")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        words = self._reply_for(body).split(" ")
        pieces = [w if i == 0 else " " + w for i, w in enumerate(words)]
        try:
            for index, piece in enumerate(pieces):
                if self.state.die_after_chunks is not None and index == self.state.die_after_chunks:
                    self.connection.shutdown(socket.SHUT_RDWR)  # the server "crashes" mid-reply
                    self.close_connection = True
                    return
                self._chunk(
                    {
                        "model": name,
                        "created_at": _created_at(),
                        "message": {"role": "assistant", "content": piece},
                        "done": False,
                    }
                )
                time.sleep(self.state.token_delay_s)
            self._chunk(self._final(name, "", body))
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            self.state.disconnects += 1
            self.close_connection = True


class FakeOllama:
    """Context manager: a fake Ollama on 127.0.0.1 at a free port; `.host` is its URL."""

    def __init__(self, state: FakeOllamaState | None = None) -> None:
        self.state = state or FakeOllamaState()
        handler = type("Handler", (_Handler,), {"state": self.state})
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._server.daemon_threads = True
        self.host = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> FakeOllama:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def chat_requests(self) -> list[dict[str, Any]]:
        return [body for path, body in self.state.requests if path == "/api/chat"]
