"""The Chinese voice: its text front end, the built ONNX voice heard back by Whisper, voices per language,
and a spoken Chinese conversation end to end with the shipped fictional demo-zh persona."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from tests.speech.conftest import character_error_rate, han_and_words, write_wav
from voice_app import cli
from voice_app.core import assets, config
from voice_app.core.signal import resample
from voice_app.speech import zh_text
from voice_app.storage.store import Store

# --- the text front end (no model) -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("number", "spoken"),
    [
        (0, "零"),
        (10, "十"),
        (15, "十五"),
        (110, "一百一十"),
        (1005, "一千零五"),
        (100005, "十万零五"),
        (123456789, "一亿二千三百四十五万六千七百八十九"),
    ],
)
def test_numbers_are_read_as_chinese_numbers(number: int, spoken: str) -> None:
    assert zh_text.cardinal(number) == spoken


def test_years_times_percentages_and_counts_are_read_out() -> None:
    said = zh_text.normalize("2019年认识，3:30见，花了12.5块，80%的时间，2个人，第2次")
    assert said == "二零一九年认识，三点半见，花了十二点五块，百分之八十的时间，两个人，第二次"


def test_latin_words_go_to_the_english_voice_not_dropped_and_emoji_are_dropped() -> None:
    runs = zh_text.runs("ok啦，明天见！我在Starbucks等你😀")
    assert [(r.language, r.text) for r in runs] == [
        ("en", "ok"),
        ("zh", "啦，明天见！我在"),
        ("en", "Starbucks"),
        ("zh", "等你"),
    ]


def test_pinyin_becomes_baker_phonemes_with_neutral_tones_erhua_and_interjections() -> None:
    mapper = {
        "ni": ["n", "i"],
        "hao": ["h", "ao"],
        "ba": ["b", "a"],
        "hua": ["h", "ua"],
        "en": ["^", "en"],
        "er": ["^", "er"],
        "nv": ["n", "v"],
    }
    assert zh_text.phonemes("你好吧", mapper) == ["sil", "n", "i3", "#0", "h", "ao3", "#0", "b", "a5", "sil"]
    assert zh_text.phonemes("画儿", mapper) == ["sil", "h", "ua4", "er5", "sil"]  # a suffix: r-coloured
    assert zh_text.phonemes("女儿", mapper) == ["sil", "n", "v3", "#0", "^", "er2", "sil"]  # a syllable
    assert zh_text.phonemes("嗯", mapper) == ["sil", "^", "en2", "sil"]
    assert zh_text.phonemes("你😀好", mapper) == ["sil", "n", "i3", "#0", "h", "ao3", "sil"]


def test_phrases_cut_after_pause_marks() -> None:
    assert zh_text.phrases("好啊，周六中午。ok") == ["好啊，", "周六中午。"]
    assert zh_text.phrases("记得 你呢") == ["记得", "你呢"]  # texting's space is a pause


# --- the built voice --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def zh_voice():  # type: ignore[no-untyped-def]
    from voice_app.speech.zh_voice import ZhVoice, read_manifest

    folder = assets.zh_voice_dir(config.Settings())
    if folder is None or read_manifest(folder) is None:
        pytest.fail(
            "The Chinese voice is not built, so its tests cannot run: `bash scripts/setup.sh --zh-voice`"
            " (or `.venv/bin/voice-app models add zh-voice --accept-licence`)."
        )
    return ZhVoice(folder)


@pytest.fixture(scope="module")
def whisper_zh():  # type: ignore[no-untyped-def]
    from voice_app.speech.stt import Transcriber

    return Transcriber(assets.resolve("stt", "whisper-base").path, language="zh")


SENTENCES = [
    "我还记得我们第一次去吃煎饼的那天。",
    "你每次都说十分钟，这次是真的吗？",
    "其实我也不知道该怎么说，我们就这样吧。",
    "深圳那边给了我一个机会，我想去试试。",
]


def test_the_built_voice_is_recorded_with_its_licence_and_checksums(zh_voice) -> None:  # type: ignore[no-untyped-def]
    from voice_app.core.assets import sha256_file
    from voice_app.speech.zh_voice import read_manifest
    from voice_app.speech.zh_voice_build import LICENCE, SOURCE_FILES

    manifest = read_manifest(zh_voice.folder)
    assert manifest is not None and manifest["licence"] == LICENCE and "non-commercial" in LICENCE
    assert manifest["source_sha256"] == SOURCE_FILES
    files = manifest["files"]
    assert isinstance(files, dict)
    for name, info in files.items():
        assert sha256_file(zh_voice.folder / name) == info["sha256"]
        assert (zh_voice.folder / name).stat().st_size == info["size"]


def test_whisper_hears_the_zh_voice_with_few_character_errors(zh_voice, whisper_zh) -> None:  # type: ignore[no-untyped-def]
    errors = []
    for sentence in SENTENCES:
        audio = zh_voice.synthesize(sentence)
        assert 0.8 < len(audio) / zh_voice.sample_rate < 6.0
        heard = whisper_zh.transcribe(resample(audio, zh_voice.sample_rate, 16000)).text
        errors.append(character_error_rate(sentence, heard))
    assert float(np.mean(errors)) <= 0.10, errors


def test_a_mixed_clause_switches_voices_and_drops_nothing(zh_voice, synthesizer) -> None:  # type: ignore[no-untyped-def]
    from voice_app.speech.voices import SpeakingVoices

    both = SpeakingVoices(synthesizer, zh_voice)
    chinese_only = len(both.synthesize("明天见"))
    mixed = both.synthesize("ok啦，明天见")
    assert both.sample_rate == synthesizer.sample_rate
    assert len(mixed) > chinese_only + 0.15 * both.sample_rate  # "ok" was spoken by the English voice
    loads: list[int] = []
    lazy = SpeakingVoices(synthesizer, chinese_loader=lambda: loads.append(1) or zh_voice)
    assert lazy.languages == ["en", "zh"] and len(lazy.synthesize("see you tomorrow")) > 0 and loads == []
    assert len(lazy.synthesize("明天见")) == chinese_only and loads == [1]  # loaded once, when first needed
    english = SpeakingVoices(synthesizer, None)
    assert len(english.synthesize("ok啦，明天见")) > 0 and english.unspoken == {"zh"}
    assert english.languages == ["en"] and both.languages == ["en", "zh"]


def test_a_chinese_conversation_without_the_voice_says_its_replies_are_not_spoken(
    zh_voice, whisper_zh, synthesizer
) -> None:  # type: ignore[no-untyped-def]
    from voice_app.conversation.conversation import Voice
    from voice_app.speech.audio import NullSpeaker
    from voice_app.speech.voices import SpeakingVoices

    without = Voice(whisper_zh, SpeakingVoices(synthesizer, None), NullSpeaker())
    notice = without.cannot_speak("zh")
    assert notice is not None and "voice-app models add zh-voice" in notice
    assert without.cannot_speak("en") is None
    assert Voice(whisper_zh, SpeakingVoices(synthesizer, zh_voice), NullSpeaker()).cannot_speak("zh") is None


def test_the_build_refuses_without_the_licence_and_names_a_python_it_needs(tmp_path: Path) -> None:
    from voice_app.speech.zh_voice_build import LicenceNotAcceptedError, ZhVoiceBuildError, build

    with pytest.raises(LicenceNotAcceptedError) as refused:
        build(tmp_path / "zh-voice", accepted_licence=False)
    assert "non-commercial" in str(refused.value) and "--accept-licence" in (refused.value.fix or "")
    assert not (tmp_path / "zh-voice").exists()
    with pytest.raises(ZhVoiceBuildError) as no_python:
        build(tmp_path / "zh-voice", accepted_licence=True, python=str(tmp_path / "no-python"))
    assert "--python" in (no_python.value.fix or "")
    assert list(tmp_path.iterdir()) == []


def test_models_add_says_which_models_exist_and_doctor_reports_the_voice(
    isolated_home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from voice_app.core.errors import VoiceAppError

    args = cli.build_parser().parse_args(["models", "add", "zh-vioce"])
    with pytest.raises(VoiceAppError) as unknown:
        args.func(args)
    assert "zh-voice" in (unknown.value.fix or "")
    args = cli.build_parser().parse_args(["models", "--json"])
    assert args.func(args) == 0
    rows = {row["id"]: row for row in json.loads(capsys.readouterr().out)}
    assert rows["zh-voice"]["installed"] is True and "non-commercial" in rows["zh-voice"]["licence"]
    from voice_app.conversation.doctor import run_checks

    assert run_checks()["zh_voice"].ok
    settings = config.Settings()
    settings.tts.zh_voice = "off"
    check = run_checks(settings=settings)["zh_voice"]
    assert check.ok and "not spoken" in check.detail


# --- a spoken Chinese conversation -----------------------------------------------------------------


def run(argv: list[str]) -> int:
    args = cli.build_parser().parse_args(argv)
    return int(args.func(args) or 0)


def total_error(pairs: list[tuple[str, str]]) -> float:
    """Character errors over all the pairs together (short replies alone make single errors huge)."""
    units = [max(1, len(han_and_words(expected))) for expected, _ in pairs]
    errors = [character_error_rate(expected, got) * n for (expected, got), n in zip(pairs, units, strict=True)]
    return sum(errors) / sum(units)


@pytest.mark.slow
def test_mandarin_lines_are_heard_answered_and_spoken_in_chinese(
    tmp_path: Path, isolated_home: Path, zh_voice, whisper_zh, capsys: pytest.CaptureFixture[str]
) -> None:  # type: ignore[no-untyped-def]
    """demo-zh end to end, three spoken lines: Whisper base hears them (in simplified characters), the
    persona answers in Chinese, the zh voice speaks the replies, and what was spoken is heard back."""
    said = ["阿杰，你还记得我们一起去青岛看海吗？", "你现在过得好吗？", "我们分开以后，你有没有想过我？"]
    wavs = []
    for i, line in enumerate(said):
        clip = resample(zh_voice.synthesize(line), zh_voice.sample_rate, 16000)
        wavs.append(str(write_wav(tmp_path / f"said-{i}.wav", np.concatenate([np.zeros(3200, np.float32), clip]))))
    (isolated_home / "config.toml").write_text('[llm]\nbackend = "embedded"\n')
    inputs = [arg for wav in wavs for arg in ("--input-wav", wav)]
    argv = ["talk", "demo-zh", "--no-tui", *inputs, "--json", "--max-tokens", "32", "--seed", "3"]
    assert run(argv) == 0
    data = json.loads(capsys.readouterr().out)
    turns = data["turns"]
    heard_lines = [(line, turn["transcript"]) for line, turn in zip(said, turns, strict=True)]
    assert total_error(heard_lines) <= 0.10, heard_lines
    assert not any("記" in t or "們" in t for _, t in heard_lines)  # in the user's (simplified) script
    replies = [turn["reply"] for turn in turns]
    assert all(zh_text.has_han(reply) for reply in replies), replies
    import soundfile as sf

    spoken: list[tuple[str, str]] = []
    stepped_out: list[bool] = []
    with Store(isolated_home / "voice_app.sqlite3") as store:
        for turn in store.turns(data["session"]):
            assert turn["reply_audio"], turn
            audio, rate = sf.read(str(isolated_home / turn["reply_audio"]), dtype="float32")
            spoken.append((turn["reply_text"], whisper_zh.transcribe(resample(audio, rate, 16000)).text))
            stepped_out.append(turn["care"] == "crisis")
    assert [text for text, _ in spoken] == replies
    # Each turn's audio is its own reply spoken: heard closer to its text than to any other reply's.
    for i, (_, got) in enumerate(spoken):
        own = character_error_rate(replies[i], got)
        others = [character_error_rate(other, got) for other in replies if other != replies[i]]
        assert all(own < other for other in others), (i, spoken)
    # The replies are whatever the model wrote on this CPU and build (three lines of ~7 characters), so
    # one near-homophone (有/又, 很/河, 工作/公准) moves this by 5 points: 0.24 was seen with the weight
    # repack off, under 0.20 with it on. The voice's own intelligibility on fixed sentences is held to
    # 10% above; here the bound is that the replies were spoken in Chinese and heard as written.
    # A reply the reply check replaced with the care text (a false alarm, ~1 in 20: docs/CARE.md) is a
    # long fixed text of helplines and numbers, not three lines of ~7 characters: it is heard as the
    # care text stepping out of character, and the persona's replies are held to the bound.
    for (_, got), replaced in zip(spoken, stepped_out, strict=True):
        assert not replaced or "这不是阿杰在说话" in got, got
    in_character = [pair for pair, replaced in zip(spoken, stepped_out, strict=True) if not replaced]
    assert in_character and total_error(in_character) <= 0.30, spoken
