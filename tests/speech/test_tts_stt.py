"""Piper TTS, the clause splitter, faster-whisper STT and a TTS → STT round trip on the real models."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from tests.speech.conftest import word_error_rate
from voice_app.core import config
from voice_app.core.compute import LOAD
from voice_app.core.signal import without_lead_in
from voice_app.speech import stt
from voice_app.speech.audio import RATE, ArraySource
from voice_app.speech.recorder import Recorder
from voice_app.speech.stt import StreamingTranscriber, Transcriber, clean_transcript, is_hallucination
from voice_app.speech.tts import ClauseSplitter, speakable, split_clauses
from voice_app.speech.vad import WINDOW

# --- clause splitter -------------------------------------------------------------------------------


def stream(text: str, step: int = 3) -> list[str]:
    splitter = ClauseSplitter()
    out: list[str] = []
    for i in range(0, len(text), step):
        out += splitter.feed(text[i : i + step])
    return out + splitter.flush()


def test_first_clause_is_released_at_the_first_comma_after_a_few_words() -> None:
    splitter = ClauseSplitter()
    assert splitter.feed("Yeah I remember that,") == []  # the next character decides
    assert splitter.feed(" obviously") == ["Yeah I remember that,"]
    # later clauses wait for more words, sentences always end a piece
    assert splitter.feed(" but it was, you know. Anyway") == ["obviously but it was, you know."]
    assert splitter.flush() == ["Anyway"]


def test_streamed_and_whole_splitting_agree_and_keep_every_word() -> None:
    text = 'Honestly, I don\'t know what to say. Dr. Lee said it costs 3.5 dollars! Did you? "Fine." ok'
    pieces = stream(text)
    assert pieces == split_clauses(text)
    assert " ".join(pieces).split() == text.split()
    assert "Dr. Lee said it costs 3.5 dollars!" in pieces
    assert '"Fine."' in pieces


def test_opening_word_is_spoken_at_once_and_newlines_split() -> None:
    # "Oh," goes to the voice while the model is still writing "hi." (first sound sooner)
    assert stream("Oh, hi.\nmiss you") == ["Oh,", "hi.", "miss you"]
    assert ClauseSplitter(first_min=2).feed("Oh, hi. ") == ["Oh, hi."]


def test_unpunctuated_texting_is_cut_at_phrase_openers_and_word_caps() -> None:
    # The persona writes without marks (the style adapter drops the model's full stops): the first
    # piece must not wait for the whole reply.
    text = "the lake house is a beautiful place it's where we spent our vacation time"
    # the first piece at four words (the voice starts while the model writes the rest), later ones at
    # eight, as the reply checks release them
    assert stream(text) == ["the lake house is", "a beautiful place it's where we spent our", "vacation time"]
    assert stream("ok you're right I'm sorry for that") == ["ok you're right", "I'm sorry for that"]
    pieces = stream("oh yeah we should go back there some day and swim in the lake again like we always used to")
    assert len(pieces[0].split()) <= 4 and " ".join(pieces) == (
        "oh yeah we should go back there some day and swim in the lake again like we always used to"
    )
    assert stream("because you're my ex") == ["because you're my ex"]  # short: one piece, at the end
    assert stream("我真的很想你我们以前总是一起去海边看日落那时候真好")[0] == "我真的很想你我们"
    for piece in pieces:
        assert piece == piece.strip() and piece


def test_chinese_clauses() -> None:
    pieces = stream("我也记得那天，我们在湖边坐了很久。后来你就走了！为什么")
    assert pieces == ["我也记得那天，", "我们在湖边坐了很久。", "后来你就走了！", "为什么"]


def test_long_run_without_marks_is_cut_at_a_space() -> None:
    text = " ".join(["word"] * 50)
    pieces = stream(text)
    assert len(pieces) >= 2 and " ".join(pieces).split() == text.split()


def test_speakable_drops_markdown_and_emoji() -> None:
    assert speakable("**no** way 😂 _ok_") == "no way ok"


# --- hallucination filter ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    ["Thank you.", " Thanks for watching!", "you", "字幕由Amara.org社区提供", "[Music]", "(applause)", "♪♪", " "],
)
def test_known_silence_hallucinations_are_dropped(text: str) -> None:
    assert is_hallucination(text)
    assert clean_transcript(["I miss you.", text]) == "I miss you."


def test_real_speech_is_kept() -> None:
    assert not is_hallucination("Thank you for the lake trip.")
    assert not is_hallucination("I love you")


# --- TTS and STT on the real models ----------------------------------------------------------------------


@pytest.mark.timing
def test_piper_streams_one_chunk_per_sentence(synthesizer) -> None:  # type: ignore[no-untyped-def]
    start = time.perf_counter()
    chunks = synthesizer.stream("Hi there. How have you been?")
    first = next(chunks)
    first_s = time.perf_counter() - start
    rest = list(chunks)
    assert synthesizer.sample_rate == 22050
    assert len(rest) == 1 and first.dtype == np.float32 and 0.3 < len(first) / 22050 < 2.0
    assert np.abs(first).max() > 0.1
    assert first_s < 2.0


def test_a_first_sound_is_synthesized_on_every_core_with_the_same_voice(synthesizer) -> None:  # type: ignore[no-untyped-def]
    # Inside LOAD.alone (the model has stopped for a reply's first sound) Piper runs on every core;
    # otherwise on one, beside the model.
    import os

    cores = len(os.sched_getaffinity(0))
    text = "I remember the lake house."
    with LOAD.alone("tts"):
        assert LOAD.holds_alone()
        first = synthesizer.synthesize(text)
    assert not LOAD.holds_alone()
    later = synthesizer.synthesize(text)
    every_core = synthesizer.all_cores_voice()
    threads = every_core.session.get_session_options().intra_op_num_threads
    assert synthesizer.voice.session.get_session_options().intra_op_num_threads == 1
    if cores > 1:
        assert every_core is not synthesizer.voice and threads == cores
    assert np.abs(first).max() > 0.1 and 0.8 < len(first) / len(later) < 1.25  # the same voice, the same words


@pytest.mark.parametrize("model", ["whisper-base", "whisper-tiny.en"])
def test_tts_to_stt_round_trip(model: str, say) -> None:  # type: ignore[no-untyped-def]
    settings = config.Settings()
    settings.stt.model = model
    transcriber = Transcriber.from_settings(settings)
    text = "I never really understood why you left that night."
    padded = np.concatenate([np.zeros(8000, np.float32), say(text), np.zeros(16000, np.float32)])
    from voice_app.speech.vad import trim_silence

    speech = trim_silence(padded)
    assert len(speech) < len(padded) - 16000  # silence trimmed before Whisper sees it
    result = transcriber.transcribe(speech, language="en" if model == "whisper-base" else None)
    # Piper samples noise, so the audio differs run to run; at most one word in nine may be misheard.
    assert word_error_rate(text, result.text) <= 1 / 9, result.text
    assert result.language == "en"


def test_short_encoder_window_sizes_and_loop_detection() -> None:
    assert stt.window_frames(16000 * 2) == 1000  # a short line: the 10 s minimum
    assert stt.window_frames(int(16000 * 12.3)) == 1400  # the speech and a second of silence, whole seconds
    assert stt.window_frames(16000 * 29) == 3000
    assert stt.window_frames(16000 * 40) is None  # long clips take the standard 30 s path
    assert stt.repeats_itself("Yes. " * 30) and stt.repeats_itself("r " * 40)
    assert stt.repeats_itself("Are you happy now? Are you happy now?")  # seen from tiny.en on a 10 s window
    assert stt.repeats_itself("I miss you. Do you remember the lake? Do you remember the lake?")
    assert not stt.repeats_itself("Hey, do you remember the lake house we rented that summer?")
    assert not stt.repeats_itself("no no no, it was fine")  # a repeated word is speech, not a loop
    assert not stt.repeats_itself("")


@pytest.mark.parametrize("model", ["whisper-base", "whisper-tiny.en"])
def test_short_window_hears_what_the_standard_window_hears(model: str, say) -> None:  # type: ignore[no-untyped-def]
    from voice_app.speech.vad import trim_silence

    settings = config.Settings()
    settings.stt.model = model
    transcriber = Transcriber.from_settings(settings, language="en")
    text = "Why did you stop answering my messages?"
    speech = trim_silence(say(text))
    short = transcriber.transcribe(speech)
    transcriber.short_window = False
    try:
        standard = transcriber.transcribe(speech)
    finally:
        transcriber.short_window = True
    assert word_error_rate(text, short.text) <= 1 / 7, short.text
    assert word_error_rate(standard.text, short.text) <= 1 / 7, (short.text, standard.text)
    assert transcriber.fallbacks == 0


def test_a_cut_short_window_result_is_decoded_again_the_standard_way(tiny_en, say, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from voice_app.speech.vad import trim_silence

    text = "I found the letters you wrote me last week, and I read every one of them again."
    speech = trim_silence(say(text))
    monkeypatch.setattr(stt, "TOKENS_PER_S", 0)  # a 10-token cap: the short-window pass is cut
    before = tiny_en.fallbacks
    result = tiny_en.transcribe(speech, language="en")
    assert tiny_en.fallbacks == before + 1
    assert word_error_rate(text, result.text) <= 0.15, result.text  # the whole line, from the 30 s pass


def test_silence_gives_no_text(tiny_en) -> None:  # type: ignore[no-untyped-def]
    from voice_app.speech.recorder import Utterance

    utterance = Utterance(np.zeros(32000, np.float32), time.perf_counter(), time.perf_counter())
    assert utterance.transcribe(tiny_en) == ""


@pytest.mark.timing
def test_streaming_transcription_leaves_only_the_tail(tiny_en, say) -> None:  # type: ignore[no-untyped-def]
    text = "Do you remember the lake house we rented that summer, with the broken boat?"
    source = ArraySource(say(text), leading_s=0.2, trailing_s=0.4)
    partials: list[str] = []
    recorder = Recorder(source, transcriber=tiny_en, on_partial=partials.append).open()  # e.g. the LLM prefill
    recorder.start()
    source.done.wait(30)
    utterance = recorder.stop()
    recorder.close()
    start = time.perf_counter()
    transcript = utterance.transcribe()
    final_s = time.perf_counter() - start
    assert word_error_rate(text, transcript) <= 0.1, transcript
    assert utterance.stt_stats["passes"] >= 2 and partials  # it transcribed while "speaking"
    # The pause pass covered all the speech: nothing (or only a tail) is left at release.
    assert utterance.stt_stats["reused"] == 1.0 or final_s < 3.0
    assert 0.4 * 16000 < len(utterance.audio) - len(say(text)) < 1.2 * 16000  # pre-roll and trailing kept


def test_a_pass_that_heard_all_the_speech_is_told_as_settled(tiny_en, say) -> None:  # type: ignore[no-untyped-def]
    """The user fell silent with the key still down: the pass over everything said is "settled"
    (a reply may start from it); passes while they speak are not."""
    text = "Why did you stop answering my messages?"
    source = ArraySource(say(text), leading_s=0.2, trailing_s=1.5)
    partials: list[str] = []
    settled: list[tuple[float, str]] = []
    recorder = Recorder(
        source,
        transcriber=tiny_en,
        on_partial=partials.append,
        on_settled=lambda words: settled.append((time.perf_counter(), words)),
    ).open()
    recorder.start()
    source.done.wait(30)
    released = time.perf_counter()
    utterance = recorder.stop()
    recorder.close()
    assert settled and settled[0][0] < released, "heard before the key came up"
    assert settled[-1][1] == utterance.transcribe() and word_error_rate(text, settled[-1][1]) <= 0.2
    assert all(words in partials for _, words in settled)


def wait_for(condition, timeout: float = 60) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.01)
    return bool(condition())


def test_words_are_settled_only_once_a_pause_is_heard(tiny_en, say) -> None:  # type: ignore[no-untyped-def]
    """A pass over all the audio fed so far is not "settled" while that audio ends in speech: a capture
    thread that fell behind on a busy machine would otherwise start a reply to half a line."""
    text = "Why did you stop answering my messages?"
    line = say(text)
    half = len(line) // 2 // WINDOW * WINDOW  # mid-line, on a VAD window
    settled: list[str] = []
    streamer = StreamingTranscriber(tiny_en, interval_s=1.0)
    streamer.on_settled = settled.append
    streamer.start()
    try:
        streamer.feed(line[:half])  # in one piece: what a thread that caught up delivers
        assert wait_for(lambda: bool(streamer.passes))
        time.sleep(0.2)
        assert streamer.covers_speech() and not streamer.pausing()
        assert settled == [], "words ending mid-speech were told as settled"
        streamer.feed(np.concatenate([line[half:], np.zeros(RATE // 2, np.float32)]))  # the rest, a pause
        assert wait_for(lambda: bool(settled), 30)
        assert settled[-1] == streamer.partial and word_error_rate(text, settled[-1]) <= 0.2, settled
    finally:
        streamer.finish()


class ScriptedVAD:
    """Speech in the windows the test says, in the order they are fed; silence after them."""

    def __init__(self, voiced: list[bool]) -> None:
        self.voiced = voiced
        self.seen = 0

    def window(self, samples: np.ndarray) -> float:
        self.seen += 1
        return 0.9 if self.seen <= len(self.voiced) and self.voiced[self.seen - 1] else 0.0


class LoudnessVAD:
    """Speech wherever the window is loud: the moments the VAD decides, chosen by the test."""

    def window(self, samples: np.ndarray) -> float:
        return 0.9 if float(np.abs(samples).max()) > 0.01 else 0.0


def test_a_pause_after_a_pass_that_heard_it_all_settles_its_words(tiny_en, say) -> None:  # type: ignore[no-untyped-def]
    """The pass heard all the speech before the pause began: the pause settles its words, no pass again."""
    line = say("I kept the photos from the concert.")
    last_sound = int(np.flatnonzero(np.abs(line) > 0.01)[-1])
    speech = line[: -(-(last_sound + 1) // WINDOW) * WINDOW]  # up to the window of its last sound
    settled: list[str] = []
    streamer = StreamingTranscriber(tiny_en, interval_s=1.0, vad=LoudnessVAD())  # type: ignore[arg-type]
    streamer.on_settled = settled.append
    streamer.start()
    try:
        streamer.feed(np.concatenate([speech, np.zeros(WINDOW * 2, np.float32)]))  # two silent windows
        assert wait_for(lambda: bool(streamer.passes))
        time.sleep(0.2)
        assert streamer.covers_speech() and not streamer.pausing() and settled == []
        streamer.feed(np.zeros(WINDOW * (streamer.pause_windows - 2), np.float32))  # the pause is reached
        assert wait_for(lambda: bool(settled), 10)
        assert settled == [streamer.partial] and len(streamer.passes) == 1
        assert word_error_rate("I kept the photos from the concert.", settled[0]) <= 0.2, settled
    finally:
        streamer.finish()


def test_a_pass_starts_as_the_speaker_falls_silent_and_its_words_settle_at_the_pause(tiny_en, say) -> None:  # type: ignore[no-untyped-def]
    """The pass that settles a line starts at the first silent window, not once the pause is reached:
    when the pause comes its words are ready sooner, and the held reply starts sooner."""
    line = say("I kept the photos from the concert.")
    last_sound = int(np.flatnonzero(np.abs(line) > 0.01)[-1])
    speech = line[: -(-(last_sound + 1) // WINDOW) * WINDOW]
    settled: list[str] = []
    windows = len(speech) // WINDOW
    pause = 3  # windows: 96 ms
    vad = ScriptedVAD([True] * windows + [False] * pause + [True] * 8)  # a line, a pause, more words
    streamer = StreamingTranscriber(tiny_en, interval_s=30.0, pause_ms=96, vad=vad)  # type: ignore[arg-type]
    streamer.on_settled = settled.append
    streamer.start()
    try:
        streamer.feed(speech)
        time.sleep(0.3)
        assert streamer.passes == []  # no pass while the speaker speaks (the interval is long here)
        assert streamer.pass_windows < streamer.pause_windows
        streamer.feed(np.zeros(WINDOW * streamer.pass_windows, np.float32))  # the speaker falls silent
        assert wait_for(streamer.covers_speech, 10), "no pass started as the speaker fell silent"
        time.sleep(0.2)
        assert settled == [] and not streamer.pausing()  # heard it all, but no pause yet
        silence_left = streamer.pause_windows - streamer.pass_windows
        streamer.feed(np.zeros(WINDOW * silence_left, np.float32))  # the pause is reached
        assert wait_for(lambda: bool(settled), 10)
        assert settled == [streamer.partial] and len(streamer.passes) == 1  # that pass's words, no second
        assert word_error_rate("I kept the photos from the concert.", settled[0]) <= 0.2, settled
        # The speaker goes on: the next pass waits for the next silence (that pause's pass is spent).
        middle = len(speech) // 2 // WINDOW * WINDOW
        streamer.feed(speech[middle : middle + WINDOW * 8])
        time.sleep(0.3)
        assert len(streamer.passes) == 1
        streamer.feed(np.zeros(WINDOW * streamer.pass_windows, np.float32))
        assert wait_for(lambda: len(streamer.passes) == 2, 10)
    finally:
        streamer.finish()


def test_the_pause_that_starts_a_held_reply_is_the_setting(tiny_en, say) -> None:  # type: ignore[no-untyped-def]
    """`audio.pause_ms` reaches both listeners' streams, and a shorter one settles the words sooner."""
    from voice_app.speech.recorder import HandsFree

    settings = config.Settings()
    settings.audio.pause_ms = 64
    recorder = Recorder(_LaggingSource(), transcriber=tiny_en, pause_ms=settings.audio.pause_ms).open()  # type: ignore[arg-type]
    recorder.start()
    assert recorder._stream is not None and recorder._stream.pause_windows == 2
    recorder.stop()
    listener = HandsFree(_LaggingSource(), transcriber=tiny_en, pause_ms=settings.audio.pause_ms)  # type: ignore[arg-type]
    listener._speech_started(0)
    assert listener._stream is not None and listener._stream.pause_windows == 2
    listener._stream.finish()

    line = say("I kept the photos from the concert.")
    last_sound = int(np.flatnonzero(np.abs(line) > 0.01)[-1])
    speech = line[: -(-(last_sound + 1) // WINDOW) * WINDOW]
    settled: list[str] = []
    streamer = StreamingTranscriber(tiny_en, pause_ms=64, vad=LoudnessVAD())  # type: ignore[arg-type]
    streamer.on_settled = settled.append
    streamer.start()
    try:
        streamer.feed(np.concatenate([speech, np.zeros(WINDOW * 2, np.float32)]))  # 64 ms of silence
        assert wait_for(lambda: bool(settled), 10)
        assert word_error_rate("I kept the photos from the concert.", settled[0]) <= 0.2, settled
    finally:
        streamer.finish()


def test_a_reply_starts_at_its_first_sound() -> None:
    rate = 22050
    chunk = np.concatenate([np.zeros(rate // 10, dtype=np.float32), 0.3 * np.ones(rate // 10, dtype=np.float32)])
    chunk[rate // 10 - 50] = 0.005  # below the threshold: still the lead-in
    trimmed = without_lead_in(chunk, rate)
    assert len(trimmed) == rate // 10 + rate // 100  # the sound, and 10 ms before it
    assert np.array_equal(without_lead_in(np.zeros(100, dtype=np.float32), rate), np.zeros(100, dtype=np.float32))


class _LaggingSource:
    """A device whose blocks arrive `latency` after they were said (what a microphone buffer does)."""

    latency = 0.06

    def __init__(self) -> None:
        self.callback = None

    def start(self, on_audio) -> None:  # type: ignore[no-untyped-def]
        self.callback = on_audio

    def stop(self) -> None:
        self.callback = None


def test_the_release_waits_for_words_still_in_the_microphone_buffer() -> None:
    source = _LaggingSource()
    recorder = Recorder(source).open()
    recorder.start()
    assert source.callback is not None
    source.callback(np.full(512, 0.1, dtype=np.float32))
    late = threading.Timer(0.02, source.callback, args=(np.full(512, 0.2, dtype=np.float32),))
    late.start()  # said before the release, delivered 20 ms after it
    utterance = recorder.stop()
    late.join()
    assert len(utterance.audio) == 1024 and utterance.audio[-1] == pytest.approx(0.2)


def test_the_release_waits_for_a_block_a_busy_machine_held_back() -> None:
    source = _LaggingSource()
    source.latency = 0.02
    recorder = Recorder(source).open()
    recorder.start()
    assert source.callback is not None
    source.callback(np.full(512, 0.1, dtype=np.float32))
    late = threading.Timer(0.05, source.callback, args=(np.full(512, 0.2, dtype=np.float32),))
    late.start()  # the device's callback ran late: its block came 50 ms after the release, not 20
    utterance = recorder.stop()
    late.join()
    assert len(utterance.audio) == 1024 and utterance.audio[-1] == pytest.approx(0.2)


def test_streaming_commits_words_and_decodes_only_the_tail(tiny_en, say) -> None:  # type: ignore[no-untyped-def]
    sentences = [
        "I kept every letter you wrote me.",
        "Some nights I still read them.",
        "I am not angry anymore, just tired.",
    ]
    audio = np.concatenate([np.concatenate([say(s), np.zeros(4000, np.float32)]) for s in sentences])
    streamer = StreamingTranscriber(tiny_en, interval_s=1.0, commit_after_s=2.0, hold_s=0.6).start()
    for i in range(0, len(audio), 512):
        streamer.feed(audio[i : i + 512])
        time.sleep(0.032 * 0.5)  # twice real time keeps the suite short
    text, stats = streamer.finish()
    assert word_error_rate(" ".join(sentences), text) <= 0.15, text
    assert streamer.committed_at > 0 and streamer.committed_text, "nothing was committed"
    assert stats["passes"] >= 2
