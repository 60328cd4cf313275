"""Zero network: import, a text session and the Ollama backend under a guard that blocks non-loopback traffic."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.ollama_fake import FakeOllama
from voice_app.conversation.importing import demo_history

ROOT = Path(__file__).resolve().parents[2]


def guarded(home: Path, log: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tests.care.netguard", str(log), *args],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=ROOT,
        env={**os.environ, "VOICE_APP_HOME": str(home), "OLLAMA_HOST": "http://127.0.0.1:9", **env},
    )


def log_lines(log: Path) -> list[str]:
    return log.read_text().splitlines() if log.exists() else []


def test_the_guard_blocks_and_logs_outside_connections(tmp_path: Path) -> None:
    log = tmp_path / "net.log"
    code = (
        "import socket, sys; from tests.care.netguard import install; install(sys.argv[1]);"
        "socket.create_connection(('203.0.113.7', 80), timeout=1)"
    )
    result = subprocess.run([sys.executable, "-c", code, str(log)], capture_output=True, text=True, cwd=ROOT)
    assert result.returncode != 0 and "network guard" in result.stderr
    assert "BLOCKED lookup 203.0.113.7" in log_lines(log)  # stopped before any packet left
    raw = "import socket, sys; from tests.care.netguard import install; install(sys.argv[1]);" + (
        "s = socket.socket(); s.settimeout(1); s.connect(('203.0.113.7', 80))"
    )
    result = subprocess.run([sys.executable, "-c", raw, str(log)], capture_output=True, text=True, cwd=ROOT)
    assert result.returncode != 0 and "BLOCKED ('203.0.113.7', 80)" in log_lines(log)


def test_import_and_inspect_make_no_connection(isolated_home: Path, tmp_path: Path) -> None:
    log = tmp_path / "net.log"
    for args in (
        ("inspect", str(demo_history())),
        ("import", str(demo_history()), "--persona", "a", "--them", "Alex", "--consent"),
    ):
        result = guarded(isolated_home, log, *args, "--json")
        assert result.returncode == 0, result.stderr
    assert log_lines(log) == []


@pytest.mark.slow
def test_embedded_text_session_makes_no_connection(isolated_home: Path, tmp_path: Path) -> None:
    log = tmp_path / "net.log"
    (isolated_home / "config.toml").write_text('[llm]\nbackend = "embedded"\nmax_reply_tokens = 12\n')
    result = guarded(isolated_home, log, "chat", "demo", "--once", "hey, are you there?", "--json")
    assert result.returncode == 0, result.stderr
    assert '"backend": "embedded"' in result.stdout
    assert log_lines(log) == []  # not even a lookup


def test_ollama_backend_connects_only_to_its_configured_host(isolated_home: Path, tmp_path: Path) -> None:
    log = tmp_path / "net.log"
    with FakeOllama() as server:
        result = guarded(isolated_home, log, "chat", "demo", "--once", "hey", "--json", OLLAMA_HOST=server.host)
    assert result.returncode == 0, result.stderr
    lines = log_lines(log)
    assert lines and all(line in ("connect 127.0.0.1", "resolve 127.0.0.1") for line in lines), lines
