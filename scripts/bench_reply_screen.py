#!/usr/bin/env python3
"""How often the reply check stops ordinary replies the model wrote, streamed as a turn streams them.

    .venv/bin/python scripts/bench_reply_screen.py --json scripts/results/bench_reply_screen.json

The replies are the ones the embedded model wrote to `scripts/bench_roles.py`'s 60 ordinary lines
(its result files named by `--roles`, both the model's own reply and the one the app showed), not
lines written for this check. Each is streamed a word at a time, as the model's tokens come, through
the role check (which passes a reply on clause by clause, as in a turn) into the reply check
(`care.reply.ReplyScreen`). None of them encourages or describes self-harm, so every stop is a false
alarm: each is listed with the clause, what came before it, and its score, to be read.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from bench_common import LogLines, cpu_name, write_json  # scripts/ is on the path of a script run

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

ROLES = [f"scripts/results/bench_roles_ninth_seed{seed}.json" for seed in (0, 1, 2)]


class Replies:
    """A chat model that writes a fixed reply a word at a time (the same reply if asked again)."""

    def __init__(self, reply: str) -> None:
        self.reply = reply

    def stream(self, messages: object, options: object = None, cancel: object = None) -> Iterator[str]:
        for i, word in enumerate(self.reply.split(" ")):
            yield word if i == 0 else " " + word


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--roles", nargs="+", default=ROLES, help="bench_roles.py result files")
    parser.add_argument("--json", type=Path, help="write the result here")
    args = parser.parse_args()

    from voice_app.care.reply import ReplyScreen
    from voice_app.llm.base import GenerationOptions
    from voice_app.persona.guard import in_character

    replies: list[tuple[str, str]] = []  # (the user's line, the reply)
    for name in args.roles:
        rows = json.loads((ROOT / name).read_text(encoding="utf-8"))["rows"]
        for row in rows:
            if row.get("care"):  # answered out of character: no reply was written
                continue
            for key in ("raw", "shown"):
                if row.get(key, "").strip():
                    replies.append((row["line"], row[key]))
    stops = LogLines("voice_app.care.reply").attach()  # which clause it stopped, after what, the score
    stopped = []
    started = time.perf_counter()
    for line, reply in replies:
        messages = [{"role": "user", "content": line}]
        guarded = in_character(Replies(reply), messages, GenerationOptions(seed=1), None, "Alex", me="Sam")  # type: ignore[arg-type]
        screen = ReplyScreen()
        stops.lines.clear()
        passed = "".join(screen.screen(guarded))
        if screen.harmful is not None:
            stopped.append(
                {
                    "line": line,
                    "reply": reply,
                    "passed": passed,
                    "by": screen.harmful.by,
                    "score": round(screen.harmful.score or 0.0, 3),
                    "why": stops.lines[-1] if stops.lines else "",
                }
            )
            print(f"{screen.harmful.score or 0:.2f} {line!r} -> {reply!r} (passed: {passed!r})", flush=True)
    seconds = time.perf_counter() - started
    out = {
        "replies": len(replies),
        "stopped": len(stopped),
        "stopped_rate": round(len(stopped) / max(1, len(replies)), 4),
        "stops": stopped,
        "roles_files": args.roles,
        "seconds": round(seconds, 1),
        "machine": {"cpu": cpu_name()},
        "command": ".venv/bin/python scripts/bench_reply_screen.py " + " ".join(sys.argv[1:]),
    }
    print(f"{len(stopped)} of {len(replies)} ordinary replies stopped ({seconds:.1f} s)")
    if args.json:
        write_json(args.json, out, ensure_ascii=False)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
