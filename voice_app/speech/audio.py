"""Audio I/O with sounddevice (imported lazily: it raises OSError when PortAudio is missing).

Capture is 16 kHz mono float32 (resampled when a device cannot do 16 kHz); playback runs at the
voice's rate through a callback stream that stays open, so a reply starts on its first chunk and
stops within one block when the user barges in.
"""

from __future__ import annotations

import contextlib
import math
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from voice_app.core.errors import AudioUnavailableError
from voice_app.core.signal import lowpass_kernel

RATE = 16000
BLOCK = 512
# The microphone delivers 16 ms blocks: what was said just before the talk key came up reaches the app
# one device buffer (two blocks) later, 32 ms instead of 64 with BLOCK. On the virtual device, beside a
# CPU hog and a busy Python thread, 2 × 15 s at 256 lost no sample and reported no overrun.
MIC_BLOCK = 256

AudioCallback = Callable[[np.ndarray], None]


def sounddevice() -> Any:
    """The sounddevice module, or AudioUnavailableError when PortAudio cannot be loaded."""
    try:
        import sounddevice as sd
    except OSError as exc:  # "PortAudio library not found"
        raise AudioUnavailableError(f"PortAudio is not available: {exc}.") from None
    except ImportError as exc:
        raise AudioUnavailableError(
            f"sounddevice is not installed: {exc}.", fix="Re-run scripts/setup.sh; you can still type."
        ) from None
    return sd


def refresh_devices() -> None:
    """Make PortAudio enumerate the devices again (after a sound server started or a device was plugged)."""
    sd = sounddevice()
    with contextlib.suppress(Exception):
        sd._terminate()
    sd._initialize()


def list_devices() -> list[dict[str, Any]]:
    """Every device PortAudio sees: index, name, input/output channels, default rate."""
    sd = sounddevice()
    try:
        devices = sd.query_devices()
    except Exception as exc:  # noqa: BLE001 - PortAudioError and friends
        raise AudioUnavailableError(f"PortAudio cannot list sound devices: {exc}.") from None
    return [
        {
            "index": i,
            "name": d["name"],
            "inputs": int(d["max_input_channels"]),
            "outputs": int(d["max_output_channels"]),
            "rate": float(d["default_samplerate"]),
        }
        for i, d in enumerate(devices)
    ]


def find_device(spec: str | int | None, kind: str) -> int | None:
    """A device index from a setting: "" = the system default, a number = that index, text = a name match.

    Raises AudioUnavailableError when no such device exists or it has no channel of `kind`
    ("input" or "output"), or when there is no default device at all.
    """
    key = "inputs" if kind == "input" else "outputs"
    devices = list_devices()
    usable = [d for d in devices if d[key] > 0]
    text = str(spec).strip() if spec is not None else ""
    listing = "; ".join(f"{d['index']}: {d['name']}" for d in usable) or "none"
    setting = f"audio.{kind}_device"
    if not text:
        if not usable:
            raise AudioUnavailableError(f"No sound {kind} device was found.")
        sd = sounddevice()
        default = sd.default.device[0 if kind == "input" else 1]
        if default is None or int(default) < 0:
            return int(usable[0]["index"])
        return None
    if text.lstrip("-").isdigit():
        index = int(text)
        if any(d["index"] == index for d in usable):
            return index
        raise AudioUnavailableError(
            f"There is no {kind} device with index {index}.",
            fix=f"{kind.capitalize()} devices: {listing}. Set one with `voice-app config set {setting} NAME`.",
        )
    exact = [d for d in usable if d["name"].lower() == text.lower()]
    partial = exact or [d for d in usable if text.lower() in d["name"].lower()]
    if partial:
        return int(partial[0]["index"])
    raise AudioUnavailableError(
        f"No {kind} device is named {text!r}.",
        fix=f"{kind.capitalize()} devices: {listing}. Set one with `voice-app config set {setting} NAME`.",
    )


# --- signal helpers ----------------------------------------------------------------------------------


def level(samples: np.ndarray) -> float:
    """Loudness for a UI meter: RMS in dBFS mapped from -60..0 dB to 0..1."""
    if len(samples) == 0:
        return 0.0
    rms = float(np.sqrt(np.mean(np.square(samples, dtype=np.float64))))
    if rms <= 1e-6:
        return 0.0
    return min(1.0, max(0.0, (20 * math.log10(rms) + 60) / 60))


class StreamResampler:
    """Block-by-block resampling for a capture device that cannot run at 16 kHz."""

    def __init__(self, src: int, dst: int) -> None:
        self.src, self.dst = src, dst
        self._kernel = lowpass_kernel(0.45 * dst / src) if dst < src else None
        self._history = np.zeros(0 if self._kernel is None else len(self._kernel) - 1, dtype=np.float32)
        self._pos = 0.0  # next output position, in input samples relative to the buffer start
        self._tail = np.zeros(0, dtype=np.float32)

    def __call__(self, block: np.ndarray) -> np.ndarray:
        block = block.astype(np.float32, copy=False)
        if self.src == self.dst:
            return block
        if self._kernel is not None:
            joined = np.concatenate([self._history, block])
            block = np.convolve(joined, self._kernel, mode="valid").astype(np.float32)
            self._history = joined[-(len(self._kernel) - 1) :]
        buf = np.concatenate([self._tail, block])
        step = self.src / self.dst
        last = len(buf) - 1
        positions = np.arange(self._pos, last, step)
        out = np.interp(positions, np.arange(len(buf)), buf).astype(np.float32)
        next_pos = self._pos + len(positions) * step
        keep = math.floor(next_pos)
        self._tail = buf[keep:]
        self._pos = next_pos - keep
        return out


# --- capture -------------------------------------------------------------------------------------------


class AudioSource(Protocol):
    """Something that delivers 16 kHz mono float32 blocks to a callback: a microphone or a file."""

    def start(self, on_audio: AudioCallback) -> None: ...

    def stop(self) -> None: ...


class Microphone:
    """A sounddevice input stream delivering 16 kHz mono float32 blocks."""

    def __init__(self, device: str | int | None = "", *, block: int = MIC_BLOCK) -> None:
        self.device_spec = device
        self.block = block
        self.device_rate = RATE
        self._stream: Any = None

    def start(self, on_audio: AudioCallback) -> None:
        sd = sounddevice()
        device = find_device(self.device_spec, "input")
        info = sd.query_devices(device, "input")

        def open_at(rate: int) -> Any:
            converter = StreamResampler(rate, RATE)

            def callback(indata: np.ndarray, frames: int, when: Any, status: Any) -> None:
                on_audio(converter(indata[:, 0].copy()))

            blocksize = int(self.block * rate / RATE)
            stream = sd.InputStream(
                device=device, channels=1, samplerate=rate, dtype="float32", blocksize=blocksize, callback=callback
            )
            stream.start()
            return stream

        try:
            try:
                self._stream = open_at(RATE)
            except sd.PortAudioError:  # the device cannot capture at 16 kHz: use its rate, resample
                self.device_rate = int(info["default_samplerate"])
                self._stream = open_at(self.device_rate)
        except sd.PortAudioError as exc:
            raise AudioUnavailableError(f"The microphone {info['name']!r} cannot be opened: {exc}.") from None

    @property
    def latency(self) -> float:
        """Seconds between a sound at the microphone and its block reaching us (the device's buffer)."""
        try:
            return float(self._stream.latency) if self._stream is not None else 0.0
        except Exception:  # noqa: BLE001 - a closed or odd stream: nothing to wait for
            return 0.0

    def stop(self) -> None:
        if self._stream is not None:
            with contextlib.suppress(Exception):
                self._stream.stop()
                self._stream.close()
            self._stream = None


class ArraySource:
    """A recorded clip played in as if it were the microphone (tests, `talk --input-wav`, the benchmark).

    Blocks are delivered at real-time pace (unless `realtime=False`), followed by `trailing_s` of
    silence; `done` is set when everything was delivered.
    """

    def __init__(
        self,
        audio: np.ndarray,
        *,
        realtime: bool = True,
        block: int = BLOCK,
        leading_s: float = 0.0,
        trailing_s: float = 0.0,
        speed: float = 1.0,
    ) -> None:
        silence = np.zeros(int(leading_s * RATE), dtype=np.float32)
        tail = np.zeros(int(trailing_s * RATE), dtype=np.float32)
        self.audio = np.concatenate([silence, np.asarray(audio, dtype=np.float32), tail])
        self.realtime = realtime
        self.block = block
        self.speed = speed
        self.done = threading.Event()
        self.speech_end_at: float | None = None  # when the last sample of the clip (before trailing) was fed
        self._speech_end_index = len(silence) + len(audio)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self, on_audio: AudioCallback) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, args=(on_audio,), name="array-source", daemon=True)
        self._thread.start()

    def _run(self, on_audio: AudioCallback) -> None:
        start = time.perf_counter()
        for pos in range(0, len(self.audio), self.block):
            if self._stop.is_set():
                break
            if self.realtime:
                due = start + pos / RATE / self.speed
                delay = due - time.perf_counter()
                if delay > 0:
                    time.sleep(delay)
            on_audio(self.audio[pos : pos + self.block])
            if self.speech_end_at is None and pos + self.block >= self._speech_end_index:
                self.speech_end_at = time.perf_counter()
        self.done.set()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=2)


# --- playback --------------------------------------------------------------------------------------------


@dataclass
class PlaybackState:
    """What one reply's playback did: when it started, what was heard of each tagged chunk."""

    first_sample_at: float | None = None
    last_sample_at: float | None = None
    stopped_at: float | None = None
    samples_played: int = 0
    played: dict[int, int] = field(default_factory=dict)  # tag -> samples played
    queued: dict[int, int] = field(default_factory=dict)  # tag -> samples queued
    heard: list[np.ndarray] = field(default_factory=list)
    # Silences inside the reply where the speaker had nothing to play (the voice waited for the model
    # or the synthesizer), in seconds: the trailing silence after the last sample is not one.
    waits: list[float] = field(default_factory=list)

    def heard_audio(self) -> np.ndarray:
        return np.concatenate(self.heard) if self.heard else np.zeros(0, dtype=np.float32)


class Playback:
    """The queue logic shared by the real speaker and the null one."""

    def __init__(self, rate: int, block: int) -> None:
        self.rate = rate
        self.block = block
        self._queue: queue.SimpleQueue[tuple[int, np.ndarray] | None] = queue.SimpleQueue()
        self._current: tuple[int, np.ndarray] | None = None
        self._lock = threading.Lock()
        self._idle = threading.Event()
        self._idle.set()
        self._pending = 0  # samples queued and not played yet
        self._dry_since: float | None = None  # the reply ran out of audio then (a wait, if more comes)
        self.state = PlaybackState()
        self.on_first_sample: Callable[[float], None] | None = None
        # Every block output, silence included, at `rate` (the echo canceller's reference signal).
        self.monitor: Callable[[np.ndarray, int], None] | None = None

    def begin(self) -> PlaybackState:
        """A new reply: fresh counters (anything still queued is dropped)."""
        self.stop()
        with self._lock:
            self.state = PlaybackState()
        return self.state

    def play(self, chunk: np.ndarray, tag: int = 0) -> None:
        """Queue audio at the speaker's rate; playback starts at once when idle."""
        chunk = np.asarray(chunk, dtype=np.float32).reshape(-1)
        if not len(chunk):
            return
        with self._lock:
            self.state.queued[tag] = self.state.queued.get(tag, 0) + len(chunk)
            self._pending += len(chunk)
            self._idle.clear()
            self._queue.put((tag, chunk))

    def stop(self) -> float:
        """Drop everything queued; the output is silent from the next block on. Returns the time."""
        with self._lock:
            while True:
                try:
                    self._queue.get_nowait()
                except queue.Empty:
                    break
            self._current = None
            self._pending = 0
            self._dry_since = None
            now = time.perf_counter()
            if self.state.stopped_at is None and self.state.first_sample_at is not None:
                self.state.stopped_at = now
            self._idle.set()
        return now

    def wait(self, timeout: float | None = None) -> bool:
        """Block until everything queued was played (or stop() was called)."""
        return self._idle.wait(timeout)

    @property
    def playing(self) -> bool:
        return not self._idle.is_set()

    def ahead_s(self) -> float:
        """Seconds of audio queued and not played yet (the device's own buffer aside)."""
        return max(0, self._pending) / self.rate

    def _fill(self, out: np.ndarray) -> None:
        """Copy the next samples into `out` (zeros where nothing is queued)."""
        out.fill(0)
        filled = 0
        first = None
        with self._lock:
            while filled < len(out):
                if self._current is None:
                    try:
                        item = self._queue.get_nowait()
                    except queue.Empty:
                        break
                    if item is None:
                        continue
                    self._current = item
                tag, chunk = self._current
                take = min(len(out) - filled, len(chunk))
                out[filled : filled + take] = chunk[:take]
                self.state.heard.append(chunk[:take].copy())
                self.state.played[tag] = self.state.played.get(tag, 0) + take
                self.state.samples_played += take
                self._pending -= take
                filled += take
                self._current = (tag, chunk[take:]) if take < len(chunk) else None
            now = time.perf_counter()
            if filled:
                if self.state.first_sample_at is None:
                    self.state.first_sample_at = now
                    first = now
                elif self._dry_since is not None:
                    self.state.waits.append(now - self._dry_since)
                self._dry_since = None
                self.state.last_sample_at = now
            if filled < len(out) and self.state.first_sample_at is not None and self._dry_since is None:
                self._dry_since = now + filled / self.rate  # this block's audio ends, then silence
            if self._pending <= 0 and self._current is None and self._queue.empty():
                self._idle.set()
        if first is not None and self.on_first_sample:
            self.on_first_sample(first)
        monitor = self.monitor
        if monitor is not None:
            monitor(out.copy(), self.rate)

    def close(self) -> None:
        self.stop()


class Speaker(Playback):
    """A sounddevice output stream at the voice's rate, kept open between replies."""

    def __init__(self, device: str | int | None = "", *, rate: int = 22050, block: int = 512) -> None:
        super().__init__(rate, block)
        self.device_spec = device
        self._stream: Any = None
        self.kind = "device"

    def open(self) -> Speaker:
        sd = sounddevice()
        device = find_device(self.device_spec, "output")

        def callback(outdata: np.ndarray, frames: int, when: Any, status: Any) -> None:
            self._fill(outdata[:, 0])
            if outdata.shape[1] > 1:
                outdata[:, 1:] = outdata[:, :1]

        try:
            self._stream = sd.OutputStream(
                device=device,
                channels=1,
                samplerate=self.rate,
                dtype="float32",
                blocksize=self.block,
                latency="low",
                callback=callback,
            )
            self._stream.start()
        except sd.PortAudioError as exc:
            raise AudioUnavailableError(f"The speaker cannot be opened: {exc}.") from None
        return self

    def close(self) -> None:
        super().close()
        if self._stream is not None:
            with contextlib.suppress(Exception):
                self._stream.stop()
                self._stream.close()
            self._stream = None


class NullSpeaker(Playback):
    """Plays into nothing at real-time pace (no sound device; benchmarks and typed-input fallback)."""

    def __init__(self, *, rate: int = 22050, block: int = 512) -> None:
        super().__init__(rate, block)
        self.kind = "null"
        self._stop_thread = threading.Event()
        self._thread: threading.Thread | None = None

    def open(self) -> NullSpeaker:
        self._thread = threading.Thread(target=self._run, name="null-speaker", daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        buf = np.zeros(self.block, dtype=np.float32)
        period = self.block / self.rate
        due = time.perf_counter()
        while not self._stop_thread.is_set():
            self._fill(buf)
            due += period
            delay = due - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            else:
                due = time.perf_counter()

    def close(self) -> None:
        super().close()
        self._stop_thread.set()
        if self._thread is not None:
            self._thread.join(timeout=1)


def open_speaker(settings_device: str = "", *, rate: int, allow_null: bool = False) -> Playback:
    """The configured speaker; with `allow_null`, a NullSpeaker when no device can be opened."""
    try:
        return Speaker(settings_device, rate=rate).open()
    except AudioUnavailableError:
        if not allow_null:
            raise
        return NullSpeaker(rate=rate).open()
