"""Fixtures for the speech tests: a real PulseAudio daemon with virtual devices, and shared models.

The daemon runs with its own runtime dir: null sinks `vspeaker` (the app's speaker) and `vcable`,
and a source `vmic` remapped from `vcable.monitor`, so `paplay -d vcable` is heard on the app's
microphone and `parecord -d vspeaker.monitor` records what the app played. sounddevice reaches it
through ALSA's `pulse` device (Debian's libasound2-plugins).
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from tests import virtual_audio
from tests.virtual_audio import Pulse, start_pulse, write_wav
from voice_app.core import config

__all__ = ["Pulse", "read_wav", "write_wav"]

RATE = 16000


def read_wav(path: Path) -> np.ndarray:
    return virtual_audio.read_wav(path)[:, 0]


@pytest.fixture(scope="session")
def pulse() -> Iterator[Pulse]:
    """PulseAudio with vspeaker/vcable/vmic; the process env points sounddevice at it; killed at the end."""
    started, why = start_pulse()
    if started is None:
        pytest.skip(f"PulseAudio cannot start here: {why}")
    # Not HOME: the daemon has its own, and this process keeps its cache dir (the fitted crisis model).
    saved = {k: os.environ.get(k) for k in ("XDG_RUNTIME_DIR", "PULSE_SERVER")}
    os.environ.update({k: started.env[k] for k in saved})
    if "sounddevice" in sys.modules:  # PortAudio enumerated devices before the server was up
        from voice_app.speech.audio import refresh_devices

        refresh_devices()
    from voice_app.speech.audio import list_devices

    names = [d["name"] for d in list_devices()]
    if "pulse" not in names:
        started.process.kill()
        pytest.skip(f"PortAudio sees no ALSA 'pulse' device (install libasound2-plugins); devices: {names}")
    yield started
    started.stop()
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


# --- shared models (loaded once per test run) ---------------------------------------------------------


@pytest.fixture(scope="session")
def synthesizer():  # type: ignore[no-untyped-def]
    from voice_app.speech.tts import Synthesizer

    return Synthesizer.from_settings(config.Settings())


@pytest.fixture(scope="session")
def tiny_en():  # type: ignore[no-untyped-def]
    from voice_app.speech.stt import Transcriber

    settings = config.Settings()
    settings.stt.model = "whisper-tiny.en"
    return Transcriber.from_settings(settings)


@pytest.fixture(scope="session")
def say(synthesizer):  # type: ignore[no-untyped-def]
    """Text → 16 kHz speech with the Piper voice."""
    from voice_app.core.signal import resample

    cache: dict[str, np.ndarray] = {}

    def speak(text: str) -> np.ndarray:
        if text not in cache:
            cache[text] = resample(synthesizer.synthesize(text), synthesizer.sample_rate, RATE)
        return cache[text]

    return speak


def words(text: str) -> list[str]:
    return "".join(ch.lower() if ch.isalnum() or ch.isspace() else " " for ch in text).split()


def word_error_rate(expected: str, got: str) -> float:
    return edit_rate(words(expected), words(got))


def han_and_words(text: str) -> list[str]:
    """The units of a character error rate: each Han character, each Latin word or number."""
    return re.findall(r"[\u4e00-\u9fff]|[A-Za-z0-9]+", text.lower())


def character_error_rate(expected: str, got: str) -> float:
    """Edit distance over Han characters and Latin words (punctuation and spaces ignored)."""
    return edit_rate(han_and_words(expected), han_and_words(got))


def edit_rate(ref: list[str], hyp: list[str]) -> float:
    """Levenshtein distance between two token lists, per reference token."""
    dist = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        prev, dist[0] = dist[0], i
        for j, h in enumerate(hyp, 1):
            prev, dist[j] = dist[j], min(dist[j] + 1, dist[j - 1] + 1, prev + (r != h))
    return dist[-1] / max(1, len(ref))
