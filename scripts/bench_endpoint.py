"""Hands-free endpointing on a frozen set: how often one sentence said in two breaths is cut in two, and
how long the turn takes to end after a finished line, for each early-end setting; with --pause-ms, when
the held reply would start (a pause, then a pass that heard every word) and how often it starts mid-line.

    .venv/bin/python scripts/bench_endpoint.py --json scripts/results/bench_endpoint.json
    .venv/bin/python scripts/bench_endpoint.py --sentence-end-ms 600 --pause-ms 160,96,64 \
        --json scripts/results/bench_endpoint_pause.json

The set (tests/speech/endpoint_frozen_set.tsv) was written before the endpoint was changed and is never
tuned on. Each line is synthesized (Piper, and espeak-ng where installed), fed at real-time pace to the
app's own hands-free listener (Silero VAD, streaming Whisper, the "finished sentence" early end), and
the utterances it ends are counted. The endpoint delay is measured from the last sample of speech fed
to the moment the listener hands the utterance over. A "settle" is the listener telling the words so
far were all heard in a pause (`Conversation.on_settled`: the held reply starts); one before the line's
last sample was fed starts a reply that is dropped when the user goes on; the settle delay is the
time from the last sample of speech to the last settle. Counted by words instead, a settle with the
line's final words starts a reply that is kept (`kept_settle_delay`, which can be negative when the
VAD heard the end before the last faint sound), one with other words a reply that is dropped.
With `--clips FILE.npz` two runs (two versions of the code) hear the same synthesized lines.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from bench_common import cpu_name, pct, write_json  # scripts/ is on the path of a script run

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.speech.conftest import word_error_rate  # noqa: E402 - the tests' measure, so the figures agree

SET = ROOT / "tests" / "speech" / "endpoint_frozen_set.tsv"
RATE = 16000
SOUND = 0.02  # what counts as sound when a clip is trimmed to its speech


@dataclass
class Item:
    kind: str  # "pause" (one sentence in two breaths) or "finished" (one breath)
    first: str
    rest: str
    pause_ms: int

    @property
    def text(self) -> str:
        return f"{self.first} {self.rest}".strip()


def load_set(path: Path = SET) -> list[Item]:
    rows = [r for r in csv.reader(path.open(encoding="utf-8"), delimiter="\t") if r and not r[0].startswith("#")]
    return [Item(kind, first, rest, int(pause)) for kind, first, rest, pause in rows]


def to_sound(audio: np.ndarray) -> np.ndarray:
    """The clip from its first to its last sound (the pause between breaths is then exactly pause_ms)."""
    loud = np.flatnonzero(np.abs(audio) > SOUND)
    return audio[int(loud[0]) : int(loud[-1]) + 1] if len(loud) else audio


def split_summary(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """How often two-breath lines were cut in two, and how soon a finished line ended its turn."""
    pauses = [r for r in rows if r["kind"] == "pause"]
    delays = [r["endpoint_delay_s"] for r in rows if r["kind"] == "finished" and r["endpoint_delay_s"]]
    return {
        "split_rate": round(sum(r["turns"] > 1 for r in pauses) / len(pauses), 3) if pauses else None,
        "split": sum(r["turns"] > 1 for r in pauses),
        "pause_lines": len(pauses),
        "missed": sum(r["turns"] == 0 for r in rows),
        "finished_delay_p50_s": pct(delays, 50),
        "finished_delay_p95_s": pct(delays, 95),
        # what the turns heard, against what was said (a line cut in two: its parts joined)
        "word_error_rate": round(statistics.mean(word_error_rate(r["said"], " ".join(r["heard"])) for r in rows), 4)
        if rows
        else None,
    }


def settle_summary(rows: list[dict[str, Any]], short_ms: int) -> dict[str, Any]:
    """When the words were settled (the held reply started) after a line, and how often mid-line."""
    delays = [r["settle_delay_s"] for r in rows if r["settle_delay_s"] is not None]
    kept = [r["kept_settle_delay_s"] for r in rows if r.get("kept_settle_delay_s") is not None]
    return {
        "sentence_end_ms": short_ms,
        "lines": len(rows),
        "settled_after_the_line": len(delays),
        "settle_delay_p50_s": pct(delays, 50),
        "settle_delay_p95_s": pct(delays, 95),
        "mid_line_settles_one_breath": sum(len(r["settles_mid_line"]) for r in rows if r["kind"] == "finished"),
        "mid_line_settles_two_breaths": sum(len(r["settles_mid_line"]) for r in rows if r["kind"] == "pause"),
        # By words rather than by time: a settle with the line's final words starts a reply that is kept
        # (it may come before the last faint sound the VAD did not hear); one with other words is dropped.
        "kept_settles": len(kept),
        "kept_settle_delay_p50_s": pct(kept, 50),
        "kept_settle_delay_p95_s": pct(kept, 95),
        "dropped_settles_one_breath": sum(r.get("dropped_settles", 0) for r in rows if r["kind"] == "finished"),
        "dropped_settles_two_breaths": sum(r.get("dropped_settles", 0) for r in rows if r["kind"] == "pause"),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--json", type=Path, help="write the results here")
    parser.add_argument("--sentence-end-ms", default="250,600", help="audio.sentence_end_ms values to compare")
    parser.add_argument("--pause-ms", default="", help="audio.pause_ms values to compare (default: the setting)")
    parser.add_argument("--stt", default="", help="stt.model (default: auto, tiny.en for English)")
    parser.add_argument("--voices", default="piper,espeak-ng")
    parser.add_argument("--clips", type=Path, help="an .npz of the synthesized lines: made once, then reused")
    args = parser.parse_args()

    from voice_app.cli.talk import load_wav
    from voice_app.conversation.turn import same_words
    from voice_app.core import config
    from voice_app.core.signal import resample
    from voice_app.speech.audio import ArraySource
    from voice_app.speech.recorder import HandsFree, Utterance
    from voice_app.speech.stt import Transcriber
    from voice_app.speech.tts import Synthesizer

    settings = config.Settings()
    if args.stt:
        settings.stt.model = args.stt
    synth = Synthesizer.from_settings(settings)
    transcriber = Transcriber.from_settings(settings, language="en")
    transcriber.transcribe(np.zeros(RATE, np.float32), language="en")  # load and warm it once

    def piper(text: str) -> np.ndarray:
        return to_sound(resample(synth.synthesize(text), synth.sample_rate, RATE))

    def espeak(text: str) -> np.ndarray | None:
        if shutil.which("espeak-ng") is None:
            return None
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "line.wav"
            subprocess.run(["espeak-ng", "-v", "en-us", "-s", "150", "-w", str(path), text], check=True)
            return to_sound(load_wav(path))

    voices = {"piper": piper, "espeak-ng": espeak}
    # Piper's voice varies from one synthesis to the next: runs to compare hear the same clips.
    saved: dict[str, np.ndarray] = dict(np.load(args.clips)) if args.clips and args.clips.exists() else {}

    def said(voice: str, text: str) -> np.ndarray | None:
        key = f"{voice}|{text}"
        if key not in saved:
            audio = voices[voice](text)
            if audio is None:
                return None
            saved[key] = audio
        return saved[key]

    clips: list[tuple[str, Item, np.ndarray]] = []
    for item in load_set():
        for voice in args.voices.split(","):
            heard = [said(voice, item.first)] + ([said(voice, item.rest)] if item.rest else [])
            parts = [p for p in heard if p is not None]
            if len(parts) < len(heard):
                continue
            gap = np.zeros(item.pause_ms * RATE // 1000, np.float32)
            audio = parts[0] if len(parts) == 1 else np.concatenate([parts[0], gap, parts[1]])
            clips.append((voice, item, audio))
    if args.clips:
        np.savez(args.clips, **saved)  # type: ignore[arg-type]  # numpy's stub: names are arrays too

    def listen(voice: str, item: Item, audio: np.ndarray, short_ms: int, pause_ms: int) -> dict[str, Any]:
        """One line fed to the hands-free listener: the turns it ended and when it settled the words."""
        heard: list[Utterance] = []
        settles: list[tuple[float, str]] = []
        source = ArraySource(audio, leading_s=0.5, trailing_s=1.6)
        listener = HandsFree(
            source,
            transcriber=transcriber,
            end_silence_ms=settings.audio.end_silence_ms,
            short_silence_ms=short_ms or settings.audio.end_silence_ms,  # 0: off, as the setting
            pause_ms=pause_ms,
            language="en",
            on_utterance=heard.append,
            on_settled=lambda text: settles.append((time.perf_counter(), text)),
        )
        with listener:
            source.done.wait(60)
            time.sleep(0.2)
        texts = [u.transcribe(transcriber) for u in heard]
        end = source.speech_end_at or 0.0
        after = [at for at, _ in settles if at >= end]
        final = " ".join(texts)
        kept = [at for at, text in settles if same_words(text, final)]
        row = {
            "voice": voice,
            "kind": item.kind,
            "said": item.text,
            "pause_ms": item.pause_ms,
            "turns": len(heard),
            "heard": texts,
            "endpoint_delay_s": round(heard[-1].speech_end_at - end, 3) if heard else None,
            "settles_mid_line": [text for at, text in settles if at < end],
            "settle_delay_s": round(after[-1] - end, 3) if after else None,
            "settles": [(round(at - end, 3), text) for at, text in settles],
            "kept_settle_delay_s": round(kept[-1] - end, 3) if kept and len(heard) == 1 else None,
            "dropped_settles": sum(not same_words(text, final) for _, text in settles),
        }
        print(
            f"{short_ms}/{pause_ms} ms {voice:9} {item.kind:8} turns={len(heard)} delay={row['endpoint_delay_s']}"
            f" settle={row['settle_delay_s']} mid={row['settles_mid_line']} {texts}",
            file=sys.stderr,
        )
        return row

    pause_values = [int(v) for v in args.pause_ms.split(",")] if args.pause_ms else [settings.audio.pause_ms]
    sweep = len(pause_values) > 1  # a pause sweep keeps its rows; one pause compares the early-end settings
    results: dict[str, Any] = {}
    by_pause: dict[str, Any] = {}
    for short_ms in [int(v) for v in args.sentence_end_ms.split(",")]:
        for pause_ms in pause_values:
            rows = [listen(voice, item, audio, short_ms, pause_ms) for voice, item, audio in clips]
            by_pause[str(pause_ms)] = settle_summary(rows, short_ms) | ({"rows": rows} if sweep else {})
            if not sweep:
                results[str(short_ms)] = split_summary(rows) | {"rows": rows}
    print(json.dumps({k: {m: v for m, v in r.items() if m != "rows"} for k, r in results.items()}, indent=1))
    print(json.dumps({k: {m: v for m, v in r.items() if m != "rows"} for k, r in by_pause.items()}, indent=1))
    out = {
        "by_sentence_end_ms": results,
        "by_pause_ms": by_pause,
        "end_silence_ms": settings.audio.end_silence_ms,
        "stt": settings.stt.model,
        "machine": {"cpu": cpu_name(), "cores": os.cpu_count()},
        "command": "scripts/bench_endpoint.py " + " ".join(sys.argv[1:]),
    }
    if args.json:
        write_json(args.json, out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
