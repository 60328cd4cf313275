"""Optional models the user chooses to add or remove: today the Chinese voice (opt-in, non-commercial licence)."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from voice_app.core import assets, config
from voice_app.speech import zh_voice_build
from voice_app.speech.zh_voice import read_manifest

ZH_VOICE = assets.ZH_VOICE_ID
LICENCE = zh_voice_build.LICENCE
TITLE = zh_voice_build.TITLE


@dataclass(frozen=True)
class ZhVoiceStatus:
    """Whether the Chinese voice is built, and where."""

    installed: bool
    folder: Path | None  # None when `tts.zh_voice` is off
    manifest: dict[str, object] | None


def zh_voice_status(settings: config.Settings | None = None) -> ZhVoiceStatus:
    folder = assets.zh_voice_dir(settings)
    manifest = read_manifest(folder) if folder is not None else None
    return ZhVoiceStatus(manifest is not None, folder, manifest)


def add_zh_voice(
    *, accepted_licence: bool, python: str | None = None, progress: zh_voice_build.Progress = lambda _: None
) -> tuple[Path, dict[str, object]]:
    """Build the Chinese voice into the cache (where `tts.zh_voice = auto` finds it)."""
    target = config.cache_dir() / "models" / ZH_VOICE
    manifest = zh_voice_build.build(target, accepted_licence=accepted_licence, python=python, progress=progress)
    return target, manifest


def remove_zh_voice() -> bool:
    """Delete the built Chinese voice from the cache; False when there was none."""
    target = config.cache_dir() / "models" / ZH_VOICE
    if not target.exists():
        return False
    shutil.rmtree(target)
    return True
