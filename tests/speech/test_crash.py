"""A voice session killed with SIGKILL mid-reply: completed turns and their audio survive, the cut turn is partial."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from tests.speech.conftest import write_wav
from voice_app.cli import main
from voice_app.storage.store import Store

ROOT = Path(__file__).resolve().parents[2]


def turn_states(db: Path) -> list[tuple[int, str]]:
    if not db.exists():
        return []
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=1) as conn:
            return conn.execute("SELECT idx, status FROM turns ORDER BY id").fetchall()
    except sqlite3.OperationalError:
        return []  # the schema is not there yet


@pytest.mark.slow
def test_sigkill_mid_reply_keeps_completed_turns_and_marks_the_cut_one_partial(
    tmp_path: Path, isolated_home: Path, say, capsys: pytest.CaptureFixture[str]
) -> None:  # type: ignore[no-untyped-def]
    first = write_wav(tmp_path / "one.wav", np.concatenate([np.zeros(3200, np.float32), say("Hi Alex.")]))
    second = write_wav(
        tmp_path / "two.wav", np.concatenate([np.zeros(3200, np.float32), say("Tell me about the lake.")])
    )
    (isolated_home / "config.toml").write_text(
        '[stt]\nmodel = "whisper-tiny.en"\n[llm]\nbackend = "embedded"\nmax_reply_tokens = 120\n'
    )
    db = isolated_home / "voice_app.sqlite3"
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "voice_app",
            "talk",
            "demo",
            "--no-tui",
            "--input-wav",
            str(first),
            "--input-wav",
            str(second),
            "--seed",
            "1",
        ],
        cwd=ROOT,
        env={**os.environ, "VOICE_APP_HOME": str(isolated_home)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 480
    try:
        while time.monotonic() < deadline:
            if turn_states(db) == [(0, "complete"), (1, "partial")]:
                break  # the second reply is being generated right now
            assert process.poll() is None, process.stderr.read() if process.stderr else ""
            time.sleep(0.05)
        else:
            pytest.fail(f"never reached the second reply: {turn_states(db)}")
        time.sleep(0.3)
        process.send_signal(signal.SIGKILL)
        process.wait(10)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == -signal.SIGKILL
    with Store(db) as store:  # "after restart"
        assert store.query("PRAGMA integrity_check")[0][0] == "ok"
        session = store.list_sessions("demo")[0]
        done, cut = store.turns(session.id)
        assert done["status"] == "complete" and done["user_text"].lower().startswith("hi")
        assert done["reply_text"] and done["timeline"].get("first_audio_out") is not None
        for ref in (done["user_audio"], done["reply_audio"]):
            audio = store.read_audio(ref)
            assert audio is not None and len(audio[0]) / audio[1] > 0.3, ref
        assert cut["status"] == "partial" and cut["user_text"].lower().startswith("tell me") and cut["reply_text"] == ""
    capsys.readouterr()
    assert main(["export", str(session.id), "--format", "md", "-o", str(tmp_path / "s.md")]) == 0
    assert "interrupted: the session ended before this reply finished" in (tmp_path / "s.md").read_text()
