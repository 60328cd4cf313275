"""Settings: a TOML file in the user's config dir, environment overrides, and the app's dirs."""

from __future__ import annotations

import dataclasses
import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import platformdirs

from voice_app.core.errors import ConfigError

APP_NAME = "voice_app"
DEFAULT_OLLAMA_HOST = "http://127.0.0.1:11434"


@dataclass
class LLMSettings:
    """Which language model answers, and how."""

    backend: str = "auto"  # auto | ollama | openai | embedded
    gguf_path: str = ""  # explicit GGUF file; empty = the embedded default package
    embedded_model: str = "qwen2.5-1.5b"  # id in voice_app.core.assets when gguf_path is empty
    ollama_model: str = "qwen2.5:1.5b-instruct"
    ollama_host: str = ""  # empty = $OLLAMA_HOST, else http://127.0.0.1:11434
    allow_remote: bool = False  # a model server on another machine: the persona's messages would leave this one
    openai_base_url: str = (
        ""  # an OpenAI-compatible server (…/v1) for `backend = "openai"`; key: $VOICE_APP_OPENAI_API_KEY
    )
    openai_model: str = ""  # the model name that server expects (empty: the first it lists)
    keep_alive: str = "30m"
    temperature: float = 0.8
    context_size: int = 4096
    max_reply_tokens: int = 160
    threads: int = 0  # 0 = physical cores
    # llama.cpp's load-time weight repacking: +0.8 s at load, replies' first tokens ~0.25 s sooner (AVX2).
    repack_weights: str = "auto"  # auto (on, but off for a one-line `chat --once`) | on | off
    # llama.cpp's CPU code: auto = the variant built for this processor (AVX2, AVX-512, AMX…), or a name.
    cpu_variant: str = "auto"
    voice_examples: str = "ready"  # ready: a voice turn uses the retrieved exchanges prefilled while you spoke | all
    preemptive: bool = True  # start the reply when the user falls silent, keep it if they were done

    def repacks(self, *, one_shot: bool = False) -> bool:
        """Whether the embedded model's weights are repacked at load: it pays back over a conversation's
        turns (each reads 5-40 new tokens faster), not in one line that exits after its reply."""
        return self.repack_weights == "on" or (self.repack_weights == "auto" and not one_shot)


@dataclass
class STTSettings:
    """Speech-to-text (faster-whisper)."""

    # auto (tiny.en for an English conversation, base otherwise) | whisper-base | whisper-tiny.en | a folder
    model: str = "auto"
    language: str = "auto"  # auto, or an ISO code such as en or zh
    compute_type: str = "int8"
    # Whisper often writes Mandarin in traditional characters: transcripts are converted to this script.
    chinese_script: str = "simplified"  # simplified | traditional | as-heard


@dataclass
class TTSSettings:
    """Text-to-speech (Piper, a generic voice)."""

    voice: str = "piper-joe"  # piper-joe | path to a Piper .onnx voice
    speed: float = 1.0
    # Chinese text: "auto" speaks it with the zh voice once `voice-app models add zh-voice` built it;
    # "off" never does (Chinese is shown, not spoken); or the path of a folder holding a built voice.
    zh_voice: str = "auto"


@dataclass
class AudioSettings:
    """Microphone, speaker and turn-taking."""

    input_device: str = ""  # name or index; empty = system default
    output_device: str = ""
    mode: str = "push_to_talk"  # push_to_talk | hands_free
    end_silence_ms: int = 600
    # Hands-free: a transcript that ends a sentence ends the turn after this much silence; 0 = off (the
    # full end_silence_ms). Off by default: at 250 ms it cut 22 of 32 sentences said in two breaths
    # (Whisper ends the first breath with "." or "?"), and the reply started in the pause already
    # covers the longer wait (scripts/bench_endpoint.py, README).
    sentence_end_ms: int = 0
    # A transcription pass starts as the user falls silent; when the silence lasts this long and that
    # pass heard every word, the reply to them starts, held back until the turn ends (`llm.preemptive`).
    # 160 before: on the frozen endpoint set, 96 started it 55 ms sooner (64: 84 ms) and started none
    # mid-breath (scripts/bench_endpoint.py --pause-ms); real speech hesitates more than synthesized speech.
    pause_ms: int = 96
    preroll_ms: int = 300
    # hands-free on loudspeakers: auto (cancel the app's own voice where the canceller runs, else
    # half-duplex) | on | off (headphones) | half-duplex (the microphone is not heard while the app speaks)
    echo: str = "auto"
    echo_delay_ms: int = 40  # a first guess of speaker-to-microphone delay; the canceller finds the real one


@dataclass
class CareSettings:
    """Well-being features."""

    country: str = "US"
    nudge_minutes: int = 30
    encryption: bool = False


@dataclass
class Settings:
    """All settings, one section per part of the app."""

    llm: LLMSettings = field(default_factory=LLMSettings)
    stt: STTSettings = field(default_factory=STTSettings)
    tts: TTSSettings = field(default_factory=TTSSettings)
    audio: AudioSettings = field(default_factory=AudioSettings)
    care: CareSettings = field(default_factory=CareSettings)

    def ollama_host(self) -> str:
        """The Ollama URL: the setting, else $OLLAMA_HOST, else the default."""
        host = self.llm.ollama_host or os.environ.get("OLLAMA_HOST", "") or DEFAULT_OLLAMA_HOST
        if "://" not in host:
            host = "http://" + host
        return host.rstrip("/")

    def flat(self) -> dict[str, Any]:
        """Every setting as `section.key -> value`."""
        out: dict[str, Any] = {}
        for section in dataclasses.fields(self):
            for key, value in dataclasses.asdict(getattr(self, section.name)).items():
                out[f"{section.name}.{key}"] = value
        return out

    def get(self, dotted: str) -> Any:
        section, key = _split_key(self, dotted)
        return getattr(section, key)

    def set(self, dotted: str, raw: Any) -> None:
        """Set one setting, coercing a string to the field's type."""
        section, key = _split_key(self, dotted)
        current = getattr(section, key)
        value = _coerce(dotted, raw, type(current))
        if dotted in ON_OFF and str(value).lower() in _TRUE | _FALSE:  # written as a bool by older versions
            value = "on" if str(value).lower() in _TRUE else "off"
        if dotted in CHOICES and value not in CHOICES[dotted]:
            raise ConfigError(f"{dotted} cannot be {value!r}.", fix=f"Use one of: {', '.join(CHOICES[dotted])}.")
        setattr(section, key, value)


# Settings that take one of a few words.
CHOICES = {
    "llm.backend": ("auto", "ollama", "openai", "embedded"),
    "llm.voice_examples": ("ready", "all"),
    "llm.repack_weights": ("auto", "on", "off"),
    "audio.mode": ("push_to_talk", "hands_free"),
    "audio.echo": ("auto", "on", "off", "half-duplex"),
    "stt.chinese_script": ("simplified", "traditional", "as-heard"),
}

ON_OFF = {"llm.repack_weights"}  # word settings that also take a bool (true/false, yes/no, 1/0)


def _split_key(settings: Settings, dotted: str) -> tuple[Any, str]:
    section_name, _, key = dotted.partition(".")
    section = getattr(settings, section_name, None)
    if section is None or not dataclasses.is_dataclass(section) or not key or not hasattr(section, key):
        raise ConfigError(
            f"Unknown setting {dotted!r}.",
            fix="Valid keys: " + ", ".join(sorted(settings.flat())),
        )
    return section, key


_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def _coerce(name: str, raw: Any, kind: type) -> Any:
    if isinstance(raw, kind) and not (kind is int and isinstance(raw, bool)):
        return raw
    text = str(raw).strip()
    try:
        if kind is bool:
            if text.lower() in _TRUE:
                return True
            if text.lower() in _FALSE:
                return False
            raise ValueError(text)
        if kind is int:
            return int(text)
        if kind is float:
            return float(text)
    except ValueError:
        raise ConfigError(
            f"Setting {name} expects a {kind.__name__}, got {text!r}.",
            fix=f"Example: `voice-app config set {name} {_example(kind)}`",
        ) from None
    return text


def _example(kind: type) -> str:
    return {bool: "on", int: "30", float: "0.8"}.get(kind, "VALUE")


# --- directories --------------------------------------------------------------------------


def data_dir() -> Path:
    """Where the database, audio and indexes live: $VOICE_APP_HOME or the platform data dir."""
    home = os.environ.get("VOICE_APP_HOME")
    path = Path(home).expanduser() if home else Path(platformdirs.user_data_dir(APP_NAME))
    return path


def config_path() -> Path:
    """The settings file: $VOICE_APP_CONFIG, else inside $VOICE_APP_HOME, else the platform config dir."""
    explicit = os.environ.get("VOICE_APP_CONFIG")
    if explicit:
        return Path(explicit).expanduser()
    home = os.environ.get("VOICE_APP_HOME")
    if home:  # a self-contained home (tests, scripts, portable installs) keeps its settings inside
        return Path(home).expanduser() / "config.toml"
    return Path(platformdirs.user_config_dir(APP_NAME)) / "config.toml"


def cache_dir() -> Path:
    """Rebuildable files (joined model weights): $VOICE_APP_CACHE or the platform cache dir."""
    explicit = os.environ.get("VOICE_APP_CACHE")
    return Path(explicit).expanduser() if explicit else Path(platformdirs.user_cache_dir(APP_NAME))


# --- load and save --------------------------------------------------------------------------


def load(path: Path | None = None) -> Settings:
    """Read settings; a missing file gives the defaults."""
    path = path or config_path()
    settings = Settings()
    if not path.exists():
        return settings
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(
            f"The settings file {path} is not valid TOML: {exc}.",
            fix=f"Fix or delete {path}; defaults are used when it is missing.",
        ) from None
    for section_name, values in data.items():
        if not isinstance(values, dict):
            raise ConfigError(f"{path}: [{section_name}] must be a table.", fix=f"Fix or delete {path}.")
        for key, value in values.items():
            settings.set(f"{section_name}.{key}", value)
    return settings


def save(settings: Settings, path: Path | None = None) -> Path:
    """Write settings atomically (temp file + rename)."""
    from voice_app.core.files import write_private

    path = path or config_path()
    return write_private(path, dumps(settings).encode("utf-8"), what=f"the settings file {path}")


def dumps(settings: Settings) -> str:
    """Settings as TOML text (tomllib reads, we write: the values are plain scalars)."""
    lines: list[str] = []
    for section in dataclasses.fields(settings):
        lines.append(f"[{section.name}]")
        for key, value in dataclasses.asdict(getattr(settings, section.name)).items():
            lines.append(f"{key} = {_toml_value(value)}")
        lines.append("")
    return "\n".join(lines)


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    escaped = str(value).replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'
