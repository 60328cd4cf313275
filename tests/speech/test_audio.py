"""Audio I/O on a real (virtual) PulseAudio device: capture, playback, level, device choice, typed errors."""

from __future__ import annotations

import builtins
import time
from pathlib import Path

import numpy as np
import pytest

from tests.speech.conftest import Pulse, read_wav, word_error_rate, write_wav
from voice_app.core.errors import AudioUnavailableError
from voice_app.core.signal import resample
from voice_app.speech import audio
from voice_app.speech.audio import (
    Microphone,
    NullSpeaker,
    Speaker,
    StreamResampler,
    find_device,
    level,
    list_devices,
)
from voice_app.speech.recorder import Recorder


def test_missing_portaudio_is_a_typed_error(monkeypatch: pytest.MonkeyPatch) -> None:
    real_import = builtins.__import__

    def no_portaudio(name: str, *args, **kwargs):  # type: ignore[no-untyped-def]
        if name == "sounddevice":
            raise OSError("PortAudio library not found")
        return real_import(name, *args, **kwargs)

    monkeypatch.delitem(__import__("sys").modules, "sounddevice", raising=False)
    monkeypatch.setattr(builtins, "__import__", no_portaudio)
    with pytest.raises(AudioUnavailableError) as info:
        audio.sounddevice()
    assert "PortAudio" in info.value.message and "libportaudio2" in (info.value.fix or "")
    with pytest.raises(AudioUnavailableError):
        Recorder(Microphone("")).start()


def test_level_and_resampling() -> None:
    assert level(np.zeros(512, np.float32)) == 0.0
    loud = 0.5 * np.sin(np.arange(16000) / 16000 * 2 * np.pi * 440).astype(np.float32)
    assert 0.8 < level(loud) < 1.0 and level(loud * 0.01) < level(loud)
    tone = 0.5 * np.sin(np.arange(22050) / 22050 * 2 * np.pi * 440).astype(np.float32)
    down = resample(tone, 22050, 16000)
    assert len(down) == 16000
    spectrum = np.abs(np.fft.rfft(down))
    assert abs(int(np.argmax(spectrum)) - 440) <= 1  # the tone is still at 440 Hz
    # block-by-block resampling gives the same signal as the whole-clip one
    blocks = StreamResampler(48000, 16000)
    src = 0.5 * np.sin(np.arange(48000) / 48000 * 2 * np.pi * 300).astype(np.float32)
    streamed = np.concatenate([blocks(src[i : i + 1536]) for i in range(0, len(src), 1536)])
    assert abs(len(streamed) - 16000) <= 2
    whole = resample(src, 48000, 16000)
    # the streaming low-pass is causal: same signal, delayed by half its length (31 input samples)
    lag = 31 // 3
    n = min(len(streamed) - lag, len(whole)) - 100
    assert np.max(np.abs(streamed[100 + lag : n + lag] - whole[100:n])) < 0.05


def test_null_speaker_plays_in_real_time_and_stops_at_once() -> None:
    speaker = NullSpeaker(rate=16000, block=256).open()
    try:
        state = speaker.begin()
        speaker.play(np.ones(16000, np.float32) * 0.1, tag=0)
        time.sleep(0.3)
        stopped = speaker.stop()
        assert state.first_sample_at is not None and state.stopped_at == stopped
        assert 0.2 * 16000 < state.samples_played < 0.5 * 16000
        played = state.samples_played
        time.sleep(0.1)
        assert state.samples_played == played and not speaker.playing
    finally:
        speaker.close()


def test_the_speaker_counts_where_a_reply_went_silent_waiting_for_audio() -> None:
    speaker = NullSpeaker(rate=16000, block=256).open()
    try:
        state = speaker.begin()
        speaker.play(np.ones(1600, np.float32) * 0.1, tag=0)
        assert speaker.wait(5)
        time.sleep(0.3)  # the next clause is late: the voice is silent meanwhile
        speaker.play(np.ones(1600, np.float32) * 0.1, tag=1)
        assert speaker.wait(5)
        time.sleep(0.2)  # the silence after the reply's last sample is not a wait
        assert len(state.waits) == 1 and 0.25 <= state.waits[0] < 2.0, state.waits
        # audio queued before the last ran out: no wait
        later = speaker.begin()
        speaker.play(np.ones(1600, np.float32) * 0.1, tag=0)
        speaker.play(np.ones(1600, np.float32) * 0.1, tag=1)
        assert speaker.wait(5)
        assert later.waits == [] and later.samples_played == 3200
    finally:
        speaker.close()


@pytest.mark.audio
def test_devices_by_name_and_index(pulse: Pulse) -> None:
    devices = list_devices()
    pulse_dev = next(d for d in devices if d["name"] == "pulse")
    assert find_device("pulse", "input") == pulse_dev["index"]
    assert find_device("PULSE", "output") == pulse_dev["index"]
    assert find_device(str(pulse_dev["index"]), "output") == pulse_dev["index"]
    assert find_device("", "input") is None  # the system default
    with pytest.raises(AudioUnavailableError) as info:
        find_device("no such mic", "input")
    assert "pulse" in (info.value.fix or "") and "audio.input_device" in (info.value.fix or "")
    with pytest.raises(AudioUnavailableError):
        find_device("999", "output")


@pytest.mark.audio
def test_capture_from_the_virtual_mic(pulse: Pulse, tmp_path: Path, say, tiny_en) -> None:  # type: ignore[no-untyped-def]
    text = "Can we talk about what happened in March?"
    wav = write_wav(tmp_path / "line.wav", np.concatenate([say(text), np.zeros(4000, np.float32)]))
    levels: list[float] = []
    with Recorder(Microphone("pulse"), transcriber=tiny_en, language="en") as recorder:
        recorder.set_level_callback(levels.append)
        time.sleep(0.2)
        recorder.start()
        pulse.play_into_mic(wav)
        time.sleep(0.2)
        utterance = recorder.stop()
    assert utterance.duration_s > len(say(text)) / 16000
    assert max(levels) > 0.5 and min(levels) < 0.1  # the meter follows speech and silence
    assert word_error_rate(text, utterance.transcribe()) == 0.0


@pytest.mark.audio
def test_the_key_released_as_the_speech_ends_keeps_the_last_word(pulse: Pulse, tmp_path: Path, say, tiny_en) -> None:  # type: ignore[no-untyped-def]
    text = "Can we talk about what happened in March?"
    line = say(text)
    last_sound = int(np.flatnonzero(np.abs(line) > 0.01)[-1])
    wav = write_wav(tmp_path / "line.wav", line[: last_sound + 1])  # nothing after the last sound
    microphone = Microphone("pulse")
    with Recorder(microphone, transcriber=tiny_en, language="en") as recorder:
        time.sleep(0.2)
        recorder.start()
        assert microphone.latency <= 0.04  # one buffer: two blocks of 16 ms
        pulse.play_into_mic(wav)
        utterance = recorder.stop()  # the key comes up as the speech ends
    assert word_error_rate(text, utterance.transcribe()) == 0.0


@pytest.mark.audio
def test_playback_reaches_the_virtual_speaker(pulse: Pulse, tmp_path: Path, say) -> None:  # type: ignore[no-untyped-def]
    clip = say("Goodbye, Sam.")
    recording = tmp_path / "out.wav"
    recorder = pulse.record_speaker(recording)
    time.sleep(0.3)
    speaker = Speaker("pulse", rate=16000).open()
    try:
        state = speaker.begin()
        speaker.play(clip, tag=0)
        assert speaker.wait(10)
        assert state.first_sample_at is not None and state.samples_played == len(clip)
        time.sleep(0.4)
    finally:
        speaker.close()
        recorder.terminate()
        recorder.wait(5)
    heard = read_wav(recording)
    voiced = np.flatnonzero(np.abs(heard) > 0.02)
    assert len(voiced) and 0.6 * len(clip) < voiced[-1] - voiced[0] < 1.3 * len(clip)
