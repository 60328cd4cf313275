"""A private PulseAudio daemon with virtual devices, for the tests and the benchmarks (no sound card here).

Null sinks `vspeaker` (the app's speaker) and `vcable`, and a source `vmic` remapped from
`vcable.monitor`, so `paplay -d vcable` is heard on the app's microphone and `parecord -d
vspeaker.monitor` records what the app played. With `observer=True`, a two-channel sink `observer`
hears both through loopbacks of equal latency: the user's speech on the left, the app's voice on the
right, on one clock, so latency is measured from outside the app, as a person would hear it. With
`echo_db`, the speaker is also fed back into the microphone (attenuated and delayed, like a laptop's
loudspeakers). sounddevice reaches the daemon through ALSA's `pulse` device (libasound2-plugins).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
import wave
from dataclasses import dataclass
from pathlib import Path

import numpy as np

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

    def record(self, device: str, path: Path, channels: int = 1) -> subprocess.Popen[bytes]:
        """Start recording a monitor (stop it with .terminate())."""
        return subprocess.Popen(
            [
                *("parecord", "-d", device, f"--rate={RATE}", f"--channels={channels}", "--format=s16le"),
                "--latency-msec=10",
                str(path),
            ],
            env=self.env,
        )

    def add_echo(self, db: float = -15.0, ms: int = 40) -> str:
        """The loudspeaker heard by the microphone, like a laptop's: vspeaker into vcable, `db` down,
        `ms` late. Returns the module id (for `remove_module`)."""
        module = self.pactl(
            "load-module", "module-loopback", "source=vspeaker.monitor", "sink=vcable",
            f"latency_msec={ms}", f"sink_input_properties=media.name=echo{ms}",
        ).strip()  # fmt: skip
        for block in self.pactl("list", "sink-inputs").split("Sink Input #")[1:]:
            if f'media.name = "echo{ms}"' in block:  # in dB: Pulse's raw volume numbers are cubic
                self.pactl("set-sink-input-volume", block.split()[0], f"{db}dB")
        return module

    def remove_module(self, module: str) -> None:
        self.pactl("unload-module", module)

    def record_speaker(self, path: Path) -> subprocess.Popen[bytes]:
        """Start recording what is played on vspeaker (stop it with .terminate())."""
        return self.record("vspeaker.monitor", path)

    def record_observer(self, path: Path) -> subprocess.Popen[bytes]:
        """Start recording the observer: left = what the microphone hears, right = what the app plays."""
        return self.record("observer.monitor", path, channels=2)

    def use_in_this_process(self) -> dict[str, str | None]:
        """Point this process (sounddevice) at the daemon; returns the old values for `restore`."""
        # Not HOME: the daemon has its own, and this process keeps its cache dir (the fitted crisis model).
        saved = {k: os.environ.get(k) for k in ("XDG_RUNTIME_DIR", "PULSE_SERVER")}
        os.environ.update({k: self.env[k] for k in saved})
        return saved

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(5)
        except subprocess.TimeoutExpired:
            self.process.kill()
        shutil.rmtree(self.runtime, ignore_errors=True)


def start_pulse(*, observer: bool = False, echo_db: float | None = None, echo_ms: int = 40) -> tuple[Pulse | None, str]:
    """The daemon and its devices, or (None, why not)."""
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
            *("pulseaudio", "--daemonize=no", "--exit-idle-time=-1", "-n", "--log-target=stderr"),
            f"--load=module-native-protocol-unix auth-anonymous=1 socket={socket}",
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
        null = ("module-null-sink", f"rate={RATE}", "channels=1", "norewinds=1")
        pulse.pactl("load-module", null[0], "sink_name=vspeaker", *null[1:])
        pulse.pactl("load-module", null[0], "sink_name=vcable", *null[1:])
        pulse.pactl("load-module", "module-remap-source", "source_name=vmic", "master=vcable.monitor")
        pulse.pactl("set-default-sink", "vspeaker")
        pulse.pactl("set-default-source", "vmic")
        if observer:
            pulse.pactl(
                "load-module", null[0], "sink_name=observer", f"rate={RATE}", "channels=2",
                "channel_map=front-left,front-right", "norewinds=1",
            )  # fmt: skip
            for side, position, source in (("left", "front-left", "vcable"), ("right", "front-right", "vspeaker")):
                pulse.pactl(
                    "load-module", "module-remap-sink", f"sink_name=observer_{side}", "master=observer", "channels=1",
                    f"master_channel_map={position}", "channel_map=mono", "remix=no",
                )  # fmt: skip
                pulse.pactl(
                    "load-module", "module-loopback", f"source={source}.monitor", f"sink=observer_{side}",
                    "latency_msec=20",
                )  # fmt: skip
        if echo_db is not None:
            pulse.add_echo(echo_db, echo_ms)
    except subprocess.CalledProcessError as exc:
        process.kill()
        return None, f"pactl could not create the virtual devices: {exc.stderr}"
    return pulse, ""


def write_wav(path: Path, audio: np.ndarray, rate: int = RATE) -> Path:
    pcm = (np.clip(audio, -1, 1) * 32767).astype("<i2")
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(pcm.tobytes())
    return path


def read_wav(path: Path) -> np.ndarray:
    """A recording as float32 (frames, channels)."""
    import soundfile as sf

    data, _ = sf.read(str(path), dtype="float32", always_2d=True)
    return np.asarray(data)


def sound_regions(signal: np.ndarray, *, threshold: float = 0.02, gap_s: float = 0.5) -> list[tuple[float, float]]:
    """(start, end) seconds of the sound in a mono signal, pauses shorter than `gap_s` bridged."""
    loud = np.flatnonzero(np.abs(signal) > threshold)
    if not len(loud):
        return []
    breaks = np.flatnonzero(np.diff(loud) > gap_s * RATE)
    starts = [loud[0], *loud[breaks + 1]]
    ends = [*loud[breaks], loud[-1]]
    return [(float(a) / RATE, float(b) / RATE) for a, b in zip(starts, ends, strict=True)]
