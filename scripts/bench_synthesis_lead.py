"""When a spoken reply's later clauses are synthesized: held until the voice needs them, or at once.

    .venv/bin/python scripts/bench_synthesis_lead.py --json scripts/results/bench_synthesis_lead.json

The demo persona answers bench_contention's eight lines with a voice (Piper into a null speaker at
real-time pace), twice each, once with each setting of `SYNTHESIS_LEAD_S` in turn (the order
alternates, so a slow moment of the machine falls on both): the app's (a later clause is synthesized
once the voice has less than that left to say, or once the model has finished) and "at once" (the
behaviour before: as soon as the checks release it). Reported for each: the model's tokens/s in the
pipeline (with and without its pauses for a reply's first sound), how many tokens were computed while
Piper ran, and the voice's silences mid-reply.
"""

from __future__ import annotations

import argparse
import itertools
import os
import sys
import time
from pathlib import Path
from typing import Any

from bench_common import cpu_name, demo_with_voice, write_json  # scripts/ is on the path of a script run
from bench_contention import LINES, TokenTrace

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

AT_ONCE_S = 1e9  # "less than this left to say" always holds: synthesized as soon as it is released


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=2, help="times each line is answered with each setting")
    parser.add_argument("--json", type=Path, help="write the results here")
    args = parser.parse_args()
    settings, store, synth = demo_with_voice("bench-synthesis-lead-")

    from voice_app.conversation import turn
    from voice_app.conversation.conversation import Conversation, Voice
    from voice_app.llm.base import GenerationOptions
    from voice_app.speech.audio import NullSpeaker
    from voice_app.speech.stt import Transcriber

    speaker = NullSpeaker(rate=synth.sample_rate).open()
    voice = Voice(Transcriber.from_settings(settings, language="en"), synth, speaker)
    conversation = Conversation(store, "demo", settings=settings, voice=voice)
    conversation.warm_up()
    app_lead = turn.SYNTHESIS_LEAD_S

    settings_tried = {"held": app_lead, "at_once": AT_ONCE_S}
    rows: dict[str, list[dict[str, Any]]] = {name: [] for name in settings_tried}
    trace = TokenTrace()
    with trace.installed():
        for round_, (i, line) in itertools.product(range(args.rounds), enumerate(LINES)):
            order = list(settings_tried) if (i + round_) % 2 == 0 else list(reversed(settings_tried))
            for name in order:
                turn.SYNTHESIS_LEAD_S = settings_tried[name]  # type: ignore[misc]
                assert conversation.speculator is not None
                conversation.speculator.wait_idle()
                speaker.wait(10)
                time.sleep(0.3)
                trace.clear()
                options = GenerationOptions(max_tokens=40, temperature=0.7, seed=i + 10 * round_)
                conversation.respond(line, options)
                speaker.wait(10)
                stats = conversation.model.last_prompt  # type: ignore[attr-defined]
                rows[name].append(
                    {
                        "line": line,
                        "tokens": stats["generated"],
                        "generate_s": stats["generate_s"],
                        "gave_way_s": stats.get("gave_way_s", 0.0),
                        "tokens_beside_piper": sum(1 for _, beside in trace.tokens() if "tts" in beside),
                        "voice_waits_s": [round(w, 3) for w in speaker.state.waits],
                    }
                )
    turn.SYNTHESIS_LEAD_S = app_lead  # type: ignore[misc]
    conversation.close()
    store.close()

    summary: dict[str, Any] = {}
    for name, done in rows.items():
        tokens = sum(r["tokens"] for r in done)
        seconds = sum(r["generate_s"] for r in done)
        paused = sum(r["gave_way_s"] for r in done)
        waits = [w for r in done for w in r["voice_waits_s"]]
        summary[name] = {
            "lead_s": settings_tried[name] if name == "held" else None,
            "replies": len(done),
            "tokens": tokens,
            "pipeline_gen_tok_s": round(tokens / seconds, 1),
            "pipeline_gen_running_tok_s": round(tokens / (seconds - paused), 1),
            "tokens_beside_piper": sum(r["tokens_beside_piper"] for r in done),
            "voice_waits_over_0_2_s": sum(1 for w in waits if w > 0.2),
            "longest_voice_wait_s": max(waits, default=0.0),
        }
        print(name, summary[name], file=sys.stderr)
    out = {
        **summary,
        "turns": rows,
        "machine": {"cpu": cpu_name(), "cores": os.cpu_count()},
        "command": ".venv/bin/python scripts/bench_synthesis_lead.py " + " ".join(sys.argv[1:]),
    }
    if args.json:
        write_json(args.json, out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
