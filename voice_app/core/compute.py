"""Who is computing now: heavy stages say so, and the language model gives up a core while they run.

On two cores, llama.cpp's threads wait for each other at every operation of a token: with one core
busy elsewhere (speech recognition, the TTS voice, another program), two-thread generation falls to
a third of its speed while one thread keeps nearly all of it (measured: 7.6–14.3 vs 21.6 tokens/s;
with another process spinning on one core, a reply's first token took 62 s on two threads). So the
TTS and STT stages mark their work here, the load other processes put on our CPUs is sampled from
/proc/stat, and the model reads `others_busy()` before each token.

One stage may take every core for a moment (`alone()`): the first sound of a reply, which the user
is waiting for while the model is already ahead of the voice. The model then stops the token it is
computing, waits, and computes it again after.
"""

from __future__ import annotations

import os
import threading
import time
import weakref
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager

BUSY_CORES = 0.5  # other processes using this much of our CPUs make a core "taken"
SAMPLE_EVERY_S = 0.2


class MachineLoad:
    """How many of this process's CPUs other processes keep busy, from /proc/stat (Linux; else 0).

    Counted over the CPUs this process may run on, less its own CPU time; time stolen by the
    hypervisor counts as taken too. Sampled at most every SAMPLE_EVERY_S, so cheap to ask per token.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        cpus = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else set()
        self._cpus = {f"cpu{n}" for n in cpus}
        self.cpus = len(cpus) or os.cpu_count() or 1
        self._tick = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
        self._others = 0.0
        self._last: tuple[float, float, float] | None = self._sample()  # (wall, busy ticks, own ticks)

    def _sample(self) -> tuple[float, float, float] | None:
        try:
            with open("/proc/stat", encoding="ascii") as stat:
                lines = stat.read().splitlines()
            own = os.times()
        except OSError:
            return None
        busy = 0.0
        for line in lines:
            name, _, rest = line.partition(" ")
            if name in self._cpus:
                fields = [int(v) for v in rest.split()]
                # user nice system idle iowait irq softirq steal …: all but idle and iowait are taken
                busy += sum(fields[:3]) + sum(fields[5:8])
        return time.monotonic(), busy, (own.user + own.system) * self._tick

    def others_cores(self) -> float:
        """Cores' worth of our CPUs other processes used since the last sample (at most 0.2 s old)."""
        now = time.monotonic()
        with self._lock:
            if self._last is not None and now - self._last[0] < SAMPLE_EVERY_S:
                return self._others
            sample = self._sample()
            if sample is None or not self._cpus:
                return 0.0
            if self._last is not None:
                wall = (sample[0] - self._last[0]) * self._tick
                others = (sample[1] - self._last[1]) - (sample[2] - self._last[2])
                self._others = max(0.0, others / wall) if wall > 0 else 0.0
            self._last = sample
            return self._others


class ComputeLoad:
    """A count of the heavy stages running now, by name (thread-safe, cheap to read)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._running: Counter[str] = Counter()
        self._total = 0
        self.machine = MachineLoad()
        self._alone = 0  # stages holding every core now
        self._alone_over = threading.Condition(self._lock)
        self._here = threading.local()  # whether this thread holds them
        self._yielders: list[weakref.WeakMethod[Callable[[], None]]] = []

    def on_alone(self, give_way: Callable[[], None]) -> None:
        """`give_way` (a bound method, held weakly) is called when a stage takes every core: it stops
        what its owner computes until `wait_alone()` returns."""
        with self._lock:
            self._yielders.append(weakref.WeakMethod(give_way))

    @contextmanager
    def alone(self, stage: str) -> Iterator[None]:
        """Every core for `stage` while inside: the model gives way (see `on_alone`)."""
        with self._lock:
            self._alone += 1
            self._yielders = [ref for ref in self._yielders if ref() is not None]
            yielders = [ref() for ref in self._yielders]
        self._here.alone = True
        try:
            for give_way in yielders:
                if give_way is not None:
                    give_way()
            with self.busy(stage):
                yield
        finally:
            self._here.alone = False
            with self._lock:
                self._alone -= 1
                self._alone_over.notify_all()

    def holds_alone(self) -> bool:
        """Whether the calling thread is inside `alone()` (its stage may use every core)."""
        return bool(getattr(self._here, "alone", False))

    def wait_alone(self, timeout: float) -> bool:
        """Wait until no stage holds every core; False if one still does after `timeout` seconds."""
        with self._lock:
            return self._alone_over.wait_for(lambda: self._alone == 0, timeout)

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

    def others_busy(self, threads: int | None = None) -> bool:
        """Whether `threads` of ours (default: every CPU) would share a core with another stage or
        another program now: on two CPUs, any of them; on a large machine only as many as take the
        cores left over.

        Read without the lock: a stale answer costs one token.
        """
        spare = self.machine.cpus - (threads or self.machine.cpus)  # cores our threads leave free
        return (self._total > 0 and spare < 1) or self.machine.others_cores() >= spare + BUSY_CORES

    def running(self) -> dict[str, int]:
        with self._lock:
            return {k: v for k, v in self._running.items() if v}


LOAD = ComputeLoad()  # the process-wide one
