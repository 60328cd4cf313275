"""Speech recognition: the fitted encoder window against Whisper's standard 30 s one, on the same clips.

    .venv/bin/python scripts/bench_stt.py --json scripts/results/bench_stt.json

Utterances are synthesized with Piper and espeak-ng (English; no Chinese voice ships on PyPI), trimmed
of silence as the app trims them, and transcribed by each model twice: with the standard window and
with the window fitted to the clip. Reports word error rate, seconds per clip and how often the
fitted window was decoded again the standard way (a cut, looping or empty result).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from scripts.bench_latency import ESPEAK_LINES, PIPER_LINES  # noqa: E402 - the latency benchmark's utterances
from tests.speech.conftest import word_error_rate  # noqa: E402 - the tests' measure, so the figures agree

LINES = [
    *PIPER_LINES,
    *ESPEAK_LINES,
    "Yes.",
    "No, not really.",
    "Okay, so here is the thing: I moved to Berlin in March, I started a new job, and I still think about"
    " you every single day, which is exhausting.",
]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--json", type=Path, help="write the results here")
    parser.add_argument("--models", default="whisper-base,whisper-tiny.en")
    args = parser.parse_args()

    from voice_app.cli.talk import load_wav
    from voice_app.core import config
    from voice_app.core.signal import resample
    from voice_app.speech.audio import RATE
    from voice_app.speech.stt import Transcriber
    from voice_app.speech.tts import Synthesizer
    from voice_app.speech.vad import trim_silence

    settings = config.Settings()
    synth = Synthesizer.from_settings(settings)
    clips = [("piper", t, resample(synth.synthesize(t), synth.sample_rate, RATE)) for t in LINES]
    folder = Path(tempfile.mkdtemp(prefix="bench-stt-"))
    if shutil.which("espeak-ng"):
        for i, text in enumerate(LINES):
            path = folder / f"{i}.wav"
            subprocess.run(["espeak-ng", "-v", "en-us", "-s", "150", "-w", str(path), text], check=True)
            clips.append(("espeak-ng", text, load_wav(path)))
    shutil.rmtree(folder, ignore_errors=True)

    results: dict[str, dict] = {}
    for model in args.models.split(","):
        settings.stt.model = model
        transcriber = Transcriber.from_settings(settings, language="en")
        transcriber.warm_up()
        for window in ("standard", "fitted"):
            transcriber.short_window = window == "fitted"
            transcriber.fallbacks = 0
            errors, seconds, misheard = [], [], []
            for voice, text, audio in clips:
                got = transcriber.transcribe(trim_silence(audio.astype(np.float32)))
                errors.append(word_error_rate(text, got.text))
                seconds.append(got.seconds)
                if errors[-1]:
                    misheard.append({"voice": voice, "said": text, "heard": got.text})
            row = {
                "wer": round(float(np.mean(errors)), 4),
                "seconds_mean": round(float(np.mean(seconds)), 3),
                "seconds_p95": round(float(np.percentile(seconds, 95)), 3),
                "decoded_again": transcriber.fallbacks,
                "clips": len(clips),
                "misheard": misheard,
            }
            results[f"{model}/{window}"] = row
            print(
                f"{model:16} {window:8} WER {row['wer']:.3f}  {row['seconds_mean']:.3f} s a clip"
                f" (p95 {row['seconds_p95']:.3f})  decoded again {row['decoded_again']}/{len(clips)}",
                file=sys.stderr,
            )
        transcriber.short_window = True
    out = {
        "results": results,
        "speedup": {
            m: round(results[f"{m}/standard"]["seconds_mean"] / results[f"{m}/fitted"]["seconds_mean"], 2)
            for m in args.models.split(",")
        },
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "command": " ".join(["python", "scripts/bench_stt.py", *sys.argv[1:]]),
    }
    print(json.dumps({k: {kk: vv for kk, vv in v.items() if kk != "misheard"} for k, v in results.items()}, indent=2))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(out, indent=2, ensure_ascii=False) + "\n")
        print(f"wrote {args.json}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
