"""Encryption at rest: AES-GCM with associated data, under a random data key wrapped by a passphrase key.

Key scheme 2 (current): a random 256-bit data key encrypts everything; it is stored wrapped
(AES-GCM) under a key derived from the passphrase with scrypt (N = 2^17, r = 8, p = 1, its
parameters stored beside it, so they can be raised again later by rewrapping one key). Every value
is bound to where it lives (table, column and row, or the audio file's name) by the associated
data, so a value moved to another row or file does not open. Fingerprints used to find duplicates
are keyed hashes (HMAC-SHA256 under a subkey), so short texts cannot be recovered by guessing.

Key scheme 1 (before): the scrypt output (N = 2^15) was the data key and values had no associated
data; `voice_app.care.encryption` rekeys such a store to scheme 2 at its next unlock.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from voice_app.core.errors import VoiceAppError

TEXT_PREFIX = "enc2:"
LEGACY_TEXT_PREFIX = "enc1:"
FILE_MAGIC = b"VAENC2\n"
LEGACY_FILE_MAGIC = b"VAENC1\n"
VERIFIER_PLAINTEXT = b"voice_app passphrase check"
WRAP_AAD = b"voice_app data key v2"
SCRYPT_N = 2**17  # ~0.4 s and 128 MB on this CPU: current guidance for interactive logins is >= 2^17
LEGACY_SCRYPT_N = 2**15
PASSPHRASE_ENV = "VOICE_APP_PASSPHRASE"


class WrongPassphraseError(VoiceAppError):
    """The passphrase does not open this data dir."""

    default_fix = "Type it again (check Caps Lock); without it the encrypted data cannot be read by anyone."


class PassphraseRequiredError(VoiceAppError):
    """The data is encrypted and no passphrase was given."""

    default_fix = f"Run it in a terminal to be asked, or set {PASSPHRASE_ENV} for scripts."


class TamperedDataError(VoiceAppError):
    """A stored value failed authentication, or is plaintext where ciphertext must be."""

    default_fix = "Something changed the database or the audio files outside voice_app: restore them from a backup."


def derive_key(passphrase: str, salt: bytes, n: int = SCRYPT_N, r: int = 8, p: int = 1) -> bytes:
    if not passphrase:
        raise PassphraseRequiredError("An empty passphrase cannot protect anything.")
    return Scrypt(salt=salt, length=32, n=n, r=r, p=p).derive(passphrase.encode("utf-8"))


@dataclass(frozen=True)
class KeyParams:
    """Scheme 2 key material kept in the database's meta table: the KDF parameters and the wrapped key."""

    salt: bytes
    n: int
    r: int
    p: int
    wrapped: bytes

    @classmethod
    def new(cls, passphrase: str, data_key: bytes | None = None) -> tuple[KeyParams, Cipher]:
        """Fresh material for a passphrase (a new random data key unless one is given)."""
        data_key = data_key or AESGCM.generate_key(bit_length=256)
        salt = os.urandom(16)
        kek = derive_key(passphrase, salt)
        nonce = os.urandom(12)
        wrapped = nonce + AESGCM(kek).encrypt(nonce, data_key, WRAP_AAD)
        return cls(salt, SCRYPT_N, 8, 1, wrapped), Cipher(data_key)

    def unlock(self, passphrase: str) -> Cipher:
        kek = derive_key(passphrase, self.salt, self.n, self.r, self.p)
        try:
            data_key = AESGCM(kek).decrypt(self.wrapped[:12], self.wrapped[12:], WRAP_AAD)
        except (InvalidTag, ValueError):
            raise WrongPassphraseError(
                "That passphrase does not open this voice_app data; nothing was changed."
            ) from None
        return Cipher(data_key)

    def dumps(self) -> str:
        return json.dumps(
            {"kdf": "scrypt", "n": self.n, "r": self.r, "p": self.p, "salt": self.salt.hex(), "key": self.wrapped.hex()}
        )

    @classmethod
    def loads(cls, text: str) -> KeyParams:
        data = json.loads(text)
        salt, wrapped = bytes.fromhex(data["salt"]), bytes.fromhex(data["key"])
        return cls(salt, int(data["n"]), int(data["r"]), int(data["p"]), wrapped)


@dataclass(frozen=True)
class LegacyKeyParams:
    """Scheme 1: the scrypt (N = 2^15) output is the data key; a verifier value checks the passphrase."""

    salt: bytes
    verifier: str

    def unlock(self, passphrase: str) -> LegacyCipher:
        cipher = LegacyCipher(derive_key(passphrase, self.salt, LEGACY_SCRYPT_N))
        try:
            ok = cipher.decrypt_text(self.verifier) == VERIFIER_PLAINTEXT.decode()
        except WrongPassphraseError:
            ok = False
        if not ok:
            raise WrongPassphraseError("That passphrase does not open this voice_app data; nothing was changed.")
        return cipher


class Cipher:
    """Encrypts texts (a printable `enc2:` form) and files (a magic header), each bound to where it lives."""

    def __init__(self, key: bytes) -> None:
        self._aead = AESGCM(key)
        self._hash_key = hmac.new(key, b"voice_app fingerprint key", hashlib.sha256).digest()

    def encrypt_bytes(self, data: bytes, aad: bytes) -> bytes:
        nonce = os.urandom(12)
        return nonce + self._aead.encrypt(nonce, data, aad)

    def decrypt_bytes(self, blob: bytes, aad: bytes) -> bytes:
        try:
            return self._aead.decrypt(blob[:12], blob[12:], aad)
        except (InvalidTag, ValueError):
            raise TamperedDataError(
                f"An encrypted value ({aad.decode(errors='replace')}) does not open: it was changed, or moved"
                " from another place."
            ) from None

    def encrypt_text(self, text: str, where: str) -> str:
        blob = self.encrypt_bytes(text.encode("utf-8"), where.encode("utf-8"))
        return TEXT_PREFIX + base64.b64encode(blob).decode("ascii")

    def decrypt_text(self, value: str, where: str) -> str:
        if not value.startswith(TEXT_PREFIX):
            raise TamperedDataError(f"The value of {where} is not encrypted, though encryption is on.")
        blob = base64.b64decode(value[len(TEXT_PREFIX) :])
        return self.decrypt_bytes(blob, where.encode("utf-8")).decode("utf-8")

    def keyed_hash(self, value: str) -> str:
        """HMAC-SHA256 (hex, 24 bytes) of a fingerprint: equal inputs match, guesses cannot be checked."""
        return hmac.new(self._hash_key, value.encode("utf-8"), hashlib.sha256).hexdigest()[:48]

    def encrypt_file(self, path: Path, aad: bytes) -> None:
        """In place, crash-safe (a temp file renamed over the original), the old bytes overwritten after."""
        data = path.read_bytes()
        if data.startswith(FILE_MAGIC):
            return
        replace_and_wipe(path, FILE_MAGIC + self.encrypt_bytes(data, aad))

    def decrypt_file(self, path: Path, aad: bytes) -> None:
        data = path.read_bytes()
        if data.startswith(FILE_MAGIC):
            replace_and_wipe(path, self.open_file_bytes(data, aad))

    def open_file_bytes(self, data: bytes, aad: bytes) -> bytes:
        if data.startswith(FILE_MAGIC):
            return self.decrypt_bytes(data[len(FILE_MAGIC) :], aad)
        raise TamperedDataError(f"The file {aad.decode(errors='replace')} is not encrypted, though encryption is on.")


class LegacyCipher:
    """Scheme 1 values: `enc1:` texts and `VAENC1` files without associated data (read only, to rekey)."""

    def __init__(self, key: bytes) -> None:
        self._aead = AESGCM(key)

    def decrypt_text(self, value: str) -> str:
        if not value.startswith(LEGACY_TEXT_PREFIX):
            return value
        blob = base64.b64decode(value[len(LEGACY_TEXT_PREFIX) :])
        try:
            return self._aead.decrypt(blob[:12], blob[12:], None).decode("utf-8")
        except (InvalidTag, ValueError):
            raise WrongPassphraseError("Encrypted data could not be opened with this key.") from None

    def open_file_bytes(self, data: bytes) -> bytes:
        if not data.startswith(LEGACY_FILE_MAGIC):
            return data
        blob = data[len(LEGACY_FILE_MAGIC) :]
        try:
            return self._aead.decrypt(blob[:12], blob[12:], None)
        except (InvalidTag, ValueError):
            raise WrongPassphraseError("Encrypted data could not be opened with this key.") from None


# Before a plain value that would read as ciphertext ("enc2: my notes", typed by the user) or as an
# escaped one: a private-use character, which text from a chat or a keyboard does not start with.
PLAIN_ESCAPE = "\ue000"


def store_plain(text: str) -> str:
    """`text` as stored unencrypted: escaped when it begins like ciphertext, so it reads back as text."""
    return PLAIN_ESCAPE + text if is_encrypted_text(text) or text.startswith(PLAIN_ESCAPE) else text


def read_plain(value: str) -> str:
    """A value `store_plain` wrote, back to the text."""
    return value[len(PLAIN_ESCAPE) :] if value.startswith(PLAIN_ESCAPE) else value


def is_encrypted_text(value: object) -> bool:
    return isinstance(value, str) and (value.startswith(TEXT_PREFIX) or value.startswith(LEGACY_TEXT_PREFIX))


def is_encrypted_file(path: Path) -> bool:
    with path.open("rb") as handle:
        head = handle.read(len(FILE_MAGIC))
    return head in (FILE_MAGIC, LEGACY_FILE_MAGIC)


def file_aad(path: Path) -> bytes:
    """What an audio file is bound to: its folder and name (`session-3/turn-7-user.flac`)."""
    return f"audio:{path.parent.name}/{path.name}".encode()


def replace_and_wipe(path: Path, data: bytes) -> None:
    """Write `data` over `path` atomically, then overwrite the replaced file's old bytes with zeros.

    The old file is held open across the rename, so its blocks can still be overwritten once the new
    file is safely in place: a crash at any point leaves either the old or the new file whole.
    """
    from voice_app.core.files import write_private

    try:
        old = path.open("r+b")
    except OSError:
        old = None
    try:
        write_private(path, data, what=f"the file {path.name}")
        if old is not None:
            size = os.fstat(old.fileno()).st_size
            old.seek(0)
            old.write(b"\0" * size)
            old.flush()
            os.fsync(old.fileno())
    finally:
        if old is not None:
            old.close()
