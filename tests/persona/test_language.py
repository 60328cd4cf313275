"""The conversation's language picks the speech recognizer (stt.model = auto)."""

from __future__ import annotations

from pathlib import Path

import pytest

from voice_app.conversation.importing import ensure_demo
from voice_app.conversation.persona_data import speech_language
from voice_app.core import assets, config
from voice_app.persona.language import conversation_language
from voice_app.storage.store import Store

ENGLISH = [
    "are you coming over tonight or not",
    "i miss the way we used to talk",
    "did you get my message about the keys",
    "lol that's so you",
    "ok",
    "can we talk tomorrow when you are free",
] * 10
CHINESE = ["你今天晚上还来吗", "我想你了", "钥匙在你那儿吗", "ok啦", "明天再说吧"] * 10
SPANISH = ["no sé si puedo ir esta noche", "te extraño mucho de verdad", "me dejaste las llaves en casa"] * 10
MIXED_MOSTLY_ENGLISH = ENGLISH + ["好的"] * 2


def test_each_language_is_told_apart() -> None:
    assert conversation_language(ENGLISH) == "en"
    assert conversation_language(CHINESE) == "zh"
    assert conversation_language(SPANISH) == ""  # another language: the multilingual model, detected per line
    assert conversation_language(MIXED_MOSTLY_ENGLISH) == ""  # any Chinese at all: not English-only
    assert conversation_language(ENGLISH[:6]) == ""  # too little to tell
    assert conversation_language([]) == ""


def test_auto_picks_tiny_en_for_english_and_base_for_the_rest() -> None:
    assert assets.stt_model_id("auto", "en") == "whisper-tiny.en"
    assert assets.stt_model_id("auto", "zh") == assets.stt_model_id("auto", "") == "whisper-base"
    assert assets.stt_model_id("whisper-base", "en") == "whisper-base"  # a model the user set is kept
    assert assets.stt_model_id("/models/whisper-small", "en") == "/models/whisper-small"


def test_the_demo_persona_is_heard_by_the_english_model(tmp_path: Path) -> None:
    stt = pytest.importorskip("voice_app.speech.stt")
    with Store(tmp_path / "voice.sqlite3") as store:
        ensure_demo(store)
        language = speech_language(store, "demo")
    assert language == "en"
    transcriber = stt.Transcriber.from_settings(config.Settings(), language=language)
    assert transcriber.path == assets.resolve("stt", "whisper-tiny.en").path and transcriber.language == "en"
    chosen = config.Settings()
    chosen.stt.model = "whisper-base"
    base = stt.Transcriber.from_settings(chosen, language=language)
    assert base.path == assets.resolve("stt", "whisper-base").path and base.language == "en"
    # a Chinese conversation is heard as Chinese; an unknown one is detected per line
    assert stt.Transcriber.from_settings(config.Settings(), language="zh").language == "zh"
    assert stt.Transcriber.from_settings(config.Settings(), language="").language == ""
