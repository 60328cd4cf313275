"""`voice-app doctor`: real checks on this machine, JSON contract, exit codes."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
from pathlib import Path

import pytest

from voice_app.conversation import doctor

KEYS = {
    "python",
    "echo",
    "zh_voice",
    "portaudio",
    "input_device",
    "output_device",
    "model_stt",
    "model_tts",
    "model_llm",
    "llama_cpp",
    "ollama",
    "openai_server",
    "llm_backend",
    "crisis_check",
    "data_dir",
}


def run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "voice_app", *args],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, **(env or {})},
    )


def _devices(kind: str) -> int:
    try:
        import sounddevice as sd
    except OSError:
        return 0
    field = f"max_{kind}_channels"
    return sum(1 for d in sd.query_devices() if d[field] > 0)


def test_doctor_json_loads_every_model_and_tells_the_truth_about_devices() -> None:
    result = run_cli("doctor", "--json", "--load")
    report = json.loads(result.stdout)
    assert set(report) == KEYS
    for value in report.values():
        assert set(value) == {"ok", "detail", "fix"}
    required = ("python", "model_stt", "model_tts", "model_llm", "llama_cpp", "data_dir", "llm_backend", "crisis_check")
    for key in required:
        assert report[key]["ok"], (key, report[key])
    assert "semantic layer" in report["crisis_check"]["detail"] and "ms a line" in report["crisis_check"]["detail"]
    if platform.machine() == "x86_64":  # which of the build's CPU variants runs the model
        assert "CPU code" in report["llama_cpp"]["detail"] and "variants" in report["llama_cpp"]["detail"]
    for key in ("model_stt", "model_tts", "model_llm"):
        assert "loaded in" in report[key]["detail"]
    assert report["input_device"]["ok"] == (_devices("input") > 0)
    assert report["output_device"]["ok"] == (_devices("output") > 0)
    if not report["input_device"]["ok"]:
        assert "typed input" in report["input_device"]["fix"]
    # No Ollama runs here: reported as optional, with the command that would fix it.
    assert report["ollama"]["ok"] is False and "ollama serve" in report["ollama"]["fix"]
    assert report["llm_backend"]["detail"].startswith("embedded")
    assert report["echo"]["ok"] and "cancelled" in report["echo"]["detail"]  # audio.echo = auto: on here
    assert result.returncode == 0


def test_doctor_exits_1_with_a_fix_when_the_llm_is_missing(isolated_home: Path) -> None:
    (isolated_home / "config.toml").write_text('[llm]\ngguf_path = "/nowhere/model.gguf"\n')
    result = run_cli("doctor", "--json", env={"VOICE_APP_HOME": str(isolated_home)})
    report = json.loads(result.stdout)
    assert result.returncode == 1
    assert report["model_llm"]["ok"] is False
    assert "voice-app config set llm.gguf_path" in report["model_llm"]["fix"]
    human = run_cli("doctor", env={"VOICE_APP_HOME": str(isolated_home)})
    assert human.returncode == 1 and "cannot run yet" in human.stdout


def test_unwritable_data_dir_fails_the_check(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    monkeypatch.setenv("VOICE_APP_HOME", str(blocker / "sub"))
    check = doctor._data_dir()
    assert not check.ok and "VOICE_APP_HOME" in (check.fix or "")


def test_typed_errors_print_without_traceback_and_exit_2(isolated_home: Path) -> None:
    result = run_cli("config", "set", "llm.temperature", "warm")
    assert result.returncode == 2
    assert "error:" in result.stderr and "Traceback" not in result.stderr
    assert "fix:" in result.stderr
    debug = run_cli("--debug", "config", "set", "llm.temperature", "warm")
    assert "Traceback" in debug.stderr and "ConfigError" in debug.stderr
