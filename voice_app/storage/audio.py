"""Audio files under the store's own folder: FLAC, 0600, encrypted and bound to their name when unlocked."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np

from voice_app.core.files import write_private
from voice_app.storage import crypto
from voice_app.storage.corrections import CorrectionStore


class AudioStore(CorrectionStore):
    """Turn audio (`audio/session-N/turn-M-user.flac`): paths come from `inside()`, bytes through the cipher."""

    def audio_ref(self, session_id: int, turn_id: int, side: str) -> str:
        """Where a turn's audio goes, relative to the data dir."""
        return f"audio/session-{int(session_id)}/turn-{int(turn_id)}-{side}.flac"

    def write_audio(self, samples: np.ndarray, rate: int, relative: str) -> str:
        """Write FLAC (encrypted when encryption is on); returns its reference."""
        import soundfile as sf

        path = self.inside(relative)
        buffer = io.BytesIO()
        clipped = np.clip(np.asarray(samples, dtype=np.float32), -1.0, 1.0)
        sf.write(buffer, clipped, rate, format="FLAC", subtype="PCM_16")
        data = buffer.getvalue()
        if self.cipher is not None:
            data = crypto.FILE_MAGIC + self.cipher.encrypt_bytes(data, crypto.file_aad(path))
        write_private(path, data, what=f"the audio file {relative}")
        return relative

    def read_audio(self, relative: str | None) -> tuple[np.ndarray, int] | None:
        """(mono float32 samples, rate) of a stored audio file, or None when there is none."""
        import soundfile as sf

        if not relative:
            return None
        path = self.inside(relative)
        if not path.exists():
            return None
        data, rate = sf.read(io.BytesIO(self.audio_bytes(path)), dtype="float32", always_2d=True)
        return data.mean(axis=1), int(rate)

    def audio_bytes(self, path: Path) -> bytes:
        """A stored audio file's plain bytes (decrypted when encryption is on)."""
        raw = path.read_bytes()
        if raw.startswith((crypto.FILE_MAGIC, crypto.LEGACY_FILE_MAGIC)):
            if self.cipher is None:
                raise crypto.PassphraseRequiredError(f"{path.name} is encrypted.")
            return self.cipher.open_file_bytes(raw, crypto.file_aad(path))
        if self.cipher is not None:  # plaintext where an encrypted file must be: refused, not played
            raise crypto.TamperedDataError(f"The audio file {path.name} is not encrypted, though encryption is on.")
        return raw
