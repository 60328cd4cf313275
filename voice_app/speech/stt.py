"""Speech to text with faster-whisper: int8, greedy, temperature 0; streaming passes while the user speaks."""

from __future__ import annotations

import functools
import math
import re
import threading
import time
import unicodedata
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from voice_app.core import assets, config
from voice_app.core.compute import LOAD
from voice_app.core.errors import ModelLoadError
from voice_app.speech.vad import RATE, WINDOW, SileroVAD, speech_bounds

# What Whisper says over silence or noise (YouTube captions it was trained on), normalized.
HALLUCINATIONS = {
    "thank you",
    "thank you very much",
    "thanks for watching",
    "thank you for watching",
    "thanks for watching and see you next time",
    "please subscribe",
    "subscribe to my channel",
    "like and subscribe",
    "you",
    "bye",
    "so",
    "the end",
    "music",
    "applause",
    "silence",
    "subtitles by the amaraorg community",
    "字幕由amaraorg社区提供",
    "请不吝点赞订阅转发打赏支持明镜与点点栏目",
    "谢谢观看",
    "谢谢大家",
    "感谢观看",
    "字幕志愿者",
    "ご視聴ありがとうございました",
}
_BRACKETED = re.compile(r"^\s*[\[(（【♪*].*[\])）】♪*]\s*$")


def _norm(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).lower()
    return "".join(ch for ch in text if ch.isalnum() or ch.isspace()).strip()


def is_hallucination(text: str) -> bool:
    """True for a known silence hallucination or a bracketed non-speech tag ([Music], (applause))."""
    norm = re.sub(r"\s+", " ", _norm(text))
    return not norm or norm in HALLUCINATIONS or bool(_BRACKETED.match(text))


def clean_transcript(segments: list[str]) -> str:
    """Join segment texts, dropping the ones that are known hallucinations."""
    kept = [s.strip() for s in segments if s.strip() and not is_hallucination(s)]
    return " ".join(kept).strip()


@dataclass
class Transcript:
    text: str
    language: str
    words: list[tuple[str, float, float]] = field(default_factory=list)  # (word, start_s, end_s)
    seconds: float = 0.0  # compute time


# Whisper encodes a fixed 30 s window however short the clip, and on a small CPU that encoder pass is
# most of the cost (base: ~0.6 s of a ~0.75 s pass here). CTranslate2 accepts a shorter window, and the
# encoder's time falls with it (10 s: ~0.09 s). Too short a window makes the decoder loop, so the
# window keeps at least WINDOW_MIN_S and a second of silence after the speech, the tokens are capped
# by the clip's length, and a result that hits the cap or repeats itself is decoded again the
# standard way (30 s).
WINDOW_MIN_S = 10.0
WINDOW_MARGIN_S = 1.0
WINDOW_MAX_S = 29.0  # longer clips take the standard path
TOKENS_PER_S = 12  # more than anyone speaks, in any language (a Chinese character is 1-2 tokens)
CAP_SLACK = 4
FRAMES_PER_S = 100
LOOP_RATIO = 2.4  # zlib compression ratio above which a transcript repeats itself (Whisper's own threshold)
PAUSE_MS = config.AudioSettings.pause_ms  # the pause that settles a pass's words (a held reply starts): the setting's


def window_frames(samples: int) -> int | None:
    """The encoder window for a clip of `samples` (whole seconds), or None for the standard 30 s."""
    seconds = samples / RATE
    if seconds > WINDOW_MAX_S:
        return None
    return int(max(WINDOW_MIN_S, math.ceil(seconds + WINDOW_MARGIN_S)) * FRAMES_PER_S)  # ≤ 30 s: WINDOW_MAX_S + 1


def repeats_itself(text: str) -> bool:
    """True when a transcript is a decoding loop ("yes yes yes yes ...", "r r r r ...") or ends by
    saying its last phrase (3+ words) again: "are you happy now? are you happy now?"."""
    data = text.encode("utf-8")
    if len(data) > 24 and len(data) / len(zlib.compress(data)) > LOOP_RATIO:
        return True
    words = _norm(text).split()
    return any(words[-2 * size : -size] == words[-size:] for size in range(3, len(words) // 2 + 1))


@functools.cache
def _windowed_model_class() -> type:
    from faster_whisper import WhisperModel

    class WindowedWhisper(WhisperModel):
        """faster-whisper whose encoder reads only the current call's window of the padded features."""

        _local = threading.local()

        def encode(self, features: np.ndarray) -> Any:
            frames = getattr(self._local, "frames", None)
            if frames is not None and features.shape[-1] > frames:
                features = features[..., :frames]
            return super().encode(features)

        def transcribe_window(self, audio: np.ndarray, frames: int | None, **kwargs: Any) -> Any:
            """transcribe() with the encoder window set to `frames` (None: 30 s) for this thread."""
            self._local.frames = frames
            try:
                segments, info = self.transcribe(audio, **kwargs)
                return list(segments), info
            finally:
                self._local.frames = None

    return WindowedWhisper


_models: dict[tuple[str, str, int], object] = {}
_models_lock = threading.Lock()


_SCRIPTS = {"simplified": "zh-cn", "traditional": "zh-tw"}


def in_script(text: str, language: str, script: str) -> str:
    """Chinese text in the script the user writes (Whisper mixes them); other languages unchanged."""
    target = _SCRIPTS.get(script)
    if language != "zh" or target is None or not text:
        return text
    import zhconv

    return str(zhconv.convert(text, target))


class Transcriber:
    """A faster-whisper model loaded from a folder (a bare name would go to the hub)."""

    def __init__(
        self,
        path: Path,
        *,
        language: str = "auto",
        compute_type: str = "int8",
        threads: int = 0,
        chinese_script: str = "simplified",
    ) -> None:
        self.path = Path(path)
        self.chinese_script = chinese_script
        self.language = "" if language in ("", "auto") else language
        if threads <= 0:  # CTranslate2's default (4) oversubscribes a small CPU; physical cores measured faster
            from voice_app.core.cpu import physical_cores

            threads = physical_cores()
        key = (str(self.path), compute_type, threads)
        with _models_lock:
            if key not in _models:
                try:
                    model_class = _windowed_model_class()
                except Exception as exc:  # noqa: BLE001
                    raise ModelLoadError(
                        f"faster-whisper cannot be imported: {exc}", fix="Re-run scripts/setup.sh."
                    ) from None
                try:
                    _models[key] = model_class(
                        str(self.path), device="cpu", compute_type=compute_type, cpu_threads=threads
                    )
                except Exception as exc:  # noqa: BLE001 - CTranslate2 raises RuntimeError/ValueError/OSError
                    raise ModelLoadError(
                        f"faster-whisper could not load {self.path}: {exc}",
                        fix="Use a CTranslate2 Whisper folder (with model.bin), or reset `stt.model` to whisper-base.",
                    ) from None
            self.model = _models[key]
        if not getattr(getattr(self.model, "model", None), "is_multilingual", True):
            self.language = "en"  # an English-only model (tiny.en) cannot detect or speak others
        self._lock = threading.Lock()
        self.short_window = True  # False: always the standard 30 s window (the benchmark's reference)
        self.fallbacks = 0  # short-window results decoded again the standard way

    @classmethod
    def from_settings(cls, settings: config.Settings | None = None, language: str | None = None) -> Transcriber:
        """The configured recognizer; `language` is the conversation's ("en", "zh", or "" for unknown)."""
        settings = settings or config.load()
        found = assets.resolve_configured("stt", settings, language)
        # An English or Chinese conversation is heard in its language: detection on the first half second
        # of a line (the streaming passes) guesses wrong and its words stick. Others are detected per line.
        spoken = settings.stt.language if settings.stt.language != "auto" else (language if language else "auto")
        return cls(
            found.path,
            language=spoken,
            compute_type=settings.stt.compute_type,
            chinese_script=settings.stt.chinese_script,
        )

    def transcribe(
        self,
        audio: np.ndarray,
        *,
        language: str | None = None,
        prompt: str | None = None,
        word_timestamps: bool = False,
    ) -> Transcript:
        """Text of a 16 kHz float32 clip; `language` overrides the configured one ("" = detect)."""
        start = time.perf_counter()
        lang = self.language if language is None else language
        if len(audio) < RATE // 10:
            return Transcript("", lang, [], 0.0)
        audio = audio.astype(np.float32, copy=False)
        frames = window_frames(len(audio)) if self.short_window else None
        with self._lock, LOAD.busy("stt"):  # the language model gives up a core meanwhile
            segments, info = self._decode(audio, frames, lang, prompt, word_timestamps)
            if frames is not None and self._suspect(segments, len(audio)):
                self.fallbacks += 1
                segments, info = self._decode(audio, None, lang, prompt, word_timestamps)
        texts = [s.text for s in segments]
        words: list[tuple[str, float, float]] = []
        if word_timestamps:
            for s in segments:
                if is_hallucination(s.text):
                    continue
                words += [(w.word, float(w.start), float(w.end)) for w in (s.words or [])]
        text = in_script(clean_transcript(texts), info.language, self.chinese_script)
        return Transcript(text, info.language, words, time.perf_counter() - start)

    def _decode(
        self, audio: np.ndarray, frames: int | None, language: str, prompt: str | None, word_timestamps: bool
    ) -> tuple[list[Any], Any]:
        return self.model.transcribe_window(  # type: ignore[attr-defined]
            audio,
            frames,
            language=language or None,
            beam_size=1,
            best_of=1,
            temperature=0.0,
            condition_on_previous_text=False,
            initial_prompt=prompt or None,
            without_timestamps=not word_timestamps,
            word_timestamps=word_timestamps,
            vad_filter=False,
            max_new_tokens=self._token_cap(len(audio)) if frames is not None else None,
        )

    @staticmethod
    def _token_cap(samples: int) -> int:
        return int(samples / RATE * TOKENS_PER_S) + 10

    def _suspect(self, segments: list, samples: int) -> bool:
        """A short-window result that may be cut (it hit the token cap), a loop, or nothing heard in
        half a second or more of speech (the clips come trimmed to speech): decode it again."""
        tokens = sum(len(s.tokens) for s in segments)
        texts = [s.text for s in segments]
        # CTranslate2 counts a few start tokens against the cap: a cut result can end up to 4 short of it.
        if tokens + CAP_SLACK >= self._token_cap(samples) or repeats_itself(" ".join(texts)):
            return True
        return samples >= RATE // 2 and not clean_transcript(texts)

    def warm_up(self) -> None:
        self.transcribe(np.zeros(RATE, dtype=np.float32), language=self.language or "en")


# --- streaming --------------------------------------------------------------------------------------


def _word_key(word: str) -> str:
    return _norm(word)


# The pass that may settle a line starts after this many silent VAD windows (32 ms each), before the
# pause is reached. On the frozen endpoint set (scripts/bench_endpoint.py --clips), against a pass at the
# pause (96 ms): one window settled lines 61 ms sooner (p50), two 43 ms; word error rate 7.0% with
# either, 6.8% before (one word of ~450); a pause within a one-breath line started a reply that was
# then dropped in 2 and 1 of 16 such lines (none before).
SILENT_WINDOWS_BEFORE_A_PASS = 1


class StreamingTranscriber:
    """Re-transcribes the growing utterance in a background thread while the user speaks.

    A pass runs every `interval_s` of new audio, and as soon as the speaker falls silent
    (`SILENT_WINDOWS_BEFORE_A_PASS`); words it heard whole are settled when the silence lasts
    `pause_ms`. Words two passes agree on, ending at least `hold_s` before the end of the audio, are
    committed and their audio is cut off, so later passes and the final one only decode the tail.
    When the user stops and the last pass already covered all the speech, its text is the transcript
    and nothing is left to do.
    """

    def __init__(
        self,
        transcriber: Transcriber,
        *,
        interval_s: float = 1.0,
        pause_ms: int = PAUSE_MS,
        hold_s: float = 1.0,
        commit_after_s: float = 8.0,
        language: str | None = None,
        vad: SileroVAD | None = None,
    ) -> None:
        self.transcriber = transcriber
        self.interval = int(interval_s * RATE)
        self.pause_windows = max(1, pause_ms * RATE // 1000 // WINDOW)
        self.pass_windows = min(SILENT_WINDOWS_BEFORE_A_PASS, self.pause_windows)
        self.hold = hold_s
        self.commit_after = int(commit_after_s * RATE)
        self.language = transcriber.language if language is None else ("" if language == "auto" else language)
        self.vad = vad or SileroVAD()
        self._chunks: list[np.ndarray] = []
        self._total = 0
        self._cond = threading.Condition()
        self._stop = False
        self._thread: threading.Thread | None = None
        self._vad_pending = np.zeros(0, dtype=np.float32)
        self._probs: list[float] = []
        self._silent_run = 0
        self.last_voiced_end = 0  # sample index after the last voiced window
        self.committed_text = ""
        self.committed_at = 0  # samples cut off (covered by committed_text)
        self._last_pass: tuple[int, int, str, list[tuple[str, float, float]]] | None = None  # (cut, end, text, words)
        self._prev_words: list[tuple[str, float, float]] = []
        self._pass_due_silence = False
        self._settle_due = False  # a pause began after a pass that heard all the speech: tell it settled
        self.passes: list[float] = []  # compute seconds of each pass
        self.partial = ""  # committed + latest hypothesis (for the UI)
        self.on_partial: Callable[[str], None] | None = None
        # A pass heard everything said so far (the user is silent): its text is the transcript unless
        # they go on, so a reply can be started from it (Conversation.on_settled).
        self.on_settled: Callable[[str], None] | None = None

    # --- feeding ------------------------------------------------------------------------------

    def start(self) -> StreamingTranscriber:
        self._thread = threading.Thread(target=self._run, name="stt-stream", daemon=True)
        self._thread.start()
        return self

    def feed(self, samples: np.ndarray) -> None:
        """16 kHz float32 audio as captured."""
        samples = samples.astype(np.float32, copy=False)
        buf = np.concatenate([self._vad_pending, samples])
        count = len(buf) // WINDOW
        with self._cond:
            base = len(self._probs) * WINDOW
            for i in range(count):
                prob = self.vad.window(buf[i * WINDOW : (i + 1) * WINDOW])
                self._probs.append(prob)
                if prob >= 0.5:
                    self.last_voiced_end = base + (i + 1) * WINDOW
                    self._silent_run = 0
                else:
                    self._silent_run += 1
                    if self._silent_run == self.pass_windows and self.last_voiced_end > 0:
                        # A pass starts as the speaker falls silent, so that when the silence lasts into
                        # a pause its words are ready sooner (a pass takes 0.08-0.17 s here); one that
                        # heard all the speech is told settled only once the pause is reached.
                        self._pass_due_silence = True
                    if self._silent_run == self.pause_windows and self.last_voiced_end > 0:
                        self._settle_due = self._heard_all()
            self._vad_pending = buf[count * WINDOW :]
            self._chunks.append(samples)
            self._total += len(samples)
            self._cond.notify()

    def audio(self) -> np.ndarray:
        with self._cond:
            return np.concatenate(self._chunks) if self._chunks else np.zeros(0, dtype=np.float32)

    # --- the background passes -------------------------------------------------------------------

    def _due(self) -> bool:
        last_end = self._last_pass[1] if self._last_pass else 0
        if self.last_voiced_end <= last_end:
            self._pass_due_silence = False  # a pass heard this silence's words: the next waits for new speech
            return False  # nothing new was said since the last pass
        return self._pass_due_silence or self._total - last_end >= self.interval

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._stop and not self._due() and not self._settle_due:
                    self._cond.wait(0.05)
                if self._stop:
                    return
                due, settled = self._due(), self.partial
                self._pass_due_silence = self._settle_due = False
                end = self._total
                audio = np.concatenate(self._chunks)[:end] if due else None
            if audio is not None:
                self._pass(audio, end)
            elif settled and self.on_settled is not None:  # the pass before the pause heard it all
                self.on_settled(settled)

    def _pass(self, audio: np.ndarray, end: int) -> None:
        cut = self.committed_at
        clip = audio[cut:end]
        bounds = speech_bounds(clip, probs=self._probs_for(cut, end))
        if bounds is None:
            with self._cond:
                self._last_pass = (cut, end, "", [])
            return
        lead = bounds[0]
        clip = clip[lead : bounds[1]]
        want_words = end - cut >= self.commit_after
        result = self.transcriber.transcribe(
            clip, language=self.language, prompt=self.committed_text or None, word_timestamps=want_words
        )
        if not self.language:
            self.language = result.language  # detect once: auto detection costs a second encoder pass
        self.passes.append(result.seconds)
        offset = (cut + lead) / RATE
        words = [(w, s + offset, e + offset) for w, s, e in result.words]
        with self._cond:
            self._last_pass = (cut, end, result.text, words)
            if want_words:
                self._commit(words, end / RATE)
            self.partial = (self.committed_text + " " + self._tail_text()).strip()
        if self.on_partial:
            self.on_partial(self.partial)
        if self.on_settled is not None and self.partial and self.covers_speech() and self.pausing():
            self.on_settled(self.partial)

    def _probs_for(self, start: int, end: int) -> np.ndarray | None:
        first, last = start // WINDOW, end // WINDOW
        if last > len(self._probs) or start % WINDOW:
            return None
        return np.array(self._probs[first:last], dtype=np.float32)

    def _tail_text(self) -> str:
        if not self._last_pass:
            return ""
        cut, _, text, words = self._last_pass
        if cut != self.committed_at and words:
            return "".join(w for w, s, _ in words if s >= self.committed_at / RATE).strip()
        return text if cut == self.committed_at else ""

    def _commit(self, words: list[tuple[str, float, float]], end_s: float) -> None:
        """Commit the words this pass and the previous one agree on, up to `hold` seconds before the end."""
        agreed: list[tuple[str, float, float]] = []
        for new, old in zip(words, self._prev_words, strict=False):
            if _word_key(new[0]) != _word_key(old[0]) or new[2] > end_s - self.hold:
                break
            agreed.append(new)
        self._prev_words = words[len(agreed) :]
        if agreed:
            self.committed_text = (self.committed_text + "".join(w for w, _, _ in agreed)).strip()
            self.committed_at = int(agreed[-1][2] * RATE)

    def covers_speech(self) -> bool:
        """Whether the latest pass heard everything said so far (its text is the transcript)."""
        with self._cond:
            return self._heard_all()

    def pausing(self) -> bool:
        """Whether the audio fed so far ends in a pause (`pause_ms` of silence after speech).

        A pass that covers everything fed is not enough to call the words settled: on a busy machine
        the capture thread can fall behind while a pass runs, so "everything fed" may end mid-word."""
        with self._cond:
            return self.last_voiced_end > 0 and self._silent_run >= self.pause_windows

    def _heard_all(self) -> bool:
        last = self._last_pass
        return last is not None and last[0] == self.committed_at and self.last_voiced_end <= last[1]

    # --- the end ---------------------------------------------------------------------------------

    def finish(self) -> tuple[str, dict[str, float]]:
        """The final transcript once the user has stopped; only the part no pass covered is decoded.

        Returns (text, stats) with stats: passes, final_s (compute at the end), reused (1 when the
        last background pass already covered all the speech).
        """
        with self._cond:
            self._stop = True
            self._cond.notify()
        if self._thread is not None:
            self._thread.join()  # a pass in progress started recently: let it finish, it covers most
        with self._cond:
            last = self._last_pass
            voiced_end = self.last_voiced_end
            total = self._total
        stats = {"passes": float(len(self.passes)), "final_s": 0.0, "reused": 0.0}
        if voiced_end == 0:
            return "", stats
        if last is not None and last[0] == self.committed_at and last[1] >= voiced_end:
            stats["reused"] = 1.0
            return (self.committed_text + " " + last[2]).strip(), stats
        audio = self.audio()
        clip = audio[self.committed_at : total]
        bounds = speech_bounds(clip, probs=self._probs_for(self.committed_at, total))
        if bounds is None:
            return self.committed_text, stats
        result = self.transcriber.transcribe(
            clip[bounds[0] : bounds[1]], language=self.language, prompt=self.committed_text or None
        )
        stats["final_s"] = result.seconds
        if not self.language:
            self.language = result.language
        return (self.committed_text + " " + result.text).strip(), stats
