"""What every benchmark reports the same way: the CPU it ran on, and percentiles."""

from __future__ import annotations

import json
import platform
from pathlib import Path

import numpy as np


def cpu_name() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def pct(values: list[float], q: float) -> float | None:
    return round(float(np.percentile(values, q)), 3) if values else None


def write_json(path: Path, data: object, *, indent: int = 1, ensure_ascii: bool = True) -> None:
    """A benchmark's results as JSON at `path` (its folder made if missing)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=indent, ensure_ascii=ensure_ascii) + "\n", encoding="utf-8")
