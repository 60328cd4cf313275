#!/usr/bin/env python3
"""The word nudge's strength on a development set: chitchat speakers disjoint from the reported ones.

    .venv/bin/python scripts/bench_word_bias.py --json scripts/results/fidelity_word_bias_dev.json

`scripts/bench_fidelity.py --seed 0` picks the 10 speakers the README reports on; `--seed 1` picks 10
others (none shared, of 73). This runs the persona path on those others with the nudge as shipped
(0.25 logits per standard error, at most 1), twice as strong, and off, without the no-persona baseline,
so a setting can be chosen without looking at the reported set.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from voice_app.evaluation import fidelity
from voice_app.persona import lexicon

SETTINGS = [(0.25, 1.0), (0.5, 2.0), (0.0, 0.0)]  # (logits per standard error, cap)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", type=Path, default=Path("scripts/results/fidelity_word_bias_dev.json"))
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    model = fidelity.open_eval_model()
    targets, candidates = fidelity.chitchat_targets(10, 10, args.seed, None)
    out: dict[str, object] = {"seed": args.seed, "speakers": [t.label for t in targets], "settings": {}}
    for per_z, cap in SETTINGS:
        lexicon.BIAS_PER_Z, lexicon.MAX_BIAS = per_z, cap
        started = time.time()
        result = fidelity.evaluate(targets, candidates, model, seed=args.seed, baseline=False)
        a = result["attribution"]
        row = {
            "simulated": a["simulated"],
            "unadapted": a["simulated_without_style_adapter"],
            "ceiling": a["ceiling_real"],
            "seconds": round(time.time() - started),
        }
        out["settings"][f"{per_z}/{cap}"] = row  # type: ignore[index]
        print(per_z, cap, row, flush=True)
    out["command"] = f".venv/bin/python scripts/bench_word_bias.py --json {args.json}"
    args.json.write_text(json.dumps(out, indent=1) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
