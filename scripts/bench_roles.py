#!/usr/bin/env python3
"""Role errors of the demo persona on a fixed set of user lines: the model alone, and as the app shows it.

    .venv/bin/python scripts/bench_roles.py --json scripts/results/bench_roles.json

Each line is answered by the embedded model as the first line of a session with the demo persona
(Alex, talking with Sam), twice: the model's own reply (`raw`), and the reply as the app shows it
(`shown`: the in-character guard with the role check, which asks again on a slip, then the style
adapter). A role error is any of the four slips `persona.roles` names: Alex addressed or spoken of
as someone else, Sam spoken of in the third person, the assistant register, the history denied.
The `shown` count uses the same detector that guards the reply, so it measures what gets past the
guard's bounded retries, not the detector's own misses: every reply is kept in the JSON to be read.
As in the app, a line a care check answers out of character ("who are you?") never reaches the model.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from bench_common import cpu_name  # scripts/ is on the path of a script run

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

# 60 lines Sam might say: the breakup, memories, identity, other people (he/she with a referent), small talk.
LINES = [
    "do you remember why we broke up?",
    "why did you stop answering my messages?",
    "was any of it real for you?",
    "do you still love me?",
    "who are you?",
    "are these even our real messages?",
    "do you remember the lake house?",
    "what was the worst part of us?",
    "did you ever miss me?",
    "I finally got the job",
    "I read that book you gave me",
    "my dad yelled at me again",
    "I met someone new, her name is Jo",
    "my brother says hi",
    "my mom asked about you",
    "do you think we could have made it?",
    "why did you leave?",
    "I'm not angry anymore",
    "tell me something only you would know",
    "what do you call me?",
    "say my name",
    "what would you tell me if you could say one thing?",
    "I found your letters",
    "do you still listen to our song?",
    "you hurt me",
    "I'm sorry for what I said that night",
    "was it my fault?",
    "are you happy now?",
    "what are you doing this weekend?",
    "I'm going back to porto next month",
    "do you remember the fight about money?",
    "I still have your blue jacket",
    "I think about you every day",
    "it's me, Sam",
    "remember our first date?",
    "why didn't you call on my birthday?",
    "my friend Dana thinks I should move on",
    "I got a dog",
    "I can't sleep",
    "what did you really think of my friends?",
    "did you cheat on me?",
    "I miss you",
    "goodbye Alex",
    "thank you for everything",
    "can we still be friends?",
    "you never listened to me",
    "what was your favourite memory of us?",
    "I'm moving to another city",
    "do you remember what you said at the station?",
    "I wanted to say goodbye properly",
    "is this really you?",
    "what would you change?",
    "I'm seeing a therapist now",
    "my sister says you were bad for me",
    "what did you like about me?",
    "do you regret it?",
    "how have you been?",
    "I saw you at the supermarket",
    "tell me about the last night we talked",
    "ok bye",
]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", type=Path, help="write the result here")
    parser.add_argument("--max-tokens", type=int, default=48)
    parser.add_argument("--limit", type=int, default=0, help="only the first N lines")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    import os
    import tempfile

    os.environ.setdefault("VOICE_APP_HOME", tempfile.mkdtemp(prefix="bench-roles-"))
    from voice_app import care
    from voice_app.conversation.importing import ensure_demo
    from voice_app.conversation.persona_data import build_prompt
    from voice_app.core import assets
    from voice_app.llm.base import GenerationOptions
    from voice_app.llm.embedded import EmbeddedChat
    from voice_app.persona.guard import in_character
    from voice_app.persona.prompt import in_their_words
    from voice_app.persona.roles import role_error
    from voice_app.storage.store import Store

    lines = LINES[: args.limit] if args.limit else LINES
    with Store.open_default() as store:
        ensure_demo(store)
        prompt = build_prompt(store, "demo")
    model = EmbeddedChat(assets.resolve("llm").path, seed=0)
    model.warm_up(prompt.prefix)
    # As the app does: the persona's own words nudged, and the care checks before the model.
    options = GenerationOptions(temperature=0.7, max_tokens=args.max_tokens, seed=args.seed, word_bias=prompt.word_bias)
    rows = []
    start = time.perf_counter()
    try:
        for line in lines:
            stepped_in = care.check_turn(line, them=prompt.them, country="US")
            if stepped_in is not None:  # answered out of character; the model never sees the line
                rows.append(
                    {"line": line, "care": stepped_in.kind, "raw": "", "raw_error": None, "shown": stepped_in.text}
                    | {"shown_error": None, "retries": 0, "empty": False}
                )
                print(f"{'care: ' + stepped_in.kind:18} 0 | {line!r} -> {stepped_in.text!r}", flush=True)
                continue
            messages = prompt.turn([], line).messages
            raw = "".join(model.stream(messages, options)).strip()
            retried: list[str] = []
            guarded = in_character(model, messages, options, None, prompt.them, retried, me=prompt.me, user_line=line)
            shown = "".join(in_their_words(guarded, prompt)).strip()
            raw_error = role_error(raw, them=prompt.them, me=prompt.me, user_line=line)
            shown_error = role_error(shown, them=prompt.them, me=prompt.me, user_line=line)
            rows.append(
                {
                    "line": line,
                    "raw": raw,
                    "raw_error": raw_error.kind if raw_error else None,
                    "shown": shown,
                    "shown_error": shown_error.kind if shown_error else None,
                    "retries": len(retried),
                    "empty": not shown,
                }
            )
            print(f"{(raw_error.kind if raw_error else '-'):18} {len(retried)} | {line!r} -> {shown!r}", flush=True)
    finally:
        model.close()
    n = len(rows)
    kinds: dict[str, int] = {}
    for row in rows:
        if row["raw_error"]:
            kinds[row["raw_error"]] = kinds.get(row["raw_error"], 0) + 1
    result = {
        "cpu": cpu_name(),
        "persona": "demo (Alex, talking with Sam)",
        "model": assets.resolve("llm").path.name,
        "seed": args.seed,
        "lines": n,
        "answered_out_of_character": sum(1 for r in rows if r.get("care")),
        "raw_role_errors": sum(1 for r in rows if r["raw_error"]),
        "raw_role_error_rate": round(sum(1 for r in rows if r["raw_error"]) / n, 4),
        "raw_by_kind": kinds,
        "shown_role_errors": sum(1 for r in rows if r["shown_error"]),
        "shown_role_error_rate": round(sum(1 for r in rows if r["shown_error"]) / n, 4),
        "shown_empty": sum(1 for r in rows if r["empty"]),
        "replies_asked_again": sum(1 for r in rows if r["retries"]),
        "seconds": round(time.perf_counter() - start, 1),
        "rows": rows,
    }
    text = json.dumps(result, ensure_ascii=False, indent=2)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(text + "\n", encoding="utf-8")
    print(json.dumps({k: v for k, v in result.items() if k != "rows"}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
