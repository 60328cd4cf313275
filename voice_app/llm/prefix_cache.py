"""The KV state of an evaluated persona prefix, kept on disk between sessions (llama.cpp state files)."""

from __future__ import annotations

from pathlib import Path


class PrefixStateCache:
    """The KV state of an evaluated persona prefix on disk, so a new session skips re-reading it.

    Keyed by the model file, the context size and the exact prefix tokens; files are 0600 in the data
    dir (they derive from private messages), written atomically, and removed by `forget`.
    """

    MAGIC = b"VAKV1\n"

    def __init__(self, folder: Path, model_path: Path, context_size: int) -> None:
        self.folder = folder
        stat = Path(model_path).stat()
        self._model_key = f"{Path(model_path).resolve()}|{stat.st_size}|{stat.st_mtime_ns}|{context_size}"

    def path(self, tokens: list[int]) -> Path:
        import hashlib

        import numpy as np

        digest = hashlib.sha256(self._model_key.encode())
        digest.update(np.asarray(tokens, dtype=np.int32).tobytes())
        return self.folder / f"{digest.hexdigest()[:32]}.kv"

    def save(self, llm: object, tokens: list[int]) -> None:
        import ctypes

        import llama_cpp

        ctx = llm._ctx.ctx  # type: ignore[attr-defined]
        size = llama_cpp.llama_state_get_size(ctx)
        buffer = (ctypes.c_uint8 * int(size))()
        written = llama_cpp.llama_state_get_data(ctx, buffer, size)
        from voice_app.core.files import write_private

        data = self.MAGIC + int(written).to_bytes(8, "little") + bytes(buffer)[: int(written)]
        write_private(self.path(tokens), data, what="the evaluated persona prefix (a cache)")

    def restore(self, llm: object, tokens: list[int]) -> bool:
        import ctypes

        import llama_cpp
        import numpy as np

        target = self.path(tokens)
        try:
            data = target.read_bytes()
        except OSError:
            return False
        if not data.startswith(self.MAGIC):
            return False
        size = int.from_bytes(data[len(self.MAGIC) : len(self.MAGIC) + 8], "little")
        blob = data[len(self.MAGIC) + 8 :]
        if len(blob) != size:
            target.unlink(missing_ok=True)  # truncated (a crash while writing): rebuild it
            return False
        llm.reset()  # type: ignore[attr-defined]
        state = (ctypes.c_uint8 * size).from_buffer_copy(blob)
        if llama_cpp.llama_state_set_data(llm._ctx.ctx, state, size) != size:  # type: ignore[attr-defined]
            return False
        llm.input_ids[: len(tokens)] = np.asarray(tokens, dtype=np.intc)  # type: ignore[attr-defined]
        llm.n_tokens = len(tokens)  # type: ignore[attr-defined]
        llm._requires_eval = True  # type: ignore[attr-defined]
        return True
