"""How a conversation hears the user: a recording played in, push-to-talk, or hands-free on the microphone."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from voice_app.conversation.conversation import Conversation
from voice_app.core import config
from voice_app.persona.text import tokens
from voice_app.speech.audio import RATE, ArraySource, AudioSource, Microphone
from voice_app.speech.echo import EchoCancelledSource, EchoCanceller, resolve_mode, speaking
from voice_app.speech.recorder import HandsFree, Recorder, Utterance

SAMPLE_RATE = RATE  # what recordings are resampled to before they are heard

__all__ = ["SAMPLE_RATE", "HandsFree", "Recorder", "Utterance", "hands_free", "hear_recording", "push_to_talk"]


def hear_recording(conversation: Conversation, audio: np.ndarray, *, trailing_s: float) -> Utterance:
    """A 16 kHz clip played in at real-time pace as if it were the microphone, then the key released."""
    voice = conversation.voice
    assert voice is not None, "a conversation without a voice cannot hear"
    source = ArraySource(audio, trailing_s=trailing_s)
    with Recorder(
        source,
        transcriber=voice.transcriber,
        pause_ms=conversation.settings.audio.pause_ms,
        language=voice.transcriber.language or None,
        on_partial=conversation.on_partial,
        on_settled=conversation.on_settled,
    ) as recorder:
        recorder.start()
        source.done.wait()
        return recorder.stop()


def push_to_talk(conversation: Conversation, settings: config.Settings) -> Recorder:
    """The microphone opened for push-to-talk (raises `AudioUnavailableError` without one)."""
    voice = conversation.voice
    assert voice is not None, "a conversation without a voice cannot hear"
    return Recorder(
        Microphone(settings.audio.input_device),
        transcriber=voice.transcriber,
        preroll_ms=settings.audio.preroll_ms,
        pause_ms=settings.audio.pause_ms,
        language=voice.transcriber.language or None,
        on_partial=conversation.on_partial,
        on_settled=conversation.on_settled,
    ).open()


def hands_free(
    conversation: Conversation,
    settings: config.Settings,
    on_utterance: Callable[[Utterance], object],
    *,
    source: AudioSource | None = None,
    on_speech_start: Callable[[], None] | None = None,
) -> HandsFree:
    """The microphone with voice activity detection: speaking over a reply stops it.

    On loudspeakers the app's own voice is kept out as `audio.echo` says: cancelled (on; auto where
    the canceller loads), not listened to while the app speaks (half-duplex), or not at all (off).
    """
    voice = conversation.voice
    assert voice is not None, "a conversation without a voice cannot hear"
    source = source or Microphone(settings.audio.input_device)
    mode = resolve_mode(settings.audio.echo)
    muted = None
    if mode == "on":
        source = EchoCancelledSource(source, EchoCanceller(delay_ms=settings.audio.echo_delay_ms), voice.speaker)
    elif mode == "half-duplex":
        muted = speaking(voice.speaker)

    def barge_in() -> None:
        conversation.barge_in()

    def heard(utterance: Utterance) -> object:
        if mode != "off" and own_voice(utterance, conversation):
            return None  # the app heard itself (an echo the canceller let through): not the user's turn
        return on_utterance(utterance)

    listener = HandsFree(
        source,
        transcriber=voice.transcriber,
        end_silence_ms=settings.audio.end_silence_ms,
        short_silence_ms=settings.audio.sentence_end_ms or settings.audio.end_silence_ms,
        preroll_ms=settings.audio.preroll_ms,
        pause_ms=settings.audio.pause_ms,
        language=voice.transcriber.language or None,
        on_speech_start=on_speech_start or barge_in,
        on_utterance=heard,
        on_partial=conversation.on_partial,
        on_settled=conversation.on_settled,
        muted=muted,
    )
    listener.echo = mode
    return listener


OWN_WORDS_SHARE = 0.8  # of an utterance's words found in what the app was saying: its own voice
SPEAKING_SLACK_S = 0.5


def own_voice(utterance: Utterance, conversation: Conversation) -> bool:
    """Whether an utterance heard while the app spoke is the app's own reply coming back.

    A second line of defence behind the echo canceller: when the app was playing a reply during
    the utterance and nearly every word heard is a word of that reply, it is an echo, not the user.
    """
    voice = conversation.voice
    if voice is None:
        return False
    last = voice.speaker.state.last_sample_at
    if last is None or last < utterance.started_at - SPEAKING_SLACK_S:
        return False  # the app was silent while this was said
    heard = tokens(utterance.transcribe(), bigrams=False)
    if not heard:
        return True  # nothing intelligible, said over the app's own voice
    said = set()
    current = conversation.current
    if current is not None:
        said |= set(tokens(current.reply_full, bigrams=False))
    if conversation.history:
        said |= set(tokens(conversation.history[-1][1], bigrams=False))
    return len(heard) >= 2 and sum(w in said for w in heard) / len(heard) >= OWN_WORDS_SHARE
