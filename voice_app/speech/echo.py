"""Hands-free on loudspeakers: the app's own voice taken out of the microphone (WebRTC AEC3).

Without it the microphone hears each reply, the VAD takes it for the user, and the reply is cut
after its first word and then answered (measured through a virtual echo path, -15 dB at 40 ms).
WebRTC's audio processing module (livekit's wheel) subtracts what the speaker played from what
the microphone hears: the speaker's callback feeds it every block it outputs (silence included,
so the two streams stay aligned), and the microphone's blocks pass through it before the VAD. The
user's own voice stays: talking over a reply still barges in. Where the canceller cannot load,
half-duplex stops listening while the app speaks (and gives up barge-in by voice).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from voice_app.core.errors import AudioUnavailableError
from voice_app.speech.audio import RATE, AudioCallback, AudioSource, Playback, StreamResampler

FRAME = RATE // 100  # the canceller works on 10 ms frames
MODES = ("auto", "on", "off", "half-duplex")
ECHO_TAIL_S = 0.3  # half-duplex keeps not listening this long after the last sample (room, buffers)


def canceller_available() -> str | None:
    """None when the echo canceller loads here, else why not."""
    try:
        from livekit import rtc

        rtc.AudioProcessingModule(echo_cancellation=True)
    except Exception as exc:  # noqa: BLE001 - any failure (missing wheel, native library) means "cannot"
        return f"{type(exc).__name__}: {exc}"
    return None


def resolve_mode(setting: str) -> str:
    """What `audio.echo` means on this machine: on, off or half-duplex."""
    if setting not in MODES:
        raise AudioUnavailableError(f"audio.echo cannot be {setting!r}.", fix=f"Use one of: {', '.join(MODES)}.")
    if setting == "auto":
        return "on" if canceller_available() is None else "half-duplex"
    if setting == "on" and (why := canceller_available()) is not None:
        raise AudioUnavailableError(
            f"The echo canceller cannot load: {why}.",
            fix="Re-run scripts/setup.sh, or `voice-app config set audio.echo half-duplex` (or off with headphones).",
        )
    return setting


def _to_frame(samples: np.ndarray) -> Any:
    from livekit import rtc

    pcm = (np.clip(samples, -1.0, 1.0) * 32767).astype("<i2")
    return rtc.AudioFrame(pcm.tobytes(), RATE, 1, FRAME)


class EchoCanceller:
    """WebRTC AEC3 with a high-pass filter; `played()` from the speaker, `heard()` on the microphone."""

    def __init__(self, *, delay_ms: int = 40) -> None:
        try:
            from livekit import rtc

            self._apm = rtc.AudioProcessingModule(echo_cancellation=True, high_pass_filter=True)
        except Exception as exc:  # noqa: BLE001 - reported as a typed error
            raise AudioUnavailableError(
                f"The echo canceller cannot load: {exc}.",
                fix="Re-run scripts/setup.sh, or `voice-app config set audio.echo half-duplex`.",
            ) from None
        self._apm.set_stream_delay_ms(delay_ms)
        self._lock = threading.Lock()  # the speaker's and the microphone's callbacks run on two threads
        self._played = np.zeros(0, dtype=np.float32)
        self._heard = np.zeros(0, dtype=np.float32)
        self._resamplers: dict[int, StreamResampler] = {}
        self.frames_played = 0
        self.frames_heard = 0

    def played(self, block: np.ndarray, rate: int) -> None:
        """What the speaker outputs now, at its rate (called from its callback with every block)."""
        resampler = self._resamplers.get(rate)
        if resampler is None:
            resampler = self._resamplers[rate] = StreamResampler(rate, RATE)
        samples = resampler(np.asarray(block, dtype=np.float32).reshape(-1))
        with self._lock:
            buf = np.concatenate([self._played, samples])
            count = len(buf) // FRAME
            for i in range(count):
                self._apm.process_reverse_stream(_to_frame(buf[i * FRAME : (i + 1) * FRAME]))
            self.frames_played += count
            self._played = buf[count * FRAME :]

    def heard(self, block: np.ndarray) -> np.ndarray:
        """A 16 kHz microphone block with the app's voice taken out (whole frames; the rest waits)."""
        with self._lock:
            buf = np.concatenate([self._heard, np.asarray(block, dtype=np.float32).reshape(-1)])
            count = len(buf) // FRAME
            out = np.empty(count * FRAME, dtype=np.float32)
            for i in range(count):
                frame = _to_frame(buf[i * FRAME : (i + 1) * FRAME])
                self._apm.process_stream(frame)
                pcm = np.frombuffer(bytes(frame.data), dtype="<i2")
                out[i * FRAME : (i + 1) * FRAME] = pcm.astype(np.float32) / 32767
            self.frames_heard += count
            self._heard = buf[count * FRAME :]
        return out


class EchoCancelledSource:
    """A microphone (or any source) whose blocks pass through the canceller, `playback` its reference."""

    def __init__(self, source: AudioSource, canceller: EchoCanceller, playback: Playback) -> None:
        self.source = source
        self.canceller = canceller
        self.playback = playback

    def start(self, on_audio: AudioCallback) -> None:
        def cleaned(block: np.ndarray) -> None:
            out = self.canceller.heard(block)
            if len(out):
                on_audio(out)

        self.playback.monitor = self.canceller.played
        self.source.start(cleaned)

    def stop(self) -> None:
        self.source.stop()
        if self.playback.monitor == self.canceller.played:
            self.playback.monitor = None

    def __getattr__(self, name: str) -> Any:  # `done`, `device_rate`… of the source underneath
        return getattr(self.source, name)


def speaking(playback: Playback, tail_s: float = ECHO_TAIL_S) -> Callable[[], bool]:
    """For half-duplex: whether the app is speaking now or stopped less than `tail_s` ago."""

    def now_speaking() -> bool:
        if playback.playing:
            return True
        last = playback.state.last_sample_at
        return last is not None and time.perf_counter() - last < tail_s

    return now_speaking
