"""What every command shares: the consoles, JSON output, the store opened (and unlocked) for a command."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from rich.console import Console

from voice_app.core.errors import VoiceAppError
from voice_app.core.textsafe import safe

if TYPE_CHECKING:
    from voice_app.conversation.userdata import Store

__all__ = ["Handler", "VoiceAppError", "err", "mapping", "open_store", "out", "print_json", "safe"]

# No emoji codes (":skull:" in a message stays text); user-derived values go through `safe()`.
out = Console(highlight=False, soft_wrap=True, emoji=False)
err = Console(stderr=True, highlight=False, soft_wrap=True, emoji=False)

Handler = Callable[[argparse.Namespace], int]


def print_json(data: Any) -> None:
    """Machine-readable output: plain JSON on stdout, nothing else."""
    sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2) + "\n")
    sys.stdout.flush()


def open_store() -> Store:
    """The user's store, unlocked, with the shipped `demo` persona present."""
    from voice_app.conversation.userdata import open_user_store

    return open_user_store()


def mapping(pairs: list[str] | None) -> dict[str, str] | None:
    if not pairs:
        return None
    mapping = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep:
            raise VoiceAppError(f"--map expects FIELD=COLUMN, got {pair!r}.", fix="Example: --map timestamp=date")
        mapping[key.strip()] = value.strip()
    return mapping
