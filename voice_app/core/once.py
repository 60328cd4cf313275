"""`load_once`: a process-wide model loaded by whichever thread asks first, the others waiting for it."""

from __future__ import annotations

import threading
from collections.abc import Callable
from functools import wraps
from typing import TypeVar

T = TypeVar("T")


def load_once(load: Callable[[], T]) -> Callable[[], T]:
    """`load()` run once and its result kept; a warm-up thread and a first turn asking at the same
    time get one load, not two. A load that raises is tried again on the next call."""
    lock = threading.Lock()
    loaded: list[T] = []

    @wraps(load)
    def shared() -> T:
        with lock:
            if not loaded:
                loaded.append(load())
            return loaded[0]

    return shared
