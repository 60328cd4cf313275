"""Signal helpers for speech: one resampler for playback, STT input and exports; a reply's lead-in trimmed."""

from __future__ import annotations

import numpy as np


def lowpass_kernel(cutoff: float, taps: int = 63) -> np.ndarray:
    """Windowed-sinc low-pass; `cutoff` as a fraction of the sample rate (0..0.5)."""
    n = np.arange(taps) - (taps - 1) / 2
    kernel = 2 * cutoff * np.sinc(2 * cutoff * n) * np.hamming(taps)
    taps_out: np.ndarray = (kernel / kernel.sum()).astype(np.float32)
    return taps_out


def resample(audio: np.ndarray, src: int, dst: int) -> np.ndarray:
    """Resample mono float32 audio (low-pass first when going down, then linear interpolation)."""
    audio = np.asarray(audio, dtype=np.float32).reshape(-1)
    if src == dst or len(audio) == 0:
        return audio
    if dst < src:
        audio = np.convolve(audio, lowpass_kernel(0.45 * dst / src), mode="same").astype(np.float32)
    count = round(len(audio) * dst / src)
    positions = np.arange(count, dtype=np.float64) * (src / dst)
    return np.interp(positions, np.arange(len(audio)), audio).astype(np.float32)


def without_lead_in(audio: np.ndarray, rate: int, threshold: float = 0.01, keep_ms: int = 10) -> np.ndarray:
    """The audio from just before its first audible sample (a voice's chunk opens with ~50-70 ms of
    near-silence: at the start of a reply that is only waiting)."""
    loud = np.flatnonzero(np.abs(audio) > threshold)
    if not len(loud):
        return audio
    return audio[max(0, int(loud[0]) - keep_ms * rate // 1000) :]
