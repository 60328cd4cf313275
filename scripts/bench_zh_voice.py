"""The Chinese voice: time to its first chunk, real-time factor, and Whisper base's character error on it.

    .venv/bin/python scripts/bench_zh_voice.py --json scripts/results/bench_zh_voice.json

Needs the voice built (`voice-app models add zh-voice`). Sentences of the kind the demo-zh persona says.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

from bench_common import cpu_name  # scripts/ is on the path of a script run

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from tests.speech.conftest import character_error_rate, han_and_words  # noqa: E402 - the tests' measure, so the figures agree
from voice_app.core import assets, config  # noqa: E402
from voice_app.core.signal import resample  # noqa: E402
from voice_app.speech.stt import Transcriber  # noqa: E402
from voice_app.speech.voices import chinese_voice  # noqa: E402

SENTENCES = [
    "好啊，周六中午见。",
    "我还记得我们第一次去吃煎饼的那天。",
    "对不起，你太辛苦了。",
    "其实我也不知道该怎么说，我们就这样吧。",
    "你每次都说十分钟，这次是真的吗？",
    "深圳那边给了我一个机会，我想去试试。",
]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", type=Path, help="write the result here")
    args = parser.parse_args()
    voice = chinese_voice(config.Settings())
    if voice is None:
        print("The Chinese voice is not built: run `voice-app models add zh-voice` first.", file=sys.stderr)
        return 2
    whisper = Transcriber(assets.resolve("stt", "whisper-base").path, language="zh")
    voice.warm_up()
    rows = []
    for sentence in SENTENCES:
        start = time.perf_counter()
        chunks = voice.stream(sentence)
        first = next(chunks)
        first_s = time.perf_counter() - start
        audio = [first, *chunks]
        total_s = time.perf_counter() - start
        seconds = sum(len(c) for c in audio) / voice.sample_rate
        heard = whisper.transcribe(resample(np.concatenate(audio), voice.sample_rate, 16000)).text
        rows.append(
            {
                "text": sentence,
                "heard": heard,
                "first_chunk_s": round(first_s, 3),
                "real_time_factor": round(total_s / seconds, 3),
                "cer": round(character_error_rate(sentence, heard), 3),
            }
        )
    errors = sum(r["cer"] * len(han_and_words(r["text"])) for r in rows) / sum(
        len(han_and_words(r["text"])) for r in rows
    )
    result = {
        "cpu": cpu_name(),
        "first_chunk_s": {"min": min(r["first_chunk_s"] for r in rows), "max": max(r["first_chunk_s"] for r in rows)},
        "real_time_factor_median": round(statistics.median(r["real_time_factor"] for r in rows), 3),
        "cer_total": round(errors, 3),
        "sentences": rows,
    }
    text = json.dumps(result, ensure_ascii=False, indent=2)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(text + "\n", encoding="utf-8")
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
