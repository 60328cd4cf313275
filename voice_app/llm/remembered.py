"""The rows an embedding model computed lately, by input: the same lines come back within a turn."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Hashable, Sequence
from typing import Generic, TypeVar

import numpy as np

Key = TypeVar("Key", bound=Hashable)

REMEMBERED = 256  # rows kept, least recently used dropped first
REMEMBER_BATCH = 16  # calls with more inputs than this (an import's passages, a training set) go straight through


class RememberedRows(Generic[Key]):
    """The latest `size` rows by key; callers hold their own lock around `rows()`."""

    def __init__(self, size: int = REMEMBERED) -> None:
        self.size = size
        self._rows: OrderedDict[Key, np.ndarray] = OrderedDict()

    def rows(self, keys: Sequence[Key], compute: Callable[[list[Key]], np.ndarray]) -> np.ndarray:
        """One row per key: remembered ones as they were, the others from `compute(missing keys)`."""
        missing = [k for k in dict.fromkeys(keys) if k not in self._rows]
        if missing:
            self._rows.update(zip(missing, compute(missing), strict=True))
        out = np.stack([self._rows[k] for k in keys])  # a copy: callers may change it
        for key in keys:
            self._rows.move_to_end(key)
        while len(self._rows) > self.size:
            self._rows.popitem(last=False)
        return out
