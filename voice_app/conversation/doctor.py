"""`voice-app doctor`: checks what this machine can run and says what to fix."""

from __future__ import annotations

import shutil
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from voice_app.core import assets, config
from voice_app.core.errors import VoiceAppError


@dataclass
class Check:
    """One line of the report; `required` checks decide the exit code."""

    ok: bool
    detail: str
    fix: str | None = None
    required: bool = False

    def public(self) -> dict[str, Any]:
        data = asdict(self)
        data.pop("required")
        return data


def run_checks(load: bool = False, settings: config.Settings | None = None) -> dict[str, Check]:
    """Every check, keyed by name, in display order."""
    settings = settings or config.load()
    checks: dict[str, Check] = {"python": _python()}
    checks.update(_audio(settings))
    for role in ("stt", "tts", "llm"):
        checks[f"model_{role}"] = _model(role, settings, load)
    checks["llama_cpp"] = _llama_cpp(settings)
    checks["ollama"] = _ollama(settings)
    checks["openai_server"] = _openai(settings)
    checks["llm_backend"] = _backend(settings, checks)
    checks["crisis_check"] = _crisis_check(load)
    checks["echo"] = _echo(settings)
    checks["zh_voice"] = _zh_voice(settings)
    checks["data_dir"] = _data_dir()
    return checks


def healthy(checks: dict[str, Check]) -> bool:
    """True when the embedded default path (models + llama.cpp + data dir) can run."""
    return all(c.ok for c in checks.values() if c.required)


# --- individual checks -----------------------------------------------------------------------


def _echo(settings: config.Settings) -> Check:
    """How hands-free talk keeps the app's own voice out of the microphone (`audio.echo`)."""
    try:
        from voice_app.speech.echo import canceller_available
    except Exception as exc:  # noqa: BLE001 - the speech stack itself cannot load
        return Check(False, f"speech unavailable: {exc}", "Re-run scripts/setup.sh.")
    why = canceller_available()
    setting = settings.audio.echo
    if setting == "off":
        return Check(True, "off: hands-free hears the speaker too (use headphones)")
    if setting == "half-duplex" or (setting == "auto" and why is not None):
        detail = "half-duplex: hands-free does not listen while the app speaks (no barge-in by voice)"
        return Check(True, detail + (f"; the canceller cannot load: {why}" if why else ""))
    if why is not None:
        return Check(
            False,
            f"audio.echo = on, but the echo canceller cannot load: {why}",
            "Re-run scripts/setup.sh, or `voice-app config set audio.echo half-duplex`.",
        )
    return Check(True, f"{setting}: the app's own voice is cancelled in hands-free talk (WebRTC AEC3)")


def _zh_voice(settings: config.Settings) -> Check:
    """The optional Chinese voice (`tts.zh_voice`): built or not; Chinese replies are only shown without it."""
    from voice_app.conversation.optional_models import zh_voice_status

    status = zh_voice_status(settings)
    if status.folder is None:
        return Check(True, "off (tts.zh_voice = off): Chinese replies are shown, not spoken")
    if status.installed:
        return Check(True, f"installed in {status.folder}: Chinese replies are spoken (non-commercial voice data)")
    if settings.tts.zh_voice.strip() not in ("", "auto"):
        return Check(
            False,
            f"tts.zh_voice = {status.folder}, which holds no built voice",
            "Build it with `voice-app models add zh-voice`, or `voice-app config set tts.zh_voice auto`.",
        )
    return Check(
        False,
        "not installed (optional): Chinese replies are shown, not spoken",
        "`voice-app models add zh-voice` builds it (its voice data is licensed for non-commercial use only).",
    )


def _python() -> Check:
    version = ".".join(map(str, sys.version_info[:3]))
    ok = sys.version_info >= (3, 11)
    return Check(ok, f"Python {version} at {sys.executable}", None if ok else "Install Python 3.11 or newer.", True)


def _audio(settings: config.Settings) -> dict[str, Check]:
    fix_portaudio = "Install PortAudio: `sudo apt-get install libportaudio2` (scripts/setup.sh does it)."
    try:
        import sounddevice as sd
    except OSError as exc:  # the import itself fails when libportaudio is missing
        missing = Check(False, f"PortAudio not found ({exc})", fix_portaudio)
        return {"portaudio": missing, "input_device": _no_device("input"), "output_device": _no_device("output")}
    checks = {"portaudio": Check(True, sd.get_portaudio_version()[1])}
    try:
        devices = list(sd.query_devices())
    except Exception as exc:  # noqa: BLE001 - PortAudio reports host errors as plain exceptions
        devices = []
        checks["portaudio"] = Check(False, f"PortAudio could not list devices: {exc}", fix_portaudio)
    for kind, wanted in (("input", settings.audio.input_device), ("output", settings.audio.output_device)):
        channels = "max_input_channels" if kind == "input" else "max_output_channels"
        usable = [d for d in devices if d.get(channels, 0) > 0]
        if not usable:
            checks[f"{kind}_device"] = _no_device(kind)
            continue
        chosen = _pick(usable, wanted)
        if chosen is None:
            names = ", ".join(str(d["name"]) for d in usable)
            checks[f"{kind}_device"] = Check(
                False,
                f"configured {kind} device {wanted!r} not found; available: {names}",
                f"`voice-app config set audio.{kind}_device NAME` with one of those names, or clear it.",
            )
        else:
            checks[f"{kind}_device"] = Check(True, f"{chosen['name']} ({len(usable)} {kind} device(s) found)")
    return checks


def _pick(devices: list[dict[str, Any]], wanted: str) -> dict[str, Any] | None:
    if not wanted:
        return devices[0]
    for device in devices:
        if wanted.isdigit() and device.get("index") == int(wanted):
            return device
        if wanted.lower() in str(device["name"]).lower():
            return device
    return None


def _no_device(kind: str) -> Check:
    what = "microphone" if kind == "input" else "speaker or headphones"
    return Check(
        False,
        f"no {kind} device found",
        f"Connect a {what} (or start PulseAudio); until then voice-app works with typed input"
        + (" and text replies." if kind == "output" else "."),
    )


def _model(role: str, settings: config.Settings, load: bool) -> Check:
    try:
        found = assets.resolve_configured(role, settings)
    except VoiceAppError as exc:
        return Check(False, exc.message, exc.fix, True)
    detail = f"{found.id} at {found.path} ({found.size_bytes / 1e6:.0f} MB, from {found.source})"
    if load:
        try:
            seconds = _time_load(role, found, settings)
        except VoiceAppError as exc:
            return Check(False, f"{detail}; load failed: {exc.message}", exc.fix, True)
        except Exception as exc:  # noqa: BLE001 - any library failure is reported, not raised
            return Check(False, f"{detail}; load failed: {exc}", assets_fix(role), True)
        detail += f"; loaded in {seconds:.2f} s"
    return Check(True, detail, None, True)


def assets_fix(role: str) -> str:
    return f"Reinstall with scripts/setup.sh, or point the {role} setting at another model (models/README.md)."


def _time_load(role: str, found: assets.ResolvedModel, settings: config.Settings) -> float:
    loaders: dict[str, Callable[[], object]] = {
        "stt": lambda: _load_whisper(found),
        "tts": lambda: _load_piper(found),
        "llm": lambda: _load_gguf(found, settings.llm.cpu_variant),
    }
    start = time.perf_counter()
    loaders[role]()
    return time.perf_counter() - start


def _load_whisper(found: assets.ResolvedModel) -> object:
    from faster_whisper import WhisperModel

    return WhisperModel(str(found.path), device="cpu", compute_type="int8", cpu_threads=2)


def _load_piper(found: assets.ResolvedModel) -> object:
    from piper import PiperVoice

    return PiperVoice.load(str(found.path))


def _load_gguf(found: assets.ResolvedModel, cpu_variant: str) -> object:
    from llama_cpp import Llama

    from voice_app.llm.cpu_backend import ensure_loaded

    ensure_loaded(cpu_variant, found.path)
    return Llama(model_path=str(found.path), n_ctx=512, verbose=False)


def _llama_cpp(settings: config.Settings) -> Check:
    try:
        import llama_cpp

        from voice_app.llm.cpu_backend import ensure_loaded

        found = assets.resolve_configured("llm", settings)
        cpu = ensure_loaded(settings.llm.cpu_variant, found.path)
    except VoiceAppError as exc:
        return Check(False, exc.message, exc.fix, True)
    except Exception as exc:  # noqa: BLE001 - a broken native build raises many kinds
        return Check(False, f"llama-cpp-python not importable: {exc}", "Re-run scripts/setup.sh.", True)
    code = f"CPU code {cpu.variant}" + (f" (of {len(cpu.available)} variants)" if cpu.available else "")
    if cpu.skipped:
        code += f"; {', '.join(cpu.skipped)} crashed on this machine and is not used"
    return Check(True, f"llama-cpp-python {llama_cpp.__version__}, {code}", None, True)


def _ollama(settings: config.Settings) -> Check:
    from voice_app.llm.backends import is_local, model_available, probe_ollama

    host = settings.ollama_host()
    if not is_local(host) and not settings.llm.allow_remote:
        return Check(
            False,
            f"Ollama is set to {host}, another machine: not used, not even contacted (your data stays here)",
            "To use it anyway: `voice-app config set llm.allow_remote on` (the persona's messages then leave"
            " this machine); or unset OLLAMA_HOST.",
        )
    status = probe_ollama(host)
    if not status.reachable:
        return Check(
            False,
            f"no Ollama server at {host} (optional: the embedded model is used instead)",
            "To use Ollama: install it, run `ollama serve`, then `ollama pull "
            f"{settings.llm.ollama_model}`; or set OLLAMA_HOST.",
        )
    if not model_available(settings.llm.ollama_model, status.models):
        return Check(
            False,
            f"Ollama at {host} has {', '.join(status.models) or 'no models'}, not {settings.llm.ollama_model}",
            f"Run `ollama pull {settings.llm.ollama_model}` or `voice-app config set llm.ollama_model NAME`.",
        )
    where = "" if is_local(host) else " (ANOTHER MACHINE: the persona's messages leave this one)"
    return Check(True, f"Ollama at {host}{where} with {', '.join(status.models)}")


def _openai(settings: config.Settings) -> Check:
    """An OpenAI-compatible server (used with `llm.backend openai`): reachable, the key accepted, the model there."""
    from voice_app.llm.backends import is_local
    from voice_app.llm.openai_chat import OpenAIChat

    url = settings.llm.openai_base_url
    if not url:
        return Check(
            settings.llm.backend != "openai",
            "no OpenAI-compatible server set (optional: llama-server, vLLM, LM Studio…)",
            "To use one: `voice-app config set llm.openai_base_url http://127.0.0.1:8080/v1`, then"
            " `voice-app config set llm.backend openai`.",
        )
    if not is_local(url) and not settings.llm.allow_remote:
        return Check(
            False,
            f"the OpenAI-compatible server is set to {url}, another machine: not used, not even contacted",
            "To use it anyway: `voice-app config set llm.allow_remote on` (the persona's messages then leave"
            " this machine).",
        )
    server = OpenAIChat(url, settings.llm.openai_model, timeout=3.0)
    try:
        server.check()
    except VoiceAppError as exc:
        return Check(False, exc.message, exc.fix)
    finally:
        server.close()
    where = "" if is_local(url) else " (ANOTHER MACHINE: the persona's messages leave this one)"
    return Check(True, f"OpenAI-compatible server at {url}{where} with {server.model}")


def _backend(settings: config.Settings, checks: dict[str, Check]) -> Check:
    from voice_app.llm.backends import choose_backend

    choice = choose_backend(settings, ollama_ok=checks["ollama"].ok)
    if choice == "openai":
        server = checks["openai_server"]
        return Check(server.ok, f"openai-compatible server: {server.detail}", server.fix)
    if choice == "ollama":
        return Check(True, f"ollama ({settings.llm.ollama_model} at {settings.ollama_host()})")
    embedded_ok = checks["model_llm"].ok and checks["llama_cpp"].ok
    if settings.llm.backend == "ollama" and not checks["ollama"].ok:
        return Check(False, "backend is set to ollama but Ollama is not usable", checks["ollama"].fix)
    return Check(
        embedded_ok,
        f"embedded llama.cpp ({checks['model_llm'].detail.split(' at ')[0]})"
        + (f"; backend setting is {settings.llm.backend!r}" if settings.llm.backend != "embedded" else ""),
        None if embedded_ok else "Fix the llm model and llama_cpp checks above.",
    )


def _crisis_check(load: bool) -> Check:
    """The crisis check's semantic layer (its two text models and fitted classifier); patterns always run."""
    from voice_app.llm import embedding, use_embedding

    try:
        embedder = embedding.shared()
        encoder_weights = use_embedding.weights_path()
    except VoiceAppError as exc:
        return Check(False, f"patterns only: {exc.message}", exc.fix, True)
    if not load:
        return Check(
            True,
            f"patterns + semantic layer (multilingual-e5-small at {embedder.model_path}, "
            f"USE multilingual v3 at {encoder_weights})",
            None,
            True,
        )
    from voice_app.care import semantic

    start = time.perf_counter()
    layer = semantic.shared()
    layer.score("warm-up")
    loaded = time.perf_counter() - start
    start = time.perf_counter()
    layer.score("I don't want to be here anymore")
    per_line = time.perf_counter() - start
    return Check(
        True, f"patterns + semantic layer, loaded in {loaded:.1f} s, {per_line * 1000:.0f} ms a line", None, True
    )


def _data_dir() -> Check:
    path = config.data_dir()
    try:
        path.mkdir(parents=True, exist_ok=True, mode=0o700)
        probe = path / ".doctor-write-test"
        probe.write_bytes(b"ok")
        probe.unlink()
    except OSError as exc:
        return Check(False, f"{path} is not writable: {exc.strerror}", "Set VOICE_APP_HOME to a writable folder.", True)
    free_gb = shutil.disk_usage(path).free / 1e9
    ok = free_gb >= 0.5
    return Check(
        ok,
        f"{path} writable, {free_gb:.1f} GB free",
        None if ok else "Free some disk space: sessions with audio need room.",
        True,
    )
