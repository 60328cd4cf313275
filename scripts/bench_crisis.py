"""The crisis check on its frozen test sets: recall, false alarms, per kind and language, and time a line.

    .venv/bin/python scripts/bench_crisis.py --json scripts/results/crisis_eval.json

The test sets are never trained on: tests/care/crisis_frozen_test_6.tsv (what users say) was written
by an independent writer before the sixth round of tuning and scored blind once after it;
reply_frozen_test.tsv (what the model might write) was written before the semantic layer was built.
Each earlier user set joined the training data after its blind scoring (docs/CARE.md says why).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections import defaultdict
from pathlib import Path

from bench_common import cpu_name  # scripts/ is on the path of a script run

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from voice_app.care import semantic  # noqa: E402
from voice_app.care.crisis import assess, detect_crisis  # noqa: E402
from voice_app.care.reply import check_reply  # noqa: E402

SETS = {
    "user_6": ROOT / "tests" / "care" / "crisis_frozen_test_6.tsv",
    "reply": ROOT / "tests" / "care" / "reply_frozen_test.tsv",
}


def rates(rows: list[tuple[bool, bool]]) -> dict[str, float | int]:
    positives = [flagged for crisis, flagged in rows if crisis]
    negatives = [flagged for crisis, flagged in rows if not crisis]
    return {
        "lines": len(rows),
        "recall": round(sum(positives) / len(positives), 4) if positives else None,
        "false_alarm_rate": round(sum(negatives) / len(negatives), 4) if negatives else None,
    }


def evaluate(path: Path, reply_side: bool = False) -> dict[str, object]:
    lines = semantic.read_labelled(path)
    both, patterns_only = [], []
    by_group: dict[str, list[tuple[bool, bool]]] = defaultdict(list)
    misses, alarms = [], []
    for line in lines:
        flagged = (check_reply(line.text, ()) if reply_side else assess(line.text)).flagged
        both.append((line.crisis, flagged))
        patterns_only.append((line.crisis, detect_crisis(line.text) is not None))
        by_group[f"lang:{line.lang}"].append((line.crisis, flagged))
        by_group[f"kind:{line.kind}"].append((line.crisis, flagged))
        if line.crisis and not flagged:
            misses.append(line.text)
        if flagged and not line.crisis:
            alarms.append(line.text)
    return {
        "both_layers": rates(both),
        "patterns_only": rates(patterns_only),
        "groups": {name: rates(rows) for name, rows in sorted(by_group.items())},
        "missed": misses,
        "false_alarms": alarms,
    }


def time_per_line(samples: list[str]) -> dict[str, float]:
    assess("warm-up")
    seconds = []
    for text in samples:
        start = time.perf_counter()
        assess(text)
        seconds.append(time.perf_counter() - start)
    seconds.sort()
    return {
        "p50_ms": round(statistics.median(seconds) * 1000, 1),
        "p95_ms": round(seconds[int(0.95 * (len(seconds) - 1))] * 1000, 1),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", type=Path, help="write the result here")
    args = parser.parse_args()
    start = time.perf_counter()
    layer = semantic.shared()
    ready_s = time.perf_counter() - start
    result: dict[str, object] = {
        "cpu": cpu_name(),
        "threshold": round(layer.threshold, 4),
        "fingerprint": layer.model.fingerprint,
        "model_ready_s": round(ready_s, 2),
        "training_lines": len(semantic.read_labelled(semantic.TRAIN)),
    }
    for name, path in SETS.items():
        result[name] = evaluate(path, reply_side=name == "reply")
    result["time_per_line"] = time_per_line([line.text for line in semantic.read_labelled(SETS["user_6"])])
    text = json.dumps(result, ensure_ascii=False, indent=2)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(text + "\n", encoding="utf-8")
    print(json.dumps({k: result[k] for k in ("cpu", "threshold", "time_per_line")}, indent=2))
    for name in SETS:
        section = result[name]
        assert isinstance(section, dict)
        print(name, "both layers:", section["both_layers"], "patterns only:", section["patterns_only"])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
