"""Thread counts: every usable CPU on a small machine, hyper-thread siblings left out on a big one."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from voice_app.core import cpu
from voice_app.core.compute import ComputeLoad


def cpuinfo(cores: list[tuple[int, int]]) -> str:
    return "\n\n".join(f"processor\t: {i}\nphysical id\t: {p}\ncore id\t\t: {c}" for i, (p, c) in enumerate(cores))


def test_a_two_vcpu_vm_that_reports_one_core_still_gets_two_threads(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1})
    monkeypatch.setattr(Path, "read_text", lambda self, *a, **k: cpuinfo([(0, 0), (0, 0)]))
    assert cpu.physical_cores() == 2


def test_a_big_machine_leaves_hyper_thread_siblings_out(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(16)))
    siblings = [(0, c) for c in range(8)] * 2  # 8 cores, 2 threads each
    monkeypatch.setattr(Path, "read_text", lambda self, *a, **k: cpuinfo(siblings))
    assert cpu.physical_cores() == 8
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1, 2, 3, 4, 5})  # pinned to 6 of them
    assert cpu.physical_cores() == 6


def test_the_compute_load_counts_stages_while_they_run(monkeypatch: pytest.MonkeyPatch) -> None:
    load = ComputeLoad()
    monkeypatch.setattr(load.machine, "others_cores", lambda: 0.0)  # other programs: none (see below)
    monkeypatch.setattr(load.machine, "cpus", 2)
    assert not load.others_busy()
    with load.busy("tts"):
        with load.busy("stt"):
            assert load.running() == {"tts": 1, "stt": 1}
        assert load.others_busy() and load.running() == {"tts": 1}
    assert not load.others_busy() and load.running() == {}


def test_other_programs_take_a_core_only_when_our_threads_need_it(monkeypatch: pytest.MonkeyPatch) -> None:
    load = ComputeLoad()
    others = [0.0]
    monkeypatch.setattr(load.machine, "others_cores", lambda: others[0])
    monkeypatch.setattr(load.machine, "cpus", 2)
    assert not load.others_busy(2)
    others[0] = 0.9  # another program spins on one of our two CPUs
    assert load.others_busy(2)
    monkeypatch.setattr(load.machine, "cpus", 16)  # a big machine: 8 threads of ours leave 8 cores free
    assert not load.others_busy(8)
    others[0] = 8.6
    assert load.others_busy(8)
    with load.busy("stt"):  # one of our own stages needs a core only when none is spare
        others[0] = 0.0
        assert not load.others_busy(8) and load.others_busy(16)


def test_a_spinning_process_is_seen_on_our_cpus() -> None:
    import subprocess
    import sys
    import time

    from voice_app.core.compute import MachineLoad

    machine = MachineLoad()
    hog = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        time.sleep(0.6)
        machine.others_cores()  # a sample from while it spins
        time.sleep(0.6)
        assert machine.others_cores() >= 0.7  # about a whole core (more if the machine is busier still)
    finally:
        hog.kill()
        hog.wait()
