"""Encryption at rest: round trip, wrong passphrase, crash-safe conversion, and the CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from voice_app import config, sessions
from voice_app.care import crypto, encryption
from voice_app.care.crypto import FILE_MAGIC, PassphraseRequiredError, WrongPassphraseError
from voice_app.importer import ensure_demo
from voice_app.store import Store

SECRET = "the blue umbrella on platform nine"
REPLY = "you always forgot it on the train"


@pytest.fixture(autouse=True)
def no_active_cipher() -> None:
    crypto.set_active(None)
    yield
    crypto.set_active(None)


def populated(home: Path) -> tuple[Store, int, list[Path]]:
    store = Store(home / "voice_app.sqlite3")
    ensure_demo(store)
    store.update_card("demo", {"shared_memories": [SECRET]})
    sid = store.start_session("demo", "voice", "embedded", "qwen")
    tone = np.sin(np.linspace(0, 440 * 2 * np.pi, 16000)).astype(np.float32) * 0.3
    refs = [sessions.write_audio(tone, 16000, f"audio/session-{sid}/turn-0-{side}.flac") for side in ("user", "reply")]
    turn = store.begin_turn(sid, SECRET, refs[0])
    store.complete_turn(turn, reply_text=REPLY, reply_audio=refs[1], memories=[{"them": SECRET}])
    return store, sid, [home / r for r in refs]


def raw_bytes(home: Path) -> bytes:
    return b"".join(p.read_bytes() for p in home.rglob("*") if p.is_file())


def test_round_trip_encrypts_texts_and_audio_and_reads_them_back(isolated_home: Path) -> None:
    store, sid, audio = populated(isolated_home)
    plain_messages = [m.text for m in store.messages("demo")]
    before = sessions.read_audio(f"audio/session-{sid}/turn-0-user.flac")
    encryption.enable(store, "correct horse")
    assert store.encryption_state == "on"
    store.close()
    blob = raw_bytes(isolated_home)
    for text in (SECRET, REPLY, "my dignity is not"):
        assert text.encode() not in blob, text
    assert all(p.read_bytes().startswith(FILE_MAGIC) for p in audio)
    crypto.set_active(None)
    with Store(isolated_home / "voice_app.sqlite3") as locked:
        with pytest.raises(PassphraseRequiredError):
            locked.messages("demo")
        encryption.unlock(locked, "correct horse")
        assert [m.text for m in locked.messages("demo")] == plain_messages
        assert locked.get_persona("demo").card == {"shared_memories": [SECRET]}
        turn = locked.turns(sid)[0]
        assert (turn["user_text"], turn["reply_text"], turn["memories"]) == (SECRET, REPLY, [{"them": SECRET}])
        after = sessions.read_audio(f"audio/session-{sid}/turn-0-user.flac")
        assert after is not None and before is not None and np.allclose(after[0], before[0], atol=1e-4)
        sid2 = locked.start_session("demo", "text", "embedded", "qwen")
        locked.begin_turn(sid2, "a new line written while encrypted")
        assert locked.turns(sid2)[0]["user_text"] == "a new line written while encrypted"
        encryption.disable(locked, "correct horse")
        assert locked.encryption_state == "off"
    assert SECRET.encode() in raw_bytes(isolated_home)
    assert not any(p.read_bytes().startswith(FILE_MAGIC) for p in audio)


def test_wrong_passphrase_is_clear_and_overwrites_nothing(isolated_home: Path) -> None:
    store, _, _ = populated(isolated_home)
    encryption.enable(store, "right one")
    store.close()
    snapshot = {p: p.read_bytes() for p in isolated_home.rglob("*") if p.is_file()}
    with Store(isolated_home / "voice_app.sqlite3") as again:
        with pytest.raises(WrongPassphraseError) as exc:
            encryption.unlock(again, "wrong one")
        assert "nothing was changed" in exc.value.message
        with pytest.raises(WrongPassphraseError):
            encryption.disable(again, "wrong one")
    after = {
        p: p.read_bytes() for p in isolated_home.rglob("*") if p.is_file() and not p.name.endswith(("-wal", "-shm"))
    }
    assert all(snapshot[p] == data for p, data in after.items())


def test_a_crash_during_conversion_is_finished_on_the_next_unlock(
    isolated_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store, sid, audio = populated(isolated_home)
    calls = {"n": 0}
    real = crypto.Cipher.encrypt_file

    def crash_after_first(self: crypto.Cipher, path: Path) -> None:
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt("power cut")
        real(self, path)

    with monkeypatch.context() as patched, pytest.raises(KeyboardInterrupt):
        patched.setattr(crypto.Cipher, "encrypt_file", crash_after_first)
        encryption.enable(store, "pass")
    store.close()
    crypto.set_active(None)
    with Store(isolated_home / "voice_app.sqlite3") as again:
        assert again.encryption_state == "converting-on"
        assert [m.text for m in again.messages("demo")][:1]  # texts are still all plain, readable
        encryption.unlock(again, "pass")
        assert again.encryption_state == "on"
        assert all(p.read_bytes().startswith(FILE_MAGIC) for p in audio)
        assert again.turns(sid)[0]["user_text"] == SECRET
    assert SECRET.encode() not in raw_bytes(isolated_home)


def test_cli_turns_it_on_and_needs_the_passphrase_after(isolated_home: Path) -> None:
    def run(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "voice_app", *args],
            capture_output=True,
            text=True,
            stdin=subprocess.DEVNULL,
            env={**os.environ, "VOICE_APP_HOME": str(isolated_home), **env},
            timeout=120,
        )

    assert run("personas").returncode == 0
    on = run("config", "set", "care.encryption", "on", VOICE_APP_PASSPHRASE="s3cret")
    assert on.returncode == 0, on.stderr
    assert config.load().care.encryption is True
    locked = run("sessions", "--json")
    assert locked.returncode == 2 and "VOICE_APP_PASSPHRASE" in locked.stderr
    wrong = run("sessions", "--json", VOICE_APP_PASSPHRASE="nope")
    assert wrong.returncode == 2 and "does not open" in wrong.stderr
    ok = run("sessions", "--json", VOICE_APP_PASSPHRASE="s3cret")
    assert ok.returncode == 0 and json.loads(ok.stdout) == []
