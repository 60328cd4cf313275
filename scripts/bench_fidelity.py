"""Fidelity benchmark: `python scripts/bench_fidelity.py --speakers 10 --contexts 4 --seed 0`.

`--ablate retrieval|meaning|examples|words --out scripts/results/fidelity_ablate_X.json` leaves one part of the
persona out (what each part adds).

Same as `voice-app persona eval --dataset chitchat ...` with the embedded model; writes the result JSON
(default scripts/results/fidelity_chitchat.json) and prints progress to stderr.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from voice_app.evaluation import fidelity


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--speakers", type=int, default=10)
    parser.add_argument("--contexts", type=int, default=fidelity.DEFAULT_CONTEXTS)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--max-tokens", type=int, default=fidelity.REPLY_TOKENS)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "fidelity_chitchat.json")
    parser.add_argument(
        "--ablate",
        choices=sorted(fidelity.ABLATIONS),
        help="leave this part of the persona out, to measure what it adds (no baseline is generated)",
    )
    args = parser.parse_args()
    model = fidelity.open_eval_model()
    result = fidelity.run_chitchat(
        model,
        speakers=args.speakers,
        contexts=args.contexts,
        seed=args.seed,
        max_tokens=args.max_tokens,
        progress=lambda line: print(line, file=sys.stderr, flush=True),
        ablation=args.ablate,
    )
    result["command"] = " ".join(["python", "scripts/bench_fidelity.py", *sys.argv[1:]])
    fidelity.write_result(result, args.out)
    print(json.dumps({"attribution": result["attribution"], "style_distance": result["style_distance"]}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
