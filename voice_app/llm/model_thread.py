"""One thread for every llama.cpp computation of a model.

llama.cpp runs its graphs on an OpenMP team, and OpenMP keeps one team per calling thread. When
the prefix is evaluated on one thread, the prefill on another and each reply on a new one, the
teams' spinning threads get in each other's way: generation ran 35% slower from a second thread
than from the thread that loaded the model (measured: 12–15 vs 19 tokens/s on two cores). So a
model's computations all run here, in order, and callers wait for them or read their output.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import TypeVar

T = TypeVar("T")


class ModelThread:
    """A single worker thread that runs submitted jobs one after another."""

    def __init__(self, name: str = "llama") -> None:
        self._jobs: queue.SimpleQueue[tuple[Callable[[], object], Future[object]] | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def submit(self, job: Callable[[], T]) -> Future[T]:
        """Queue `job`; its result (or exception) arrives in the returned future."""
        future: Future[T] = Future()
        if threading.current_thread() is self._thread:  # already on the model's thread: run it now
            try:
                future.set_result(job())
            except BaseException as exc:  # noqa: BLE001 - handed to the caller
                future.set_exception(exc)
            return future
        self._jobs.put((job, future))  # type: ignore[arg-type]
        return future

    def call(self, job: Callable[[], T]) -> T:
        """Run `job` on the model's thread and return its result (its exception is raised here)."""
        return self.submit(job).result()

    def _run(self) -> None:
        while True:
            item = self._jobs.get()
            if item is None:
                return
            job, future = item
            if not future.set_running_or_notify_cancel():
                continue
            try:
                future.set_result(job())
            except BaseException as exc:  # noqa: BLE001 - handed to the caller
                future.set_exception(exc)

    def stop(self) -> None:
        """No more jobs: the thread ends after those queued."""
        if self._thread.is_alive():
            self._jobs.put(None)
            if threading.current_thread() is not self._thread:
                self._thread.join(30)
