"""Who is computing now: heavy stages say so, and the language model gives up a core while they run.

On two cores, llama.cpp's threads wait for each other at every operation of a token: with one core
busy elsewhere (speech recognition, the TTS voice), two-thread generation falls to a third of its
speed while one thread keeps nearly all of it (measured: 7.6–14.3 vs 21.6 tokens/s). So the TTS
and STT stages mark their work here, and the model reads `others_busy()` before each token.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager


class ComputeLoad:
    """A count of the heavy stages running now, by name (thread-safe, cheap to read)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._running: Counter[str] = Counter()
        self._total = 0

    @contextmanager
    def busy(self, stage: str) -> Iterator[None]:
        with self._lock:
            self._running[stage] += 1
            self._total += 1
        try:
            yield
        finally:
            with self._lock:
                self._running[stage] -= 1
                self._total -= 1

    def others_busy(self) -> bool:
        """Whether any stage is computing now (read without the lock: a stale answer costs one token)."""
        return self._total > 0

    def running(self) -> dict[str, int]:
        with self._lock:
            return {k: v for k, v in self._running.items() if v}


LOAD = ComputeLoad()  # the process-wide one
