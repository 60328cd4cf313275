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
import weakref
from collections.abc import Callable
from concurrent.futures import Future
from typing import TypeVar

T = TypeVar("T")

_LIVE: weakref.WeakSet[ModelThread] = weakref.WeakSet()
EXIT_WAIT_S = 10.0


def _stop_all_at_exit() -> None:
    """Before the interpreter shuts down: each model's work in progress is aborted and awaited.

    A daemon thread still inside llama.cpp (a prefill read ahead after the last reply) when Python
    finalizes calls back into a dying interpreter (the abort callback is Python): a crash at exit.
    """
    for worker in list(_LIVE):
        if worker.on_exit is not None:
            worker.on_exit()
        worker.stop(EXIT_WAIT_S)


# Run at threading's shutdown, before the interpreter tears down (as concurrent.futures does).
_register = getattr(threading, "_register_atexit", None)
if _register is not None:
    _register(_stop_all_at_exit)
else:  # pragma: no cover - other interpreters
    import atexit

    atexit.register(_stop_all_at_exit)


def _run_job(job: Callable[[], object], future: Future[object]) -> None:
    try:
        future.set_result(job())
    except BaseException as exc:  # noqa: BLE001 - handed to the caller
        future.set_exception(exc)


class ModelThread:
    """A single worker thread that runs submitted jobs one after another."""

    def __init__(self, name: str = "llama", on_exit: Callable[[], None] | None = None) -> None:
        self._jobs: queue.SimpleQueue[tuple[Callable[[], object], Future[object]] | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self.on_exit = on_exit  # asks the job in progress to stop (the model's abort flag)
        self._stopped = False
        self._state = threading.Lock()
        self._thread.start()
        _LIVE.add(self)

    def submit(self, job: Callable[[], T]) -> Future[T]:
        """Queue `job`; its result (or exception) arrives in the returned future."""
        future: Future[T] = Future()
        with self._state:
            inline = threading.current_thread() is self._thread or self._stopped
            if not inline:
                self._jobs.put((job, future))  # type: ignore[arg-type]
        if inline:  # on the model's thread already, or it was stopped: only its owner is left
            _run_job(job, future)  # type: ignore[arg-type]
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
            if future.set_running_or_notify_cancel():
                _run_job(job, future)

    def stop(self, timeout: float = 30.0) -> None:
        """No more jobs: the thread ends after those queued; later ones run on the caller's thread."""
        if self._thread.is_alive() and not self._stopped:
            self._jobs.put(None)
            if threading.current_thread() is not self._thread:
                self._thread.join(timeout)
        with self._state:
            self._stopped = True
        while True:  # jobs queued behind the end: run here, so no caller waits forever
            try:
                item = self._jobs.get_nowait()
            except queue.Empty:
                return
            if item is not None and item[1].set_running_or_notify_cancel():
                _run_job(*item)
