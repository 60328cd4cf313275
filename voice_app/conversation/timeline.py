"""A turn's clock: every event stamped relative to its origin (the end of speech, or the line typed)."""

from __future__ import annotations

import threading
import time

# The events a turn stamps, in the order they normally happen.
EVENTS = (
    "speech_end",  # key released / VAD endpoint (the origin: 0.0)
    "turn_start",  # the turn began (negative: a reply started in the user's silence, then kept)
    "checked",  # the care checks and the prompt are done
    "llm_start",  # the model is asked (negative: started before the user finished, then kept)
    "transcript_final",
    "first_token",
    "first_clause",
    "first_audio",  # first TTS chunk ready
    "first_audio_out",  # first reply sample handed to the output stream
    "last_token",
    "last_audio_out",
    "barge_in",
    "playback_stopped",
    "llm_stopped",
)


class Timeline:
    """perf_counter() stamps of a turn's events; `relative()` gives seconds since speech end."""

    def __init__(self, origin: float | None = None) -> None:
        self._lock = threading.Lock()
        self.at: dict[str, float] = {}
        if origin is not None:
            self.at["speech_end"] = origin

    def mark(self, event: str, at: float | None = None, *, overwrite: bool = False) -> float:
        """Stamp an event (the first stamp wins unless `overwrite`); returns the stamp."""
        stamp = time.perf_counter() if at is None else at
        with self._lock:
            if overwrite or event not in self.at:
                self.at[event] = stamp
            return self.at[event]

    def has(self, event: str) -> bool:
        return event in self.at

    def since(self, event: str, origin: str = "speech_end") -> float | None:
        if event not in self.at or origin not in self.at:
            return None
        return self.at[event] - self.at[origin]

    def relative(self) -> dict[str, float]:
        """Every event in seconds since speech end, in event order."""
        origin = self.at.get("speech_end", min(self.at.values(), default=0.0))
        order = {name: i for i, name in enumerate(EVENTS)}
        items = sorted(self.at.items(), key=lambda kv: (order.get(kv[0], len(order)), kv[1]))
        return {name: round(stamp - origin, 4) for name, stamp in items}
