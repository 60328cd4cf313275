"""load_once: one load for threads that ask at once; a failed load is tried again."""

from __future__ import annotations

import threading
import time

import pytest

from voice_app.core.once import load_once


def test_threads_asking_at_once_share_one_load() -> None:
    calls: list[int] = []

    @load_once
    def model() -> object:
        calls.append(1)
        time.sleep(0.05)  # long enough for the other threads to arrive while it loads
        return object()

    results: list[object] = []
    threads = [threading.Thread(target=lambda: results.append(model())) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(calls) == 1 and len({id(r) for r in results}) == 1


def test_a_failed_load_is_tried_again() -> None:
    attempts: list[int] = []

    @load_once
    def model() -> str:
        attempts.append(1)
        if len(attempts) == 1:
            raise OSError("not yet")
        return "loaded"

    with pytest.raises(OSError):
        model()
    assert model() == "loaded" and model() == "loaded" and len(attempts) == 2
