"""Speech I/O: capture (push-to-talk, hands-free VAD), faster-whisper STT, Piper TTS, playback.

Heavy libraries (sounddevice, faster-whisper, piper) are imported only when used, so the app
starts, and falls back to typed input, on machines without PortAudio or a sound device.
"""

from __future__ import annotations

from voice_app.core.signal import resample
from voice_app.speech.audio import (
    ArraySource,
    Microphone,
    NullSpeaker,
    Speaker,
    find_device,
    level,
    list_devices,
    open_speaker,
)
from voice_app.speech.recorder import HandsFree, Recorder, Utterance
from voice_app.speech.stt import StreamingTranscriber, Transcriber, is_hallucination
from voice_app.speech.tts import ClauseSplitter, Synthesizer, split_clauses
from voice_app.speech.vad import Endpointer, SileroVAD, trim_silence

__all__ = [
    "ArraySource",
    "ClauseSplitter",
    "Endpointer",
    "HandsFree",
    "Microphone",
    "NullSpeaker",
    "Recorder",
    "SileroVAD",
    "Speaker",
    "StreamingTranscriber",
    "Synthesizer",
    "Transcriber",
    "Utterance",
    "find_device",
    "is_hallucination",
    "level",
    "list_devices",
    "open_speaker",
    "resample",
    "split_clauses",
    "trim_silence",
]
