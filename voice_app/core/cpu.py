"""How many cores to give a compute stage."""

from __future__ import annotations

import os
from pathlib import Path

SMALL_MACHINE = 4  # up to this many usable CPUs, every one counts (a VM's vCPUs may claim to share a core)


def usable_cpus() -> int:
    """The CPUs this process may run on (its affinity), not those the machine has."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return os.cpu_count() or 1


def physical_cores() -> int:
    """Threads for a compute stage: the usable CPUs, less hyper-thread siblings on a larger machine.

    On a big machine llama.cpp gains nothing from a core's second hyper-thread. On a small one every
    usable CPU is taken: a 2-vCPU VM may report its vCPUs as siblings of one core while the host runs
    them on two (measured: two threads generate 26–33 tokens/s there, one 20).
    """
    usable = usable_cpus()
    if usable <= SMALL_MACHINE:
        return usable
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return usable
    cores: set[tuple[str, str]] = set()
    physical = ""
    for line in text.splitlines():
        key, _, value = line.partition(":")
        key, value = key.strip(), value.strip()
        if key == "physical id":
            physical = value
        elif key == "core id":
            cores.add((physical, value))
    return max(1, min(len(cores) or usable, usable))
