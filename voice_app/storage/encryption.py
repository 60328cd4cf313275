"""Turning encryption at rest on and off in place, crash-safely; unlocking, and rekeying an old store.

States (the database's `meta.encryption`, the one source of truth): off → converting-on → on →
converting-off → off, and rekeying (an old key-scheme-1 store moving to scheme 2). Each conversion
first does the audio files (one atomic replacement each, already-converted ones skipped), then
every encrypted column in one transaction together with the final state: a crash at any point is
finished by the next unlock.
"""

from __future__ import annotations

import getpass
import hashlib
import os
import shutil
import sys
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from voice_app.storage import crypto
from voice_app.storage.crypto import Cipher, KeyParams, LegacyCipher, LegacyKeyParams, PassphraseRequiredError
from voice_app.storage.store import Store

KEY_META = "kdf_v2"  # KeyParams.dumps(): scrypt parameters and the wrapped data key
LEGACY_META = ("kdf_salt", "kdf_verifier")


def audio_files(root: Path) -> Iterator[Path]:
    """Every stored audio file (FLAC) under the data dir's audio folder."""
    if root.exists():
        yield from (p for p in sorted(root.rglob("*.flac")) if p.is_file())


def _params(store: Store) -> KeyParams | None:
    text = store.meta(KEY_META)
    return KeyParams.loads(text) if text else None


def _legacy_params(store: Store) -> LegacyKeyParams | None:
    salt, verifier = store.meta(LEGACY_META[0]), store.meta(LEGACY_META[1])
    return LegacyKeyParams(bytes.fromhex(salt), verifier) if salt and verifier else None


def _attach(store: Store, cipher: Cipher | None) -> None:
    store.cipher = cipher  # the one place the key is held


def unlock(store: Store, passphrase: str) -> Cipher:
    """Check the passphrase, finish any interrupted conversion or rekey, and let the store read and write."""
    params, legacy = _params(store), _legacy_params(store)
    if params is None and legacy is None:
        raise PassphraseRequiredError("This data dir has no encryption key material.")
    if params is None:  # key scheme 1: rekey now (the passphrase is checked first, nothing changes on a wrong one)
        assert legacy is not None
        old = legacy.unlock(passphrase)
        params, cipher = KeyParams.new(passphrase)
        with store.transaction() as conn:
            store.set_meta(conn, KEY_META, params.dumps())
            store.set_encryption_state(conn, "rekeying")
        return _finish_rekey(store, old, cipher)
    cipher = params.unlock(passphrase)  # raises WrongPassphraseError before anything changes
    _attach(store, cipher)
    state = store.encryption_state
    if state == "rekeying":
        assert legacy is not None
        return _finish_rekey(store, legacy.unlock(passphrase), cipher)
    if state == "converting-on":
        _finish_on(store, cipher)
    elif state == "converting-off":
        _finish_off(store, cipher)
    return cipher


def enable(store: Store, passphrase: str) -> None:
    """Encrypt existing data in place. Re-runnable: every step is idempotent and recorded in meta."""
    if store.encryption_state in ("on", "converting-on", "rekeying"):
        unlock(store, passphrase)
        return
    params, cipher = KeyParams.new(passphrase)
    with store.transaction() as conn:
        store.set_meta(conn, KEY_META, params.dumps())
        store.set_encryption_state(conn, "converting-on")
    _attach(store, cipher)
    _finish_on(store, cipher)


def disable(store: Store, passphrase: str) -> None:
    """Decrypt everything back in place (after checking the passphrase)."""
    if store.encryption_state == "off":
        return
    cipher = unlock(store, passphrase)  # finishes any interrupted conversion first
    if store.encryption_state == "off":
        return
    with store.transaction() as conn:
        store.set_encryption_state(conn, "converting-off")
    _finish_off(store, cipher)
    _attach(store, None)


def _finish_on(store: Store, cipher: Cipher) -> None:
    shutil.rmtree(store.root / "cache", ignore_errors=True)  # plain KV states of persona prefixes
    for path in audio_files(store.root / "audio"):  # each file is replaced atomically; encrypted ones skipped
        cipher.encrypt_file(path, crypto.file_aad(path))
    store.legacy_cipher = None
    store.reencrypt(
        read=lambda value, where: crypto.read_plain(value),
        write=cipher.encrypt_text,
        refingerprint=lambda pid, old, row: cipher.keyed_hash(old),
        rekey_source=cipher.keyed_hash,
        final_state="on",
    )


def _finish_off(store: Store, cipher: Cipher) -> None:
    for path in audio_files(store.root / "audio"):
        cipher.decrypt_file(path, crypto.file_aad(path))
    seen: Counter[tuple[int, str]] = Counter()

    def plain_fingerprint(persona_id: int, old: str, row: dict[str, Any]) -> str:
        # The same fingerprint the importer computes (voice_app.chatlog.model.Message.fingerprint),
        # so re-importing a file after decryption still finds its messages.
        key = "\x1f".join((row["ts"], row["sender"] or "", row["text"] or "", row["kind"]))
        base = hashlib.blake2b(key.encode("utf-8", "surrogatepass"), digest_size=12).hexdigest()
        occurrence = seen[(persona_id, base)]
        seen[(persona_id, base)] += 1
        return f"{base}.{occurrence}" if occurrence else base

    store.reencrypt(
        read=cipher.decrypt_text,
        write=lambda text, where: crypto.store_plain(text),
        refingerprint=plain_fingerprint,
        rekey_source=lambda old: old,  # a keyed hash cannot be undone: a re-import of that exact file is
        final_state="off",  # then recognised by its messages' fingerprints instead
    )
    store.delete_meta(KEY_META, *LEGACY_META)


def _finish_rekey(store: Store, old: LegacyCipher, cipher: Cipher) -> Cipher:
    """Key scheme 1 → 2: every value re-encrypted under the new random key, bound to its place."""
    for path in audio_files(store.root / "audio"):
        data = path.read_bytes()
        if data.startswith(crypto.FILE_MAGIC):
            continue  # done before a crash
        plain = old.open_file_bytes(data)  # the plain bytes of an old file (or of one never encrypted)
        crypto.replace_and_wipe(path, crypto.FILE_MAGIC + cipher.encrypt_bytes(plain, crypto.file_aad(path)))
    store.legacy_cipher = old
    store.cipher = None  # reading: legacy texts only; writing: the new key
    store.reencrypt(
        read=lambda value, where: old.decrypt_text(value),
        write=cipher.encrypt_text,
        refingerprint=lambda pid, fp, row: cipher.keyed_hash(fp),
        rekey_source=cipher.keyed_hash,
        final_state="on",
    )
    store.legacy_cipher = None
    store.delete_meta(*LEGACY_META)
    _attach(store, cipher)
    return cipher


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
