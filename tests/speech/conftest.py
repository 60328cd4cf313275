"""Fixtures for the speech tests: a real PulseAudio daemon with virtual devices, and shared models.

The daemon runs with its own runtime dir: null sinks `vspeaker` (the app's speaker) and `vcable`,
and a source `vmic` remapped from `vcable.monitor`, so `paplay -d vcable` is heard on the app's
microphone and `parecord -d vspeaker.monitor` records what the app played. sounddevice reaches it
through ALSA's `pulse` device (Debian's libasound2-plugins).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
import wave
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from voice_app.core import config

RATE = 16000


@dataclass
class Pulse:
    """A running PulseAudio daemon with the virtual devices."""

    runtime: Path
    env: dict[str, str]
    process: subprocess.Popen[bytes]

    def pactl(self, *args: str) -> str:
        return subprocess.run(
            ["pactl", *args], env=self.env, capture_output=True, text=True, check=True, timeout=10
        ).stdout

    def play_into_mic(self, wav: Path) -> None:
        """Play a file into the virtual cable (heard on vmic); blocks until played."""
        subprocess.run(["paplay", "-d", "vcable", str(wav)], env=self.env, check=True, timeout=60)

    def record_speaker(self, path: Path) -> subprocess.Popen[bytes]:
        """Start recording what is played on vspeaker (stop it with .terminate())."""
        return subprocess.Popen(
            ["parecord", "-d", "vspeaker.monitor", "--rate=16000", "--channels=1", "--format=s16le", str(path)],
            env=self.env,
        )


def write_wav(path: Path, audio: np.ndarray, rate: int = RATE) -> Path:
    pcm = (np.clip(audio, -1, 1) * 32767).astype("<i2")
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(pcm.tobytes())
    return path


def read_wav(path: Path) -> np.ndarray:
    import soundfile as sf

    data, _ = sf.read(str(path), dtype="float32", always_2d=True)
    return data[:, 0]


def _start_pulse() -> tuple[Pulse | None, str]:
    for tool in ("pulseaudio", "pactl", "paplay", "parecord"):
        if shutil.which(tool) is None:
            return None, f"{tool} is not installed (Debian: pulseaudio pulseaudio-utils)"
    runtime = Path(tempfile.mkdtemp(prefix="voice-app-pulse-"))
    (runtime / "pulse").mkdir(mode=0o700)
    (runtime / "home").mkdir(mode=0o700)
    socket = runtime / "pulse" / "native"
    env = {
        **os.environ,
        "XDG_RUNTIME_DIR": str(runtime),
        "HOME": str(runtime / "home"),
        "PULSE_SERVER": f"unix:{socket}",
    }
    env.pop("PULSE_SINK", None)
    env.pop("PULSE_SOURCE", None)
    process = subprocess.Popen(
        [
            "pulseaudio",
            "--daemonize=no",
            "--exit-idle-time=-1",
            "-n",
            f"--load=module-native-protocol-unix auth-anonymous=1 socket={socket}",
            "--log-target=stderr",
            "--log-level=error",
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    pulse = Pulse(runtime, env, process)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if process.poll() is not None:
            err = process.stderr.read().decode(errors="replace")[-500:] if process.stderr else ""
            return None, f"pulseaudio exited at start (status {process.returncode}): {err.strip()}"
        if socket.exists() and subprocess.run(["pactl", "info"], env=env, capture_output=True).returncode == 0:
            break
        time.sleep(0.1)
    else:
        process.kill()
        return None, "pulseaudio did not answer within 10 s"
    try:
        pulse.pactl("load-module", "module-null-sink", "sink_name=vspeaker", "rate=16000", "channels=1", "norewinds=1")
        pulse.pactl("load-module", "module-null-sink", "sink_name=vcable", "rate=16000", "channels=1", "norewinds=1")
        pulse.pactl("load-module", "module-remap-source", "source_name=vmic", "master=vcable.monitor")
        pulse.pactl("set-default-sink", "vspeaker")
        pulse.pactl("set-default-source", "vmic")
    except subprocess.CalledProcessError as exc:
        process.kill()
        return None, f"pactl could not create the virtual devices: {exc.stderr}"
    return pulse, ""


@pytest.fixture(scope="session")
def pulse() -> Iterator[Pulse]:
    """PulseAudio with vspeaker/vcable/vmic; the process env points sounddevice at it; killed at the end."""
    started, why = _start_pulse()
    if started is None:
        pytest.skip(f"PulseAudio cannot start here: {why}")
    saved = {k: os.environ.get(k) for k in ("XDG_RUNTIME_DIR", "PULSE_SERVER", "HOME")}
    os.environ.update({k: started.env[k] for k in saved})
    if "sounddevice" in sys.modules:  # PortAudio enumerated devices before the server was up
        from voice_app.speech.audio import refresh_devices

        refresh_devices()
    from voice_app.speech.audio import list_devices

    names = [d["name"] for d in list_devices()]
    if "pulse" not in names:
        started.process.kill()
        pytest.skip(f"PortAudio sees no ALSA 'pulse' device (install libasound2-plugins); devices: {names}")
    yield started
    started.process.terminate()
    try:
        started.process.wait(5)
    except subprocess.TimeoutExpired:
        started.process.kill()
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value
    shutil.rmtree(started.runtime, ignore_errors=True)


# --- shared models (loaded once per test run) ---------------------------------------------------------


@pytest.fixture(scope="session")
def synthesizer():  # type: ignore[no-untyped-def]
    from voice_app.speech.tts import Synthesizer

    return Synthesizer.from_settings(config.Settings())


@pytest.fixture(scope="session")
def tiny_en():  # type: ignore[no-untyped-def]
    from voice_app.speech.stt import Transcriber

    settings = config.Settings()
    settings.stt.model = "whisper-tiny.en"
    return Transcriber.from_settings(settings)


@pytest.fixture(scope="session")
def say(synthesizer):  # type: ignore[no-untyped-def]
    """Text → 16 kHz speech with the Piper voice."""
    from voice_app.core.signal import resample

    cache: dict[str, np.ndarray] = {}

    def speak(text: str) -> np.ndarray:
        if text not in cache:
            cache[text] = resample(synthesizer.synthesize(text), synthesizer.sample_rate, RATE)
        return cache[text]

    return speak


def words(text: str) -> list[str]:
    return "".join(ch.lower() if ch.isalnum() or ch.isspace() else " " for ch in text).split()


def word_error_rate(expected: str, got: str) -> float:
    ref, hyp = words(expected), words(got)
    dist = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        prev, dist[0] = dist[0], i
        for j, h in enumerate(hyp, 1):
            prev, dist[j] = dist[j], min(dist[j] + 1, dist[j - 1] + 1, prev + (r != h))
    return dist[-1] / max(1, len(ref))
