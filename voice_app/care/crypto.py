"""Encryption at rest: AES-GCM under a key derived from the user's passphrase with scrypt."""

from __future__ import annotations

import base64
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from voice_app.errors import VoiceAppError

TEXT_PREFIX = "enc1:"
FILE_MAGIC = b"VAENC1\n"
VERIFIER_PLAINTEXT = b"voice_app passphrase check"
SCRYPT_N = 2**15  # ~0.1 s and 32 MB on this CPU: slow for guessing, quick for one unlock
PASSPHRASE_ENV = "VOICE_APP_PASSPHRASE"


class WrongPassphraseError(VoiceAppError):
    """The passphrase does not open this data dir."""

    default_fix = "Type it again (check Caps Lock); without it the encrypted data cannot be read by anyone."


class PassphraseRequiredError(VoiceAppError):
    """The data is encrypted and no passphrase was given."""

    default_fix = f"Run it in a terminal to be asked, or set {PASSPHRASE_ENV} for scripts."


@dataclass(frozen=True)
class KeyParams:
    """What is stored (in the database's meta table) to re-derive and check the key."""

    salt: bytes
    verifier: str  # the verifier plaintext encrypted under the key

    @classmethod
    def new(cls, passphrase: str) -> tuple[KeyParams, Cipher]:
        salt = os.urandom(16)
        cipher = Cipher(derive_key(passphrase, salt))
        return cls(salt, cipher.encrypt_text(VERIFIER_PLAINTEXT.decode())), cipher

    def unlock(self, passphrase: str) -> Cipher:
        cipher = Cipher(derive_key(passphrase, self.salt))
        try:
            ok = cipher.decrypt_text(self.verifier) == VERIFIER_PLAINTEXT.decode()
        except WrongPassphraseError:
            ok = False
        if not ok:
            raise WrongPassphraseError("That passphrase does not open this voice_app data; nothing was changed.")
        return cipher


def derive_key(passphrase: str, salt: bytes) -> bytes:
    if not passphrase:
        raise PassphraseRequiredError("An empty passphrase cannot protect anything.")
    return Scrypt(salt=salt, length=32, n=SCRYPT_N, r=8, p=1).derive(passphrase.encode("utf-8"))


class Cipher:
    """Encrypts texts (to a printable prefix form) and files (with a magic header); both authenticated."""

    def __init__(self, key: bytes) -> None:
        self._aead = AESGCM(key)

    def encrypt_bytes(self, data: bytes) -> bytes:
        nonce = os.urandom(12)
        return nonce + self._aead.encrypt(nonce, data, None)

    def decrypt_bytes(self, blob: bytes) -> bytes:
        try:
            return self._aead.decrypt(blob[:12], blob[12:], None)
        except (InvalidTag, ValueError):
            raise WrongPassphraseError("Encrypted data could not be opened with this key.") from None

    def encrypt_text(self, text: str) -> str:
        if is_encrypted_text(text):
            return text
        return TEXT_PREFIX + base64.b64encode(self.encrypt_bytes(text.encode("utf-8"))).decode("ascii")

    def decrypt_text(self, value: str) -> str:
        if not is_encrypted_text(value):
            return value
        return self.decrypt_bytes(base64.b64decode(value[len(TEXT_PREFIX) :])).decode("utf-8")

    def encrypt_file(self, path: Path) -> None:
        """In place, crash-safe: a temp file renamed over the original; already-encrypted files are skipped."""
        data = path.read_bytes()
        if data.startswith(FILE_MAGIC):
            return
        _replace(path, FILE_MAGIC + self.encrypt_bytes(data))

    def decrypt_file(self, path: Path) -> None:
        data = path.read_bytes()
        if data.startswith(FILE_MAGIC):
            _replace(path, self.open_file_bytes(data))

    def open_file_bytes(self, data: bytes) -> bytes:
        return self.decrypt_bytes(data[len(FILE_MAGIC) :]) if data.startswith(FILE_MAGIC) else data


def is_encrypted_text(value: object) -> bool:
    return isinstance(value, str) and value.startswith(TEXT_PREFIX)


def is_encrypted_file(path: Path) -> bool:
    with path.open("rb") as handle:
        return handle.read(len(FILE_MAGIC)) == FILE_MAGIC


def _replace(path: Path, data: bytes) -> None:
    from voice_app.files import write_private

    write_private(path, data, what=f"the file {path.name}")


_active: Cipher | None = None


def set_active(cipher: Cipher | None) -> None:
    """The unlocked cipher of this process's data dir (audio files are read and written through it)."""
    global _active
    _active = cipher


def active() -> Cipher | None:
    return _active
