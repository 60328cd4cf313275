"""`voice-app demo` in a real terminal (tmux): type a line into the talk screen, find the streamed reply on the pane.

Runs the installed `voice-app demo` console command on the real
embedded model, with short replies set through the settings file in VOICE_APP_HOME.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from voice_app.storage.store import DB_NAME, Store

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed (scripts/setup.sh installs it)"),
]

STARTUP_TIMEOUT_S = 60
REPLY_TIMEOUT_S = 600  # the model loads and reads the persona prefix first (slow on 2 shared cores)
LINE = "tell me what you remember about the lake house"
# Long enough to stream over several clauses: a one-clause reply is shown whole and "speaking" lasts
# only until its last token, which a poll of the pane can miss.
REPLY_TOKENS = 40


class Tmux:
    """A private tmux server (its own socket), so nothing else running tmux is touched."""

    def __init__(self) -> None:
        self.socket = f"voice-app-test-{uuid.uuid4().hex[:8]}"
        self.session = "demo"

    def run(self, *args: str) -> str:
        return subprocess.run(
            ["tmux", "-L", self.socket, "-f", "/dev/null", *args],
            capture_output=True,
            text=True,
            check=True,
            timeout=20,
        ).stdout

    def start(self, command: str, width: int = 100, height: int = 30) -> None:
        self.run("new-session", "-d", "-s", self.session, "-x", str(width), "-y", str(height), command)
        self.run("set-option", "-t", self.session, "remain-on-exit", "on")

    def capture(self) -> str:
        return self.run("capture-pane", "-p", "-t", self.session)

    def keys(self, *keys: str, literal: bool = False) -> None:
        self.run("send-keys", "-t", self.session, *(["-l"] if literal else []), *keys)

    def dead(self) -> bool:
        return self.run("display-message", "-p", "-t", self.session, "#{pane_dead}").strip() == "1"

    def kill(self) -> None:
        subprocess.run(["tmux", "-L", self.socket, "kill-server"], capture_output=True, timeout=20)


def normalize(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def wait_for(predicate, timeout: float, step: float = 0.5, what: str = ""):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what or predicate}")
        time.sleep(step)


def completed_reply(db: Path) -> str | None:
    if not db.exists():
        return None
    with Store(db) as store:
        rows = store.query("SELECT reply_text FROM turns WHERE status = 'complete' ORDER BY id DESC LIMIT 1")
    return rows[0][0] if rows and rows[0][0] else None


def test_demo_in_a_real_terminal(isolated_home: Path) -> None:
    (isolated_home / "config.toml").write_text(
        f"[llm]\nmax_reply_tokens = {REPLY_TOKENS}\ntemperature = 0.0\n", encoding="utf-8"
    )
    root = Path(__file__).resolve().parents[2]
    env = {
        "VOICE_APP_HOME": str(isolated_home),
        "TERM": "xterm-256color",
        "PYTHONPATH": str(root),
        "TEXTUAL_ANIMATIONS": "none",
        "HOME": os.environ.get("HOME", "/tmp"),
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "LANG": "C.UTF-8",
    }
    exports = " ".join(f"{k}={v!s}" for k, v in env.items())
    cache = os.environ.get("VOICE_APP_CACHE")
    if cache:
        exports += f" VOICE_APP_CACHE={cache}"
    # `env -i`: a clean environment (pytest's COLUMNS/LINES would pin the app to their size, not the pane's).
    command = f"cd {root} && env -i {exports} {Path(sys.executable).parent / 'voice-app'} demo"
    tmux = Tmux()
    tmux.start(command)
    try:
        # The talk screen, opening with the reminder that this is a simulation.
        wait_for(
            lambda: "Type a line" in (pane := tmux.capture()) and "simulation of Alex" in normalize(pane),
            STARTUP_TIMEOUT_S,
            what="the talk screen and its reminder",
        )
        tmux.keys(LINE, literal=True)
        tmux.keys("Enter")
        wait_for(lambda: LINE in tmux.capture(), 20, what="the typed line in the transcript")
        partial_seen: list[str] = []

        def done() -> str | None:
            pane = tmux.capture()
            if "speaking" in pane:
                partial_seen.append(pane)
            return completed_reply(isolated_home / DB_NAME)

        reply = wait_for(done, REPLY_TIMEOUT_S, step=0.05, what="the reply to be stored")
        first_message = next(line for line in reply.splitlines() if line.strip())  # each message is its own line
        words = normalize(first_message).split(" ")
        head = ""
        for word in words:  # the reply's start, short enough not to wrap inside the bubble
            if len(head) + len(word) + 1 > 30:
                break
            head = f"{head} {word}".strip()
        head = head or normalize(first_message)[:30]

        def reply_on_pane() -> str | None:  # the reply in its bubble, and the state back to ready
            pane = tmux.capture()
            found = any(head in normalize(line) for line in pane.splitlines())
            return pane if found and "ready" in pane else None

        wait_for(reply_on_pane, 20, what=f"the reply {reply!r} on the pane")
        assert partial_seen, "the state never showed 'speaking' while the reply streamed"
        tmux.keys("C-g")  # end the session
        tmux.keys("C-q")
        wait_for(tmux.dead, 60, what="the app to exit")
    except BaseException:
        print("--- pane ---\n" + tmux.capture())  # after a crash, the traceback (the pane stays open)
        raise
    finally:
        tmux.kill()
