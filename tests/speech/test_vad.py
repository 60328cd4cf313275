"""Streaming Silero VAD endpointing on synthesized speech with pauses, pre-roll, and trimming."""

from __future__ import annotations

import numpy as np
import pytest

from tests.speech.conftest import word_error_rate
from voice_app.speech.audio import ArraySource
from voice_app.speech.recorder import HandsFree
from voice_app.speech.vad import WINDOW, Endpointer, SileroVAD, speech_bounds, trim_silence


def silence(seconds: float) -> np.ndarray:
    rng = np.random.default_rng(0)
    return (rng.standard_normal(int(seconds * 16000)) * 0.002).astype(np.float32)  # a quiet room, not zeros


def test_streaming_vad_matches_speech_and_silence(say) -> None:  # type: ignore[no-untyped-def]
    vad = SileroVAD()
    speech = say("I waited for you at the station.")
    probs_sil = vad.feed(silence(1.0))
    vad.reset()
    probs_speech = vad.feed(speech)
    assert max(probs_sil) < 0.3
    assert np.mean(np.array(probs_speech) > 0.5) > 0.6
    # feeding in odd-sized pieces gives the same windows as one call
    vad.reset()
    pieces = [vad.feed(speech[i : i + 300]) for i in range(0, len(speech), 300)]
    assert np.allclose([p for piece in pieces for p in piece], probs_speech, atol=1e-4)


def test_endpointing_keeps_short_pauses_and_splits_long_ones(say) -> None:  # type: ignore[no-untyped-def]
    one, two, three = (
        say("I miss the way things were."),
        say("Before everything went wrong."),
        say("Anyway, goodbye."),
    )
    lead = silence(1.0)
    # Piper pads each clip with ~0.2 s of silence, so the real pauses are ~0.5 s and ~1.6 s.
    stream = np.concatenate([lead, one, silence(0.1), two, silence(1.2), three, silence(1.0)])
    starts: list[int] = []
    ep = Endpointer(end_silence_ms=600, preroll_ms=300, on_speech_start=starts.append)
    segments = []
    for i in range(0, len(stream), 512):
        segments += ep.feed(stream[i : i + 512])
    assert len(segments) == 2, [(s.speech_start, s.speech_end) for s in segments]
    first, second = segments
    assert len(starts) == 2
    # the end was declared end_silence_ms after the last voiced window
    assert 0.55 * 16000 <= first.endpoint - first.speech_end <= 0.75 * 16000
    # pre-roll: the segment starts ~300 ms before the detected start, which is at most ~100 ms late
    # (after the clip's own first sound: Piper's padding varies from one synthesis to the next)
    onset = len(lead) + int(np.argmax(np.abs(one) > 0.02))
    assert onset - 0.15 * 16000 <= first.speech_start <= onset + 0.15 * 16000
    first_audio_start = first.endpoint - len(first.audio)
    assert 0.25 * 16000 <= first.speech_start - first_audio_start <= 0.35 * 16000 + WINDOW
    # the short pause stayed inside the first turn; the long one ended it
    assert first.speech_end > len(lead) + len(one) + 0.1 * 16000
    assert second.speech_start > len(lead) + len(one) + len(two)


def steady_speech(synthesizer, text: str) -> np.ndarray:  # type: ignore[no-untyped-def]
    """Piper with its noise off: the same 16 kHz samples at every run (its default varies per call)."""
    from piper import SynthesisConfig

    from voice_app.core.signal import resample

    steady = SynthesisConfig(noise_scale=0.0, noise_w_scale=0.0)
    chunks = [c.audio_float_array for c in synthesizer.voice.synthesize(text, syn_config=steady)]
    return resample(np.concatenate(chunks).astype(np.float32), synthesizer.sample_rate, 16000)


def test_a_first_word_heard_apart_from_the_rest_is_kept(synthesizer) -> None:  # type: ignore[no-untyped-def]
    """ "I" and then "kept the photos…": the VAD hears the first word as a short run, under the
    `min_speech_ms` that starts speech, and a gap; the start reaches back to it, at every alignment
    of the speech to the VAD's windows (at some, speech used to start ~180 ms into the line).

    One fixed clip, so the test checks the alignments and not Piper's luck: in 2 of 85 default
    (noisy) syntheses Silero scored the "I" itself under the 0.35 that goes on with speech, and the
    start fell 0.13-0.17 s after it (the pre-roll still gives it to the recognizer). Without the
    reach-back this clip starts 0.16 s late at one alignment."""
    line = steady_speech(synthesizer, "I kept the photos from the concert.")
    onset = int(np.argmax(np.abs(line) > 0.02))  # the first sound (Piper pads each clip with silence)
    for shift in range(0, WINDOW, 64):
        lead = silence(1.0 + shift / 16000)
        stream = np.concatenate([lead, line, silence(1.0)])
        ep = Endpointer(end_silence_ms=600, preroll_ms=300)
        segments = [seg for i in range(0, len(stream), 320) for seg in ep.feed(stream[i : i + 320])]
        assert len(segments) == 1, shift
        start, first_sound = segments[0].speech_start, len(lead) + onset
        assert start - first_sound <= 0.1 * 16000, (shift, (start - first_sound) / 16000)
        audio_start = segments[0].endpoint - len(segments[0].audio)
        assert first_sound - audio_start >= 0.2 * 16000, (shift, (first_sound - audio_start) / 16000)
        # What the recognizer is given keeps the word too: its start is decided per 32 ms window, so it
        # may fall inside the window of the first sound (a breath before "I" at |x| > 0.02), not later.
        bounds = speech_bounds(segments[0].audio)
        assert bounds is not None and bounds[0] <= first_sound - audio_start + WINDOW, (shift, bounds)


def test_trim_silence_before_transcription(say, tiny_en) -> None:  # type: ignore[no-untyped-def]
    speech = say("Are you happy now?")
    clip = np.concatenate([silence(2.0), speech, silence(2.0)])
    bounds = speech_bounds(clip)
    assert bounds is not None
    assert abs(bounds[0] - 2.0 * 16000) < 0.3 * 16000 and abs(bounds[1] - (2.0 * 16000 + len(speech))) < 0.3 * 16000
    assert len(trim_silence(silence(3.0))) == 0
    assert word_error_rate("Are you happy now?", tiny_en.transcribe(trim_silence(clip)).text) == 0.0


def test_hands_free_turns_are_transcribed_while_spoken(say, tiny_en) -> None:  # type: ignore[no-untyped-def]
    a, b = "Why did you never call me back?", "I needed to hear it from you."
    clip = np.concatenate([silence(0.5), say(a), silence(1.0), say(b), silence(0.9)])
    source = ArraySource(clip, speed=2.0)  # twice real time
    started: list[bool] = []
    partials: list[str] = []
    hands_free = HandsFree(
        source,
        transcriber=tiny_en,
        end_silence_ms=600,
        preroll_ms=300,
        on_speech_start=lambda: started.append(True),
        on_partial=partials.append,
    )
    with hands_free:
        assert source.done.wait(20)
    got = [u.transcribe() for u in hands_free.utterances]
    assert len(started) == 2 and len(got) == 2, got
    assert word_error_rate(a, got[0]) == 0.0 and word_error_rate(b, got[1]) == 0.0
    assert all(u.stt_stats["passes"] >= 1 for u in hands_free.utterances)
    assert partials and all(isinstance(p, str) for p in partials)  # each pass reported while they spoke


def test_a_finished_sentence_ends_the_turn_after_a_short_pause(say) -> None:  # type: ignore[no-untyped-def]
    stream = np.concatenate([silence(0.5), say("Do you still listen to that song?"), silence(1.0)])

    def endpoint_after(done: bool) -> float:
        ep = Endpointer(end_silence_ms=600, short_silence_ms=250, sentence_done=lambda: done)
        segments = [seg for i in range(0, len(stream), 512) for seg in ep.feed(stream[i : i + 512])]
        assert len(segments) == 1
        return (segments[0].endpoint - segments[0].speech_end) / 16000

    assert 0.2 <= endpoint_after(True) <= 0.35  # the transcript ends a sentence: no long wait
    assert 0.55 <= endpoint_after(False) <= 0.75  # mid-sentence: the full pause is waited out


def test_only_a_finished_transcript_of_all_the_speech_ends_a_turn_early() -> None:
    from voice_app.speech.recorder import ends_sentence

    assert ends_sentence("Do you still listen to that song?") and ends_sentence("我想你了。")
    assert ends_sentence("I miss you.") and ends_sentence("I'm sorry. Goodbye!")
    # a short opening is where people pause mid-sentence: "Hey Alex, [pause] do you remember…"
    assert not ends_sentence("Hey Alex?") and not ends_sentence("Yes.") and not ends_sentence("你好？")
    assert not ends_sentence("I think") and not ends_sentence("and then...") and not ends_sentence("")
    assert not ends_sentence("I wanted to tell you that.")  # Whisper's full stop after an unfinished clause


@pytest.mark.timing
def test_hands_free_ends_a_finished_question_early_and_waits_out_an_unfinished_one(say, tiny_en) -> None:  # type: ignore[no-untyped-def]
    finished, unfinished = "Why did you never call me back?", "I wanted to tell you that"
    clip = np.concatenate([silence(0.5), say(finished), silence(1.5), say(unfinished), silence(1.5)])
    # A quarter of real time: the speech recognizer's pass fits in the pause even on a busy machine
    # (what is asserted is the rule, not the speed).
    source = ArraySource(clip, speed=0.25)
    hands_free = HandsFree(source, transcriber=tiny_en, end_silence_ms=600, short_silence_ms=250)
    # What each silent window past the short pause saw, for the failure message: the answer, the
    # transcript so far, where speech ended, where the last pass ended, and the passes so far.
    asked: list[tuple[bool, str, int, int, int, bool]] = []

    def sentence_done() -> bool:
        stream = hands_free._stream
        done = hands_free._sentence_done()
        if stream is not None:
            last, thread = stream._last_pass, stream._thread
            alive = thread is not None and thread.is_alive()
            asked.append(
                (done, stream.partial, stream.last_voiced_end, last[1] if last else -1, len(stream.passes), alive)
            )
        return done

    hands_free.endpointer.sentence_done = sentence_done
    with hands_free:
        assert source.done.wait(120)
    ends = [(u.audio, u.transcribe()) for u in hands_free.utterances]
    assert len(ends) == 2, [t for _, t in ends]
    segments = hands_free.endpointer.segments
    waits = [(s.endpoint - s.speech_end) / 16000 for s in segments]
    assert waits[0] <= 0.45, (waits, asked)  # "…back?" ended after ~250 ms of silence
    assert waits[1] >= 0.55, waits  # "…that" waited out the full pause
