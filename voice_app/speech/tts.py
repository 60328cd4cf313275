"""Text to speech with Piper (a generic voice, never a clone), and the clause splitter that feeds it early."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from voice_app.core import assets, config
from voice_app.core.cancel import CancelToken
from voice_app.core.clauses import FIRST_WORDS, MAX_WORDS
from voice_app.core.compute import BUSY_CORES, LOAD
from voice_app.core.errors import ModelLoadError

# --- clause splitting ---------------------------------------------------------------------------

_SENTENCE_END = ".!?…"
_CJK_SENTENCE_END = "。！？"
_CLAUSE = ",;:—–"
_CJK_CLAUSE = "，、；：～"
_CLOSERS = "\"'”’)]」』）"
_ABBREVIATIONS = {"mr", "mrs", "ms", "dr", "st", "vs", "etc", "e.g", "i.e", "jr", "sr", "prof", "no"}
# Words that open a new phrase in unpunctuated texting ("it was so fun i miss it"): a piece with no
# mark may end before one of them. Object pronouns ("you", "it", "that") are left out on purpose.
_PHRASE_STARTERS = {
    "and", "but", "so", "because", "cause", "cuz", "bc", "then", "if", "when", "while", "or", "though",
    "although", "unless", "until", "since", "maybe", "also", "plus", "anyway", "honestly", "actually",
    "i", "i'm", "im", "i've", "i'd", "i'll", "it's", "that's", "there's", "we", "we're", "you're",
    "he's", "she's", "they're", "let's",
}  # fmt: skip
_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af]")
_SPEAKABLE = re.compile(r"[\w\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af]")


def units(text: str) -> int:
    """Length for the splitting rules: words, with every CJK character counted as a word."""
    cjk = len(_CJK.findall(text))
    return cjk + len(_CJK.sub(" ", text).split())


class ClauseSplitter:
    """Cuts a streamed reply into speakable pieces as soon as they are complete.

    The first piece is released at the first clause mark (comma, semicolon, dash, Chinese ，、) once it
    has `first_min` words (CJK characters count as words), so speech starts early; later pieces are
    cut at clause marks only after `later_min` words, and at sentence ends always. A full stop
    followed by a digit (3.5) or after an abbreviation (Dr.) is not an end.

    Texting often has no marks at all ("it was so fun i miss it"): then a piece ends before a word
    that opens a new phrase ("i", "but", "it's") once it has `first_min + 2` / `later_min` words, and
    at the latest after `first_max` / `later_max` words, so the voice never waits for a whole
    unpunctuated reply. Those are the reply checks' own word limits (`core.clauses`): a piece the
    checks released is spoken at once, not held until more of the reply is written.
    """

    def __init__(
        self,
        first_min: int = 1,
        later_min: int = 8,
        first_max: int = FIRST_WORDS,
        later_max: int = MAX_WORDS,
        max_units: int = 40,
    ) -> None:
        self.first_min = first_min
        self.later_min = later_min
        self.first_max = first_max
        self.later_max = later_max
        self.max_units = max_units
        self._buf = ""
        self.emitted = 0

    def feed(self, text: str) -> list[str]:
        self._buf += text
        out: list[str] = []
        while True:
            cut = self._find_cut()
            if cut is None:
                break
            piece, self._buf = self._buf[:cut], self._buf[cut:]
            self._emit(piece, out)
        return out

    def flush(self) -> list[str]:
        out: list[str] = []
        piece, self._buf = self._buf, ""
        self._emit(piece, out)
        return out

    def _emit(self, piece: str, out: list[str]) -> None:
        piece = piece.strip()
        if piece and _SPEAKABLE.search(piece):
            out.append(piece)
            self.emitted += 1
        elif piece and out:  # punctuation only: keep it with the previous piece
            out[-1] += piece

    def _find_cut(self) -> int | None:
        buf = self._buf
        minimum = self.first_min if self.emitted == 0 else self.later_min
        for i, ch in enumerate(buf):
            if ch == "\n":
                if buf[:i].strip():
                    return i + 1
                continue
            if ch in _CJK_SENTENCE_END:
                return self._after_closers(i + 1)
            if ch in _CJK_CLAUSE:
                if units(buf[:i]) >= minimum:
                    return self._after_closers(i + 1)
                continue
            if ch in _SENTENCE_END or ch in _CLAUSE:
                end = self._after_closers(i + 1)
                if end >= len(buf):
                    return None  # the next character decides (3.5, "...", a closing quote)
                if not buf[end].isspace() and not _CJK.match(buf[end]):
                    continue
                if ch in _SENTENCE_END:
                    if ch == "." and self._abbreviation(buf[:i]):
                        continue
                    return end
                if units(buf[:i]) >= minimum:
                    return end
        return self._unmarked_cut()

    def _unmarked_cut(self) -> int | None:
        """Where a piece with no mark ends: before a phrase opener, or after the most words it may have."""
        buf = self._buf
        first = self.emitted == 0
        opener_min = self.first_min + 2 if first else self.later_min
        most = self.first_max if first else self.later_max
        if " " not in buf.strip():  # CJK runs without spaces: cut by characters
            if _CJK.search(buf) and units(buf) >= most + 4:
                return self._cjk_cut(most + 4)
            return None
        # complete words only: each followed by whitespace (the last one may still be growing)
        spans = [m.span() for m in re.finditer(r"\S+(?=\s)", buf)]
        count = 0
        for i, (start, end) in enumerate(spans):
            word = buf[start:end].lower().strip("\"'“”‘’()").replace("’", "'")
            if i and count >= opener_min and word in _PHRASE_STARTERS:
                return start
            count += units(buf[start:end])
            if count >= most:
                return end + 1 if end < len(buf) else None
        if units(buf) > self.max_units:
            space = buf.rstrip().rfind(" ")
            if space > 0:
                return space + 1
        return None

    def _cjk_cut(self, units: int) -> int:
        seen = 0
        for i, ch in enumerate(self._buf):
            seen += 1 if _CJK.match(ch) else 0
            if seen >= units:
                return i + 1
        return len(self._buf)

    def _after_closers(self, pos: int) -> int:
        while pos < len(self._buf) and (self._buf[pos] in _CLOSERS or self._buf[pos] in _SENTENCE_END):
            pos += 1
        return pos

    @staticmethod
    def _abbreviation(before: str) -> bool:
        words = before.split()
        return bool(words) and words[-1].lower().strip("(\"'") in _ABBREVIATIONS


def split_clauses(text: str, **kwargs: int) -> list[str]:
    """Split a whole text the way a streamed one would be."""
    splitter = ClauseSplitter(**kwargs)
    return splitter.feed(text) + splitter.flush()


def speakable(text: str) -> str:
    """Text fit for Piper: no markdown marks, no emoji."""
    text = re.sub(r"[*_`#~]+", "", text)
    text = re.sub(r"[\U0001F000-\U0001FAFF\u2600-\u27BF\uFE0F]", "", text)
    return re.sub(r"\s+", " ", text).strip()


# --- Piper ----------------------------------------------------------------------------------------

_voices: dict[tuple[str, int], object] = {}
_voices_lock = threading.Lock()


def _load_voice(path: Path, threads: int) -> object:
    with _voices_lock:
        key = (str(path), threads)
        if key not in _voices:
            try:
                import onnxruntime
                from piper import PiperVoice
            except Exception as exc:  # noqa: BLE001 - a broken native install raises many kinds
                raise ModelLoadError(f"piper-tts cannot be imported: {exc}", fix="Re-run scripts/setup.sh.") from None
            try:
                voice = PiperVoice.load(path)
                if threads:  # Piper's default session takes every core; the LLM runs beside it
                    opts = onnxruntime.SessionOptions()
                    opts.intra_op_num_threads = threads
                    opts.inter_op_num_threads = 1
                    # Its threads sleep when a chunk is done, not spin on the cores the model needs next.
                    opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
                    voice.session = onnxruntime.InferenceSession(
                        str(path), sess_options=opts, providers=["CPUExecutionProvider"]
                    )
            except Exception as exc:  # noqa: BLE001 - onnxruntime/json errors vary
                raise ModelLoadError(
                    f"Piper could not load the voice {path}: {exc}",
                    fix="Use a Piper .onnx voice with its .onnx.json beside it, or reset `tts.voice` to piper-joe.",
                ) from None
            _voices[key] = voice
        return _voices[key]


class Synthesizer:
    """A Piper voice: text in, float32 mono audio at `sample_rate` out, one chunk per sentence."""

    def __init__(self, path: Path, *, speed: float = 1.0, threads: int = 1) -> None:
        self.path = Path(path)
        self.threads = threads
        self.voice = _load_voice(self.path, threads)
        self._all_cores: object | None = None  # the same voice on every core, for a reply's first sound
        self.sample_rate = int(self.voice.config.sample_rate)  # type: ignore[attr-defined]
        espeak = str(getattr(self.voice.config, "espeak_voice", "") or "")  # type: ignore[attr-defined]
        # "zh" for a Chinese Piper voice (espeak cmn/yue/zh), which then reads Chinese text itself
        self.language = "zh" if espeak.split("-")[0] in ("cmn", "yue", "zh") else (espeak[:2] or "en")
        self.speed = speed if speed > 0 else 1.0
        self._lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings: config.Settings | None = None) -> Synthesizer:
        settings = settings or config.load()
        found = assets.resolve_configured("tts", settings)
        return cls(found.path, speed=settings.tts.speed)

    def stream(self, text: str, cancel: CancelToken | None = None) -> Iterator[np.ndarray]:
        """Audio chunks for `text` as Piper produces them; stops between chunks when cancelled."""
        from piper import SynthesisConfig

        text = speakable(text)
        if not text:
            return
        syn = SynthesisConfig(length_scale=1.0 / self.speed)
        # Inside `LOAD.alone()` (a reply's first sound) our model has stopped: every core is ours,
        # unless another program (a local model server, say) keeps one busy.
        alone = LOAD.holds_alone() and LOAD.machine.others_cores() < BUSY_CORES
        with self._lock:
            voice = self.all_cores_voice() if alone else self.voice
            chunks = iter(voice.synthesize(text, syn_config=syn))  # type: ignore[attr-defined]
        while True:
            # The lock is held while a chunk is computed, not between chunks: a held reply waits with
            # its stream open until it is kept, and must not keep every other turn from being heard.
            with self._lock, LOAD.busy("tts"):  # the language model gives up a core meanwhile
                chunk = next(chunks, None)
            if chunk is None or (cancel is not None and cancel.cancelled):
                return
            yield np.asarray(chunk.audio_float_array, dtype=np.float32).reshape(-1)

    def synthesize(self, text: str) -> np.ndarray:
        """The whole text as one array."""
        chunks = list(self.stream(text))
        return np.concatenate(chunks) if chunks else np.zeros(0, dtype=np.float32)

    def all_cores_voice(self) -> object:
        """The voice computed on every core (0.05 s instead of 0.075 s for a first clause, measured alone)."""
        cores = LOAD.machine.cpus
        if cores <= self.threads:
            return self.voice
        if self._all_cores is None:
            self._all_cores = _load_voice(self.path, cores)
        return self._all_cores

    def warm_up(self) -> None:
        self.synthesize("Hi.")
        with LOAD.alone("tts"):  # loads the every-core session now, not at the first reply
            self.synthesize("Hi.")
