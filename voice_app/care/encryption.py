"""Turning encryption at rest on and off in place, crash-safely, and unlocking an encrypted store."""

from __future__ import annotations

import getpass
import os
import shutil
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

from voice_app import config
from voice_app.care import crypto
from voice_app.care.crypto import Cipher, KeyParams, PassphraseRequiredError
from voice_app.store import Store

# (table, key column, encrypted columns): message texts, session texts, the card and the style profile.
ENCRYPTED_COLUMNS = (
    ("messages", "id", ("text",)),
    ("personas", "id", ("card", "style")),
    ("turns", "id", ("user_text", "reply_text", "reply_full", "memories")),
)


def _params(store: Store) -> KeyParams:
    salt, verifier = store.meta("kdf_salt"), store.meta("kdf_verifier")
    if not salt or not verifier:
        raise PassphraseRequiredError("This data dir has no encryption key material.")
    return KeyParams(bytes.fromhex(salt), verifier)


def audio_files(root: Path | None = None) -> Iterator[Path]:
    """Every stored audio file (FLAC) under the data dir."""
    root = root or config.data_dir() / "audio"
    if root.exists():
        yield from (p for p in sorted(root.rglob("*.flac")) if p.is_file())


def unlock(store: Store, passphrase: str) -> Cipher:
    """Check the passphrase, finish any interrupted conversion, and let the store read and write."""
    cipher = _params(store).unlock(passphrase)  # raises WrongPassphraseError before anything changes
    store.cipher = cipher
    crypto.set_active(cipher)
    state = store.encryption_state
    if state == "converting-on":
        _finish_on(store, cipher)
    elif state == "converting-off":
        _finish_off(store, cipher)
    return cipher


def enable(store: Store, passphrase: str) -> None:
    """Encrypt existing data in place. Re-runnable: every step is idempotent and recorded in meta."""
    if store.encryption_state in ("on", "converting-on"):
        unlock(store, passphrase)
        return
    params, cipher = KeyParams.new(passphrase)
    with store.transaction() as conn:
        store.set_meta(conn, "kdf_salt", params.salt.hex())
        store.set_meta(conn, "kdf_verifier", params.verifier)
        store.set_meta(conn, "encryption", "converting-on")
    store.cipher = cipher
    crypto.set_active(cipher)
    _finish_on(store, cipher)


def disable(store: Store, passphrase: str) -> None:
    """Decrypt everything back in place (after checking the passphrase)."""
    if store.encryption_state == "off":
        return
    cipher = _params(store).unlock(passphrase)
    with store.transaction() as conn:
        store.set_meta(conn, "encryption", "converting-off")
    _finish_off(store, cipher)
    store.cipher = None
    crypto.set_active(None)


def _finish_on(store: Store, cipher: Cipher) -> None:
    shutil.rmtree(config.data_dir() / "cache", ignore_errors=True)  # plain KV states of persona prefixes
    for path in audio_files():  # each file is replaced atomically; encrypted ones are skipped
        cipher.encrypt_file(path)
    _rewrite_columns(store, cipher.encrypt_text, final_state="on")


def _finish_off(store: Store, cipher: Cipher) -> None:
    for path in audio_files():
        cipher.decrypt_file(path)
    _rewrite_columns(store, cipher.decrypt_text, final_state="off")
    with store.transaction() as conn:
        conn.execute("DELETE FROM meta WHERE key IN ('kdf_salt', 'kdf_verifier')")


def _rewrite_columns(store: Store, transform: Callable[[str], str], final_state: str) -> None:
    """All text columns in one transaction with the state flag: a crash leaves all old or all new."""
    with store.transaction() as conn:
        for table, key, columns in ENCRYPTED_COLUMNS:
            rows = conn.execute(f"SELECT {key}, {', '.join(columns)} FROM {table}").fetchall()
            updates = [(*[transform(v) if v is not None else None for v in row[1:]], row[0]) for row in rows]
            assignments = ", ".join(f"{c} = ?" for c in columns)
            conn.executemany(f"UPDATE {table} SET {assignments} WHERE {key} = ?", updates)
        store.set_meta(conn, "encryption", final_state)
    store.compact()  # the old plaintext (or ciphertext) pages leave the file and the WAL


# --- getting the passphrase ------------------------------------------------------------------


def read_passphrase(confirm: bool = False, prompt: Callable[[str], str] | None = None) -> str:
    """From $VOICE_APP_PASSPHRASE, else asked in the terminal (twice when setting it)."""
    from_env = os.environ.get(crypto.PASSPHRASE_ENV)
    if from_env:
        return from_env
    if prompt is None:
        if not sys.stdin.isatty():
            raise PassphraseRequiredError("The passphrase is needed and there is no terminal to ask in.")
        prompt = getpass.getpass
    first = prompt("voice_app passphrase: ")
    if confirm and prompt("Again, to confirm: ") != first:
        raise PassphraseRequiredError("The two passphrases differ; nothing was changed.", fix="Try again.")
    return first


def open_unlocked(store: Store) -> Store:
    """Unlock the store if its data is encrypted (asks for the passphrase)."""
    if store.encryption_state != "off":
        unlock(store, read_passphrase())
    return store
