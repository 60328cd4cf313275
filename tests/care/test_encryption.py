"""Encryption at rest: round trip, wrong passphrase, crash-safe conversion, and the CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from voice_app.conversation.importing import ensure_demo
from voice_app.core import config
from voice_app.storage import crypto, encryption
from voice_app.storage.crypto import FILE_MAGIC, PassphraseRequiredError, WrongPassphraseError
from voice_app.storage.store import Store

SECRET = "the blue umbrella on platform nine"
REPLY = "you always forgot it on the train"


@pytest.fixture(autouse=True)
def no_active_cipher() -> None:
    yield


def populated(home: Path) -> tuple[Store, int, list[Path]]:
    store = Store(home / "voice_app.sqlite3")
    ensure_demo(store)
    store.update_card("demo", {"shared_memories": [SECRET]})
    sid = store.start_session("demo", "voice", "embedded", "qwen")
    tone = np.sin(np.linspace(0, 440 * 2 * np.pi, 16000)).astype(np.float32) * 0.3
    refs = [store.write_audio(tone, 16000, f"audio/session-{sid}/turn-0-{side}.flac") for side in ("user", "reply")]
    turn = store.begin_turn(sid, SECRET, refs[0])
    store.complete_turn(turn, reply_text=REPLY, reply_audio=refs[1], memories=[{"them": SECRET}])
    return store, sid, [home / r for r in refs]


def raw_bytes(home: Path) -> bytes:
    return b"".join(p.read_bytes() for p in home.rglob("*") if p.is_file())


def test_round_trip_encrypts_texts_and_audio_and_reads_them_back(isolated_home: Path) -> None:
    store, sid, audio = populated(isolated_home)
    plain_messages = [m.text for m in store.messages("demo")]
    before = store.read_audio(f"audio/session-{sid}/turn-0-user.flac")
    encryption.enable(store, "correct horse")
    assert store.encryption_state == "on"
    store.close()
    blob = raw_bytes(isolated_home)
    for text in (SECRET, REPLY, "my dignity is not"):
        assert text.encode() not in blob, text
    assert all(p.read_bytes().startswith(FILE_MAGIC) for p in audio)
    with Store(isolated_home / "voice_app.sqlite3") as locked:
        with pytest.raises(PassphraseRequiredError):
            locked.messages("demo")
        encryption.unlock(locked, "correct horse")
        assert [m.text for m in locked.messages("demo")] == plain_messages
        assert locked.get_persona("demo").card == {"shared_memories": [SECRET]}
        turn = locked.turns(sid)[0]
        assert (turn["user_text"], turn["reply_text"], turn["memories"]) == (SECRET, REPLY, [{"them": SECRET}])
        after = store.read_audio(f"audio/session-{sid}/turn-0-user.flac")
        assert after is not None and before is not None and np.allclose(after[0], before[0], atol=1e-4)
        sid2 = locked.start_session("demo", "text", "embedded", "qwen")
        locked.begin_turn(sid2, "a new line written while encrypted")
        assert locked.turns(sid2)[0]["user_text"] == "a new line written while encrypted"
        encryption.disable(locked, "correct horse")
        assert locked.encryption_state == "off"
    assert SECRET.encode() in raw_bytes(isolated_home)
    assert not any(p.read_bytes().startswith(FILE_MAGIC) for p in audio)


def test_text_that_begins_like_ciphertext_is_kept_as_text_with_encryption_off_on_and_off_again(
    isolated_home: Path,
) -> None:
    # What a user types or a chat holds may start with the store's own markers ("enc1:" was found by
    # the hostile-input fuzz test: replay then failed on the user's own line).
    lines = ["enc1:", "enc2: my notes", crypto.PLAIN_ESCAPE + "x", "plain"]
    store = Store(isolated_home / "voice_app.sqlite3")
    ensure_demo(store)
    sid = store.start_session("demo", "text", "embedded", "qwen")
    for line in lines:
        turn = store.begin_turn(sid, line)
        store.complete_turn(turn, reply_text=line)

    def said() -> list[tuple[str, str]]:
        return [(t["user_text"], t["reply_text"]) for t in store.turns(sid)]

    assert said() == [(line, line) for line in lines]
    encryption.enable(store, "correct horse")
    assert said() == [(line, line) for line in lines]
    encryption.disable(store, "correct horse")
    assert said() == [(line, line) for line in lines]
    store.close()


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

    def crash_after_first(self: crypto.Cipher, path: Path, aad: bytes) -> None:
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt("power cut")
        real(self, path, aad)

    with monkeypatch.context() as patched, pytest.raises(KeyboardInterrupt):
        patched.setattr(crypto.Cipher, "encrypt_file", crash_after_first)
        encryption.enable(store, "pass")
    store.close()
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


# --- every column, bound to its place, keyed fingerprints, rekeying, no plaintext side files ---------

SENDER = "Quillfeather"
QUOTED = "the ferry leaves at nine sharp"


def telegram_export(folder: Path) -> Path:
    """A Telegram Desktop export (result.json) with a reply and a reaction: the columns beyond `text`."""
    messages = [
        {"id": 1, "type": "message", "date": "2024-03-01T10:00:00", "from": SENDER, "from_id": "user1", "text": QUOTED},
        {
            "id": 2,
            "type": "message",
            "date": "2024-03-01T10:01:00",
            "from": "Sam",
            "from_id": "user2",
            "text": "ok",
            "reply_to_message_id": 1,
            "reactions": [{"type": "emoji", "count": 1, "emoji": "❤", "recent": [{"from": SENDER}]}],
        },
        {"id": 3, "type": "message", "date": "2024-03-01T10:02:00", "from": SENDER, "from_id": "user1", "text": "yes"},
    ]
    path = folder / "result.json"
    path.write_text(
        json.dumps({"name": SENDER, "type": "personal_chat", "id": 42, "messages": messages}), encoding="utf-8"
    )
    return path


def imported(home: Path, folder: Path) -> Store:
    from voice_app.conversation.importing import import_path

    store = Store(home / "voice_app.sqlite3")
    import_path(store, telegram_export(folder), persona="ferry", them=SENDER, consent_at="2024-01-01")
    return store


def test_every_column_with_content_or_identity_is_encrypted_and_fingerprints_are_keyed(
    isolated_home: Path, tmp_path: Path
) -> None:
    store = imported(isolated_home, tmp_path)
    plain_fps = {r[0] for r in store.query("SELECT fingerprint FROM messages")}
    assert store.query("SELECT reply_to FROM messages WHERE reply_to IS NOT NULL")[0][0] == QUOTED
    encryption.enable(store, "ferry pass")
    store.close()
    blob = raw_bytes(isolated_home)
    for secret in (SENDER, QUOTED, "result.json", "❤"):
        assert secret.encode() not in blob, secret
    with Store(isolated_home / "voice_app.sqlite3") as again:
        keyed = {r[0] for r in again.query("SELECT fingerprint FROM messages")}
        assert not keyed & plain_fps and all(len(fp) == 48 for fp in keyed)
        encryption.unlock(again, "ferry pass")
        assert {m.sender for m in again.messages("ferry")} == {SENDER, "Sam"}
        assert again.get_persona("ferry").them_name == SENDER
        # The same export again adds nothing: the keyed fingerprints match.
        from voice_app.conversation.importing import import_path

        assert import_path(again, tmp_path / "result.json", persona="ferry", them=SENDER).added == 0
        encryption.disable(again, "ferry pass")
        assert {r[0] for r in again.query("SELECT fingerprint FROM messages")} == plain_fps
        assert again.query("SELECT reply_to FROM messages WHERE reply_to IS NOT NULL")[0][0] == QUOTED


def test_values_moved_between_rows_or_left_in_plaintext_are_refused(isolated_home: Path) -> None:
    store, _sid, audio = populated(isolated_home)
    encryption.enable(store, "pw")
    rows = store.query("SELECT id, text FROM messages WHERE persona_id = 1 ORDER BY id LIMIT 2")
    store.query("UPDATE messages SET text = ? WHERE id = ?", (rows[1]["text"], rows[0]["id"]))  # swapped in
    with pytest.raises(crypto.TamperedDataError):
        store.messages("demo")
    store.query("UPDATE messages SET text = ? WHERE id = ?", ("injected plaintext", rows[0]["id"]))
    with pytest.raises(crypto.TamperedDataError):
        store.messages("demo")
    audio[0].write_bytes(audio[1].read_bytes())  # one turn's audio copied over another's
    with pytest.raises(crypto.TamperedDataError):
        store.read_audio(str(audio[0].relative_to(isolated_home)))


def test_an_interrupted_conversion_then_a_chat_writes_nothing_derived_from_the_plaintext(
    isolated_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store, _, _ = populated(isolated_home)
    real = crypto.Cipher.encrypt_file

    def disk_full(self: crypto.Cipher, path: Path, aad: bytes) -> None:
        raise OSError(28, "No space left on device")

    with monkeypatch.context() as patched, pytest.raises(OSError):
        patched.setattr(crypto.Cipher, "encrypt_file", disk_full)
        encryption.enable(store, "pw")
    assert real is crypto.Cipher.encrypt_file
    store.close()
    assert config.load().care.encryption is False  # the setting was never saved: the database is the truth
    (isolated_home / "config.toml").write_text('[llm]\nbackend = "embedded"\nmax_reply_tokens = 4\n')
    result = subprocess.run(
        [sys.executable, "-m", "voice_app", "chat", "demo", "--once", "hello", "--json"],
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "VOICE_APP_HOME": str(isolated_home), "VOICE_APP_PASSPHRASE": "pw"},
    )
    assert result.returncode == 0, result.stderr
    cache = isolated_home / "cache"
    assert not cache.exists() or not any(p.is_file() for p in cache.rglob("*"))
    assert config.load().care.encryption is True  # and the settings file follows it now
    assert SECRET.encode() not in raw_bytes(isolated_home)


def _legacy_store(home: Path, passphrase: str) -> None:
    """A store encrypted by the earlier key scheme (scrypt N=2^15 as the key, no associated data)."""
    import base64

    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    store, _sid, audio = populated(home)
    salt = os.urandom(16)
    aead = AESGCM(crypto.derive_key(passphrase, salt, crypto.LEGACY_SCRYPT_N))

    def enc1(text: str) -> str:
        nonce = os.urandom(12)
        return "enc1:" + base64.b64encode(nonce + aead.encrypt(nonce, text.encode(), None)).decode()

    with store.transaction() as conn:
        for table, columns in (
            ("messages", ("text",)),
            ("personas", ("card",)),
            ("turns", ("user_text", "reply_text", "reply_full", "memories")),
        ):
            for row in conn.execute(f"SELECT id, {', '.join(columns)} FROM {table}").fetchall():
                values = [enc1(v) if v else v for v in row[1:]]
                conn.execute(
                    f"UPDATE {table} SET {', '.join(c + ' = ?' for c in columns)} WHERE id = ?", (*values, row[0])
                )
        store.set_meta(conn, "kdf_salt", salt.hex())
        store.set_meta(conn, "kdf_verifier", enc1(crypto.VERIFIER_PLAINTEXT.decode()))
        store.set_encryption_state(conn, "on")
    for path in audio:
        nonce = os.urandom(12)
        path.write_bytes(crypto.LEGACY_FILE_MAGIC + nonce + aead.encrypt(nonce, path.read_bytes(), None))
    store.close()


def test_a_store_of_the_earlier_key_scheme_is_rekeyed_at_its_next_unlock(isolated_home: Path) -> None:
    _legacy_store(isolated_home, "old pass")
    with Store(isolated_home / "voice_app.sqlite3") as store:
        with pytest.raises(WrongPassphraseError):
            encryption.unlock(store, "not it")
        assert store.meta("kdf_v2") is None  # a wrong passphrase changed nothing
        encryption.unlock(store, "old pass")
        assert store.encryption_state == "on" and store.meta("kdf_salt") is None
        params = crypto.KeyParams.loads(store.meta("kdf_v2") or "")
        assert params.n == crypto.SCRYPT_N == 2**17
        assert all(r[0].startswith("enc2:") for r in store.query("SELECT text FROM messages") if r[0])
        assert store.turns(1)[0]["user_text"] == SECRET
        assert store.get_persona("demo").card == {"shared_memories": [SECRET]}
    for path in (isolated_home / "audio").rglob("*.flac"):
        assert path.read_bytes().startswith(crypto.FILE_MAGIC)
    with Store(isolated_home / "voice_app.sqlite3") as store:
        encryption.unlock(store, "old pass")
        assert store.read_audio("audio/session-1/turn-0-user.flac") is not None


def test_a_crash_while_the_card_is_open_in_the_editor_leaves_no_plaintext_in_the_data_dir(
    isolated_home: Path, tmp_path: Path
) -> None:
    store, _, _ = populated(isolated_home)
    encryption.enable(store, "pw")
    store.close()
    editor = tmp_path / "crashing-editor"
    editor.write_text("#!/bin/sh\nkill -9 $PPID\nsleep 5\n")
    editor.chmod(0o755)
    subprocess.run(
        [sys.executable, "-m", "voice_app", "persona", "edit", "demo"],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "VOICE_APP_HOME": str(isolated_home), "VOICE_APP_PASSPHRASE": "pw", "EDITOR": str(editor)},
    )
    assert SECRET.encode() not in raw_bytes(isolated_home)
    assert not list(isolated_home.rglob("persona-*.toml"))
    # Had it been left there, the forget scan (which looks for plaintext) would have found it.
    (isolated_home / "persona-left.toml").write_text(f'shared_memories = ["{SECRET}"]\n')
    from voice_app.conversation.forget import forget

    with Store(isolated_home / "voice_app.sqlite3") as again:
        encryption.unlock(again, "pw")
        again.update_card("demo", {"shared_memories": [SECRET]})
        report = forget(again, ["demo"])
    assert not report.clean and any("persona-left.toml" in line for line in report.leftovers)


def test_memory_embeddings_and_corrections_are_encrypted_and_forgotten(isolated_home: Path) -> None:
    from voice_app.conversation.forget import forget
    from voice_app.conversation.persona_data import memory_vectors

    store, _sid, _audio = populated(isolated_home)
    vectors = store.memory_vectors(store.get_persona("demo").id)
    assert vectors and '"f16"' in vectors  # computed at import, stored with the persona
    store.add_correction("demo", "what do you call me?", "the new message does not follow", "trouble, obviously")
    encryption.enable(store, "pw")
    store.close()
    blob = raw_bytes(isolated_home)
    for secret in (b"the new message does not follow", b"trouble, obviously", b'"f16"'):
        assert secret not in blob, secret
    with Store(isolated_home / "voice_app.sqlite3") as again:
        encryption.unlock(again, "pw")
        assert again.memory_vectors(again.get_persona("demo").id) == vectors
        assert [c.better for c in again.corrections("demo")] == ["trouble, obviously"]
        assert memory_vectors(again, "demo") is not None  # read back (and still usable) under encryption
        report = forget(again, ["demo"])
        assert report.clean, report
        assert again.query("SELECT COUNT(*) FROM corrections")[0][0] == 0
