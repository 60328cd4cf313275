"""What benchmarks share: the CPU they ran on, percentiles, the results file, the checks' log, the demo set-up."""

from __future__ import annotations

import json
import logging
import os
import platform
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from voice_app.core.config import Settings
    from voice_app.speech.tts import Synthesizer
    from voice_app.storage.store import Store


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


class LogLines(logging.Handler):
    """What the named loggers say at INFO and above between `attach()` and `detach()` (the role check's
    "asked again", the reply check's stops, with why)."""

    def __init__(self, *names: str) -> None:
        super().__init__(logging.INFO)
        self.lines: list[str] = []
        self._loggers = [logging.getLogger(name) for name in names]

    def attach(self) -> LogLines:
        for logger in self._loggers:
            logger.setLevel(logging.INFO)
            logger.addHandler(self)
        return self

    def detach(self) -> None:
        for logger in self._loggers:
            logger.removeHandler(self)

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


def demo_with_voice(prefix: str) -> tuple[Settings, Store, Synthesizer]:
    """A fresh data dir (`VOICE_APP_HOME`, named after `prefix`) holding the demo persona, the embedded
    model's settings, and the Piper voice loaded."""
    os.environ["VOICE_APP_HOME"] = tempfile.mkdtemp(prefix=prefix)
    from voice_app.conversation.importing import ensure_demo
    from voice_app.core import config
    from voice_app.speech.tts import Synthesizer
    from voice_app.storage.store import Store

    settings = config.Settings()
    settings.llm.backend = "embedded"
    store = Store(Path(os.environ["VOICE_APP_HOME"]) / "bench.sqlite3")
    ensure_demo(store)
    return settings, store, Synthesizer.from_settings(settings)
