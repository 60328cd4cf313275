"""Capturing an utterance: push-to-talk (UI-driven start/stop) and hands-free (streaming VAD endpointing)."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from voice_app.speech.audio import RATE, AudioSource, Microphone, level
from voice_app.speech.stt import PAUSE_MS, StreamingTranscriber, Transcriber
from voice_app.speech.vad import Endpointer, Segment, SileroVAD, trim_silence

MAX_INPUT_LAG_S = 0.1  # the most a release waits for audio still in the microphone's buffer


@dataclass
class Utterance:
    """What the user said: 16 kHz mono float32 audio and, when a transcriber listened, its streaming state."""

    audio: np.ndarray
    speech_end_at: float  # perf_counter() when speech ended (key released, or the VAD endpoint)
    started_at: float
    stream: StreamingTranscriber | None = None
    language: str | None = None
    stt_stats: dict[str, float] = field(default_factory=dict)
    _text: str | None = None

    @property
    def duration_s(self) -> float:
        return len(self.audio) / RATE

    def speech(self) -> np.ndarray:
        """The audio without leading and trailing silence (what Whisper should see)."""
        return trim_silence(self.audio)

    def transcribe(self, transcriber: Transcriber | None = None) -> str:
        """The final transcript: the streaming passes' result plus the tail, or one pass over the speech."""
        if self._text is not None:
            return self._text
        if self.stream is not None:
            self._text, self.stt_stats = self.stream.finish()
        elif transcriber is not None:
            speech = self.speech()
            result = transcriber.transcribe(speech, language=self.language) if len(speech) else None
            self._text = result.text if result else ""
            self.stt_stats = {"passes": 0.0, "final_s": result.seconds if result else 0.0, "reused": 0.0}
        else:
            raise ValueError("No transcriber: pass one to transcribe().")
        return self._text


class _Capture:
    """One running source shared by the listeners; keeps the level and a short pre-roll ring."""

    def __init__(self, source: AudioSource, preroll_ms: int) -> None:
        self.source = source
        self.preroll = preroll_ms * RATE // 1000
        self.level = 0.0
        self.on_level: Callable[[float], None] | None = None
        self._ring = np.zeros(0, dtype=np.float32)
        self._lock = threading.Lock()
        self._listeners: list[Callable[[np.ndarray], None]] = []
        self.opened = False

    def open(self) -> None:
        if not self.opened:
            self.source.start(self._on_audio)
            self.opened = True

    def close(self) -> None:
        if self.opened:
            self.source.stop()
            self.opened = False

    def _on_audio(self, block: np.ndarray) -> None:
        self.level = level(block)
        if self.on_level:
            self.on_level(self.level)
        with self._lock:
            if self.preroll:
                self._ring = np.concatenate([self._ring, block])[-self.preroll :]
            listeners = list(self._listeners)
        for listener in listeners:
            listener(block)

    def attach(self, listener: Callable[[np.ndarray], None], with_preroll: bool = False) -> None:
        with self._lock:
            ring = self._ring.copy()
            self._listeners.append(listener)
        if with_preroll and len(ring):
            listener(ring)

    def detach(self, listener: Callable[[np.ndarray], None]) -> None:
        with self._lock:
            if listener in self._listeners:
                self._listeners.remove(listener)


class Recorder:
    """Push-to-talk: the UI calls start() when the talk key goes down and stop() when it comes up.

    The source runs from open() to close(), so `level` moves for the meter even between turns and
    the last `preroll_ms` before start() are kept (the first syllable often starts before the key).
    With a transcriber, the utterance is transcribed while it is recorded.
    """

    def __init__(
        self,
        source: AudioSource | None = None,
        *,
        device: str | int | None = "",
        transcriber: Transcriber | None = None,
        preroll_ms: int = 300,
        pause_ms: int = PAUSE_MS,
        language: str | None = None,
        on_partial: Callable[[str], None] | None = None,
        on_settled: Callable[[str], None] | None = None,
    ) -> None:
        self._capture = _Capture(source or Microphone(device), preroll_ms)
        self.transcriber = transcriber
        self.pause_ms = pause_ms  # a pause this long with the key down: a pass, and a held reply if it heard all
        self.language = language
        self.on_partial = on_partial  # each partial transcript while the user speaks (e.g. Conversation.on_partial)
        self.on_settled = on_settled  # a partial that heard all the speech so far (Conversation.on_settled)
        self._chunks: list[np.ndarray] = []
        self._stream: StreamingTranscriber | None = None
        self._started_at = 0.0
        self._lock = threading.Lock()
        self.recording = False

    @property
    def level(self) -> float:
        """Input loudness, 0..1, of the latest block."""
        return self._capture.level

    @property
    def source(self) -> AudioSource:
        return self._capture.source

    def set_level_callback(self, callback: Callable[[float], None] | None) -> None:
        self._capture.on_level = callback

    def open(self) -> Recorder:
        self._capture.open()
        return self

    def close(self) -> None:
        if self.recording:
            self.stop()
        self._capture.close()

    def __enter__(self) -> Recorder:
        return self.open()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def start(self) -> None:
        """Begin an utterance (opens the source if needed)."""
        with self._lock:
            if self.recording:
                return
            self._chunks = []
            self._started_at = time.perf_counter()
            if self.transcriber is not None:
                self._stream = StreamingTranscriber(self.transcriber, language=self.language, pause_ms=self.pause_ms)
                self._stream.on_partial = self.on_partial
                self._stream.on_settled = self.on_settled
                self._stream.start()
            self.recording = True
        self._capture.attach(self._on_audio, with_preroll=True)
        self._capture.open()

    def _on_audio(self, block: np.ndarray) -> None:
        self._chunks.append(block)
        if self._stream is not None:
            self._stream.feed(block)

    def stop(self) -> Utterance:
        """End the utterance now; its transcript is finished by Utterance.transcribe().

        What was said just before the release is still in the device's input buffer: capture goes on
        for that long (the source's `latency`), and until a block has come after the release (a busy
        machine can hold the device's callback back), at most `MAX_INPUT_LAG_S`, so the last word is whole.
        """
        ended = time.perf_counter()
        lag = min(float(getattr(self._capture.source, "latency", 0.0) or 0.0), MAX_INPUT_LAG_S)
        if lag > 0 and self.recording:
            blocks = len(self._chunks)
            time.sleep(lag)
            while len(self._chunks) == blocks and time.perf_counter() - ended < MAX_INPUT_LAG_S:
                time.sleep(0.002)
        self._capture.detach(self._on_audio)
        with self._lock:
            self.recording = False
            audio = np.concatenate(self._chunks) if self._chunks else np.zeros(0, dtype=np.float32)
            stream, self._stream = self._stream, None
        return Utterance(audio, ended, self._started_at, stream, self.language)


# Words a sentence does not end on: Whisper puts a full stop after "I wanted to tell you that" too.
_CONTINUES = frozenset(
    {
        "and",
        "but",
        "or",
        "so",
        "because",
        "that",
        "to",
        "the",
        "a",
        "an",
        "of",
        "with",
        "for",
        "if",
        "when",
        "my",
        "your",
        "our",
        "their",
        "i",
        "we",
        "he",
        "she",
        "they",
        "is",
        "was",
        "were",
        "am",
        "are",
        "like",
        "um",
        "uh",
        "then",
        "just",
        "about",
        "in",
        "on",
        "at",
        "from",
        "than",
        "as",
        "not",
    }
)


# People pause mid-sentence after a short opening ("Hey Alex, …", "So, …", "Yes. I …", "你知道吗，…"),
# and Whisper ends what it heard so far with "?" or "." there: a line this short waits the full pause.
EARLY_END_MIN_WORDS = 3
_CJK_CHAR = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\u3040-\u30ff\uac00-\ud7af]")


def ends_sentence(text: str) -> bool:
    """A transcript that ends a sentence: a question or exclamation mark, or a full stop after a word
    a sentence can end on (Whisper punctuates every segment, finished or not), with at least
    `EARLY_END_MIN_WORDS` words (CJK characters count as words)."""
    text = text.rstrip()
    if not text or text.endswith(("...", "…")):
        return False
    latin_words = [w for w in _CJK_CHAR.sub(" ", text).split() if re.search(r"\w", w)]
    if len(_CJK_CHAR.findall(text)) + len(latin_words) < EARLY_END_MIN_WORDS:
        return False
    if text[-1] in "?!？！":
        return True
    if text[-1] not in ".。":
        return False
    words = text[:-1].split()
    return bool(words) and words[-1].lower().strip(",;:\"'") not in _CONTINUES


class HandsFree:
    """Hands-free turns: Silero VAD decides when speech starts and ends.

    `on_speech_start()` fires as soon as speech is detected (the pipeline uses it for barge-in);
    `on_utterance(utterance)` when `end_silence_ms` of silence followed it, or only
    `short_silence_ms` when the transcript of all the speech already ends a sentence. Each utterance keeps
    `preroll_ms` before the detected start and is transcribed while it is spoken.
    """

    def __init__(
        self,
        source: AudioSource | None = None,
        *,
        device: str | int | None = "",
        transcriber: Transcriber | None = None,
        end_silence_ms: int = 600,
        short_silence_ms: int = 250,
        preroll_ms: int = 300,
        pause_ms: int = PAUSE_MS,
        threshold: float = 0.5,
        language: str | None = None,
        on_speech_start: Callable[[], None] | None = None,
        on_utterance: Callable[[Utterance], object] | None = None,
        on_partial: Callable[[str], None] | None = None,
        on_settled: Callable[[str], None] | None = None,
        muted: Callable[[], bool] | None = None,
    ) -> None:
        self._capture = _Capture(source or Microphone(device), 0)
        self.muted = muted  # half-duplex: nothing is heard while this says so (the app is speaking)
        self.echo = "off"  # how the app's own voice is kept out: on (cancelled), half-duplex or off
        self.transcriber = transcriber
        self.pause_ms = pause_ms  # a pause this long: a pass, and a held reply if it heard every word
        self.language = language
        self.on_partial = on_partial
        self.on_settled = on_settled
        self.on_speech_start = on_speech_start
        self.on_utterance = on_utterance
        self.endpointer = Endpointer(
            end_silence_ms=end_silence_ms,
            preroll_ms=preroll_ms,
            threshold=threshold,
            vad=SileroVAD(),
            on_speech_start=self._speech_started,
            on_segment=self._segment,
            on_speech_audio=self._speech_audio,
            short_silence_ms=short_silence_ms,
            sentence_done=self._sentence_done if short_silence_ms < end_silence_ms else None,
        )
        self._stream: StreamingTranscriber | None = None
        self._started_at = 0.0
        self.paused = False
        self.utterances: list[Utterance] = []

    @property
    def level(self) -> float:
        return self._capture.level

    def open(self) -> HandsFree:
        self._capture.attach(self._on_audio)
        self._capture.open()
        return self

    def close(self) -> None:
        self._capture.detach(self._on_audio)
        self._capture.close()
        if self._stream is not None:
            self._stream.finish()
            self._stream = None

    def __enter__(self) -> HandsFree:
        return self.open()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _on_audio(self, block: np.ndarray) -> None:
        if self.paused or (self.muted is not None and self.muted()):
            return
        self.endpointer.feed(block)

    def _sentence_done(self) -> bool:
        """The transcript of all the speech so far ends a sentence ("…?", "…。"): the turn can end early."""
        stream = self._stream
        return stream is not None and stream.covers_speech() and ends_sentence(stream.partial)

    def _speech_audio(self, samples: np.ndarray) -> None:
        if self._stream is not None:
            self._stream.feed(samples)

    def _speech_started(self, sample: int) -> None:
        self._started_at = time.perf_counter()
        if self.transcriber is not None:
            self._stream = StreamingTranscriber(self.transcriber, language=self.language, pause_ms=self.pause_ms)
            self._stream.on_partial = self.on_partial
            self._stream.on_settled = self.on_settled
            self._stream.start()
        if self.on_speech_start:
            self.on_speech_start()

    def _segment(self, segment: Segment) -> None:
        ended = time.perf_counter()
        stream, self._stream = self._stream, None
        utterance = Utterance(segment.audio, ended, self._started_at, stream, self.language)
        self.utterances.append(utterance)
        if self.on_utterance:
            self.on_utterance(utterance)
