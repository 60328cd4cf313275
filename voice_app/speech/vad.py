"""Streaming Silero VAD (the ONNX model shipped inside faster-whisper) and hands-free endpointing."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from voice_app.core.errors import ModelLoadError, ModelNotFoundError

RATE = 16000
WINDOW = 512  # samples per VAD step at 16 kHz (32 ms)
CONTEXT = 64  # samples of the previous window the model sees


def silero_path() -> Path:
    """The Silero VAD v6 ONNX file inside the installed faster-whisper."""
    try:
        import faster_whisper
    except ImportError:
        raise ModelNotFoundError(
            "faster-whisper is not installed, so its Silero VAD model is missing.", fix="Re-run scripts/setup.sh."
        ) from None
    path = Path(faster_whisper.__file__).parent / "assets" / "silero_vad_v6.onnx"
    if not path.exists():
        raise ModelNotFoundError(f"{path} is missing.", fix="Reinstall faster-whisper (`scripts/setup.sh`).")
    return path


_sessions: dict[str, object] = {}
_sessions_lock = threading.Lock()


def _session(path: Path) -> object:
    with _sessions_lock:
        if str(path) not in _sessions:
            try:
                import onnxruntime
            except ImportError:
                raise ModelLoadError("onnxruntime is not installed.", fix="Re-run scripts/setup.sh.") from None
            opts = onnxruntime.SessionOptions()
            opts.inter_op_num_threads = 1
            opts.intra_op_num_threads = 1
            opts.log_severity_level = 4
            _sessions[str(path)] = onnxruntime.InferenceSession(
                str(path), providers=["CPUExecutionProvider"], sess_options=opts
            )
        return _sessions[str(path)]


class SileroVAD:
    """Speech probability per 512-sample window at 16 kHz, keeping the model's state between calls."""

    def __init__(self, path: Path | None = None) -> None:
        self._session = _session(path or silero_path())
        self._pending = np.zeros(0, dtype=np.float32)
        self.reset()

    def reset(self) -> None:
        self._h = np.zeros((1, 1, 128), dtype=np.float32)
        self._c = np.zeros((1, 1, 128), dtype=np.float32)
        self._context = np.zeros(CONTEXT, dtype=np.float32)
        self._pending = np.zeros(0, dtype=np.float32)

    def window(self, samples: np.ndarray) -> float:
        """The speech probability of exactly one 512-sample window."""
        frame = np.concatenate([self._context, samples.astype(np.float32, copy=False)])[None, :]
        out, self._h, self._c = self._session.run(None, {"input": frame, "h": self._h, "c": self._c})  # type: ignore[attr-defined]
        self._context = samples[-CONTEXT:].astype(np.float32, copy=True)
        return float(np.asarray(out).reshape(-1)[0])

    def feed(self, samples: np.ndarray) -> list[float]:
        """Any number of samples; returns one probability per completed window."""
        buf = np.concatenate([self._pending, samples.astype(np.float32, copy=False)])
        count = len(buf) // WINDOW
        probs = [self.window(buf[i * WINDOW : (i + 1) * WINDOW]) for i in range(count)]
        self._pending = buf[count * WINDOW :]
        return probs


def speech_probabilities(audio: np.ndarray, vad: SileroVAD | None = None) -> np.ndarray:
    """One probability per 512-sample window of a whole 16 kHz clip (fresh state)."""
    vad = vad or SileroVAD()
    vad.reset()
    padded = np.concatenate([audio, np.zeros((-len(audio)) % WINDOW, dtype=np.float32)])
    return np.array(vad.feed(padded), dtype=np.float32)


LOOKBACK_MS, GAP_MS = 600, 200  # how far before the first clearly voiced window speech may have begun
HYSTERESIS = 0.15  # below the threshold: a window that goes on with speech already heard
GAP_WINDOWS, LOOKBACK_WINDOWS = GAP_MS * RATE // 1000 // WINDOW, LOOKBACK_MS * RATE // 1000 // WINDOW


def reach_back(
    probs: Sequence[float] | np.ndarray, first: int, low: float, gap_windows: int, lookback_windows: int
) -> int:
    """The earliest window before `first` where speech began: windows at `low` or more (a first word said
    apart, or said softly, as "I" often is), no more than `lookback_windows` back, across gaps of
    `gap_windows` at most."""
    start, gap = first, 0
    for i in range(first - 1, max(-1, first - 1 - lookback_windows), -1):
        if probs[i] >= low:
            start, gap = i, 0
        else:
            gap += 1
            if gap > gap_windows:
                break
    return start


def speech_bounds(
    audio: np.ndarray, threshold: float = 0.5, pad_ms: int = 150, probs: np.ndarray | None = None
) -> tuple[int, int] | None:
    """(start, end) sample indices of the speech in a clip, padded; None when it holds no speech.

    The start reaches back from the first voiced window as the endpointer's does (`reach_back`)."""
    probs = speech_probabilities(audio) if probs is None else probs
    voiced = np.flatnonzero(probs >= threshold)
    if len(voiced) == 0:
        return None
    pad = pad_ms * RATE // 1000
    first = reach_back(probs, int(voiced[0]), max(0.05, threshold - HYSTERESIS), GAP_WINDOWS, LOOKBACK_WINDOWS)
    start = max(0, first * WINDOW - pad)
    end = min(len(audio), (int(voiced[-1]) + 1) * WINDOW + pad)
    return start, end


def trim_silence(audio: np.ndarray, threshold: float = 0.5, pad_ms: int = 150) -> np.ndarray:
    """The clip without leading and trailing silence (Whisper hallucinates on silence); empty if no speech."""
    bounds = speech_bounds(audio, threshold, pad_ms)
    if bounds is None:
        return np.zeros(0, dtype=np.float32)
    return audio[bounds[0] : bounds[1]]


@dataclass
class Segment:
    """One stretch of speech found by the endpointer, with its pre-roll."""

    audio: np.ndarray  # 16 kHz float32: pre-roll + speech + the trailing silence that ended it
    speech_start: int  # sample index in the stream where speech was detected
    speech_end: int  # sample index where the last voiced window ended
    endpoint: int  # sample index where end of speech was declared


class Endpointer:
    """Hands-free turn detection: speech starts after `min_speech_ms` voiced, ends after `end_silence_ms` silence.

    Feed it 16 kHz audio as it arrives. `on_speech_start(sample)` fires when speech starts (the UI
    uses it for barge-in), `on_segment(segment)` when the end of speech is declared. A pre-roll of
    `preroll_ms` before the first voiced window is kept so the first syllable is not cut. Speech
    starts only after `min_speech_ms` voiced in a row, but a first word is often said apart or heard
    in shorter, weaker runs ("I | kept the photos"): the start reaches back over the windows heard as
    speech that goes on (the lower, hysteresis threshold) up to `lookback_ms` before the run, across
    gaps of up to `gap_ms`, so such words are kept too. With
    `sentence_done` (e.g. "the transcript of all the speech ends a sentence"), the end is declared
    after `short_silence_ms` when it says so: a finished question does not wait out a long pause.
    """

    def __init__(
        self,
        *,
        end_silence_ms: int = 600,
        preroll_ms: int = 300,
        threshold: float = 0.5,
        min_speech_ms: int = 96,
        lookback_ms: int = LOOKBACK_MS,
        gap_ms: int = GAP_MS,
        max_speech_s: float = 30.0,
        vad: SileroVAD | None = None,
        on_speech_start: Callable[[int], None] | None = None,
        on_segment: Callable[[Segment], None] | None = None,
        on_speech_audio: Callable[[np.ndarray], None] | None = None,
        short_silence_ms: int = 250,
        sentence_done: Callable[[], bool] | None = None,
    ) -> None:
        self.on_speech_audio = on_speech_audio  # every sample that goes into a segment, as it arrives
        self.short_windows = max(1, min(end_silence_ms, short_silence_ms) * RATE // 1000 // WINDOW)
        self.sentence_done = sentence_done
        self.vad = vad or SileroVAD()
        self.threshold = threshold
        self.off_threshold = max(0.05, threshold - HYSTERESIS)
        self.end_windows = max(1, end_silence_ms * RATE // 1000 // WINDOW)
        self.min_windows = max(1, min_speech_ms * RATE // 1000 // WINDOW)
        self.preroll = preroll_ms * RATE // 1000
        self.lookback_windows = lookback_ms * RATE // 1000 // WINDOW
        self.gap_windows = max(1, gap_ms * RATE // 1000 // WINDOW)
        # Windows of audio kept while nobody speaks: the pre-roll before the furthest reach back.
        self._history_windows = -(-self.preroll // WINDOW) + self.lookback_windows + self.min_windows + 1
        self.max_samples = int(max_speech_s * RATE)
        self.on_speech_start = on_speech_start
        self.on_segment = on_segment
        self._history = np.zeros(0, dtype=np.float32)  # recent audio kept for the pre-roll
        self._history_probs: list[float] = []  # the speech probability of each of its windows
        self._buf: list[np.ndarray] = []
        self._pending = np.zeros(0, dtype=np.float32)
        self.position = 0  # samples consumed (window-aligned)
        self.in_speech = False
        self._voiced_run = 0
        self._silent_run = 0
        self._start = 0
        self._last_voiced_end = 0
        self.last_probability = 0.0
        self.segments: list[Segment] = []

    def feed(self, samples: np.ndarray) -> list[Segment]:
        """Process audio; returns the segments completed by it (also passed to on_segment)."""
        done: list[Segment] = []
        buf = np.concatenate([self._pending, samples.astype(np.float32, copy=False)])
        count = len(buf) // WINDOW
        for i in range(count):
            window = buf[i * WINDOW : (i + 1) * WINDOW]
            seg = self._step(window)
            if seg is not None:
                done.append(seg)
        self._pending = buf[count * WINDOW :]
        return done

    def _step(self, window: np.ndarray) -> Segment | None:
        prob = self.vad.window(window)
        self.last_probability = prob
        start_of_window = self.position
        self.position += WINDOW
        if not self.in_speech:
            self._history = np.concatenate([self._history, window])[-self._history_windows * WINDOW :]
            self._history_probs = [*self._history_probs, prob][-self._history_windows :]
            if prob >= self.threshold:
                self._voiced_run += 1
                if self._voiced_run >= self.min_windows:
                    self.in_speech = True
                    self._silent_run = 0
                    voiced_from = self.position - self._reach_back() * WINDOW
                    keep = min(len(self._history), self.position - max(0, voiced_from - self.preroll))
                    self._buf = [self._history[-keep:].copy()]
                    self._start = voiced_from
                    self._last_voiced_end = self.position
                    if self.on_speech_start:
                        self.on_speech_start(voiced_from)
                    if self.on_speech_audio:
                        self.on_speech_audio(self._buf[0])
            else:
                self._voiced_run = 0
            return None
        self._buf.append(window.copy())
        if self.on_speech_audio:
            self.on_speech_audio(self._buf[-1])
        if prob >= self.off_threshold:
            self._silent_run = 0
            if prob >= self.threshold:
                self._last_voiced_end = start_of_window + WINDOW
        else:
            self._silent_run += 1
        too_long = self.position - self._start >= self.max_samples
        finished = self.sentence_done is not None and self._silent_run >= self.short_windows and self.sentence_done()
        if self._silent_run >= self.end_windows or too_long or finished:
            seg = Segment(np.concatenate(self._buf), self._start, self._last_voiced_end, self.position)
            self.in_speech = False
            self._voiced_run = 0
            self._buf = []
            self._history = np.zeros(0, dtype=np.float32)
            self._history_probs = []
            self.segments.append(seg)
            if self.on_segment:
                self.on_segment(seg)
            return seg
        return None

    def _reach_back(self) -> int:
        """How many windows back speech began, counting the voiced run that started it."""
        probs = self._history_probs
        run_start = len(probs) - self._voiced_run
        return len(probs) - reach_back(probs, run_start, self.off_threshold, self.gap_windows, self.lookback_windows)

    def current_audio(self) -> np.ndarray:
        """The audio of the segment in progress (pre-roll included)."""
        return np.concatenate(self._buf) if self._buf else np.zeros(0, dtype=np.float32)
