"""The voices a reply is spoken with: each run of text by the voice of its language (Piper English, zh voice)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Protocol

import numpy as np

from voice_app.core import assets, config
from voice_app.core.cancel import CancelToken
from voice_app.core.errors import VoiceAppError
from voice_app.core.signal import resample
from voice_app.speech import zh_text
from voice_app.speech.tts import Synthesizer
from voice_app.speech.zh_voice import ZhVoice, read_manifest

log = logging.getLogger(__name__)


class TextToSpeech(Protocol):
    """What a turn speaks with: text in, float32 mono chunks at `sample_rate` out."""

    sample_rate: int

    def stream(self, text: str, cancel: CancelToken | None = None) -> Iterator[np.ndarray]: ...

    def synthesize(self, text: str) -> np.ndarray: ...

    def warm_up(self) -> None: ...


class SpeakingVoices:
    """English and, when built, Chinese: a clause is cut into Han and Latin runs, each spoken by its voice.

    Output is at the English voice's rate (the speaker opens at it); the Chinese voice is resampled.
    Without a Chinese voice, Han runs are not spoken (shown only) and `unspoken` says so.
    """

    def __init__(
        self,
        english: Synthesizer,
        chinese: ZhVoice | None = None,
        *,
        chinese_loader: Callable[[], ZhVoice | None] | None = None,
    ) -> None:
        self.english = english  # Piper: English, or a Chinese Piper voice the user chose (`tts.voice`)
        self._chinese = chinese
        # An English conversation loads the Chinese voice only when a reply first needs it.
        self._chinese_loader = chinese_loader if chinese is None else None
        self.sample_rate = english.sample_rate
        self.unspoken: set[str] = set()  # languages met with no voice to speak them

    @property
    def chinese(self) -> ZhVoice | None:
        if self._chinese is None and self._chinese_loader is not None:
            loader, self._chinese_loader = self._chinese_loader, None
            try:
                self._chinese = loader()
            except VoiceAppError as exc:  # mid-reply: the clause is shown, not spoken; the reply goes on
                log.warning("the Chinese voice could not load: %s (%s)", exc, exc.fix)
        return self._chinese

    @property
    def languages(self) -> list[str]:
        if self.english.language == "zh":  # a Chinese Piper voice of the user's (`tts.voice`) reads everything
            return ["zh"]
        has_chinese = self._chinese is not None or self._chinese_loader is not None
        return ["en", "zh"] if has_chinese else ["en"]

    def stream(self, text: str, cancel: CancelToken | None = None) -> Iterator[np.ndarray]:
        if not zh_text.has_han(text) or self.english.language == "zh":
            yield from self.english.stream(text, cancel)
            return
        for run in zh_text.runs(text):
            if cancel is not None and cancel.cancelled:
                return
            chinese = self.chinese if run.language == "zh" else None
            if run.language == "en":
                yield from self.english.stream(run.text, cancel)
            elif chinese is None:
                self.unspoken.add("zh")
            else:
                for chunk in chinese.stream(run.text, cancel):
                    yield resample(chunk, chinese.sample_rate, self.sample_rate)

    def synthesize(self, text: str) -> np.ndarray:
        chunks = list(self.stream(text))
        return np.concatenate(chunks) if chunks else np.zeros(0, dtype=np.float32)

    def warm_up(self) -> None:
        self.english.warm_up()
        if self._chinese is not None:
            self._chinese.warm_up()


def chinese_voice_dir(settings: config.Settings) -> Path | None:
    """Where the Chinese voice to load is: None when it is off, or `auto` and not built (Chinese is then
    shown, not spoken). An explicit folder is returned as it is, so a wrong one fails loudly with a fix."""
    folder = assets.zh_voice_dir(settings)
    if folder is None or (settings.tts.zh_voice.strip() in ("", "auto") and read_manifest(folder) is None):
        return None
    return folder


def chinese_voice(settings: config.Settings) -> ZhVoice | None:
    """The built Chinese voice, or None when it is off or not built (`voice-app models add zh-voice`)."""
    folder = chinese_voice_dir(settings)
    return ZhVoice(folder, speed=settings.tts.speed) if folder is not None else None


def from_settings(settings: config.Settings | None = None, language: str = "") -> SpeakingVoices:
    """The configured voices; for an English conversation (`language` "en") the Chinese one loads on first use."""
    settings = settings or config.load()
    english = Synthesizer.from_settings(settings)
    if language == "en":
        if chinese_voice_dir(settings) is None:
            return SpeakingVoices(english)
        return SpeakingVoices(english, chinese_loader=lambda: chinese_voice(settings))
    return SpeakingVoices(english, chinese_voice(settings))
