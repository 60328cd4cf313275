"""Where in-pipeline generation speed goes: the model alone (two threads, one), typed turns through the
whole pipeline without a voice and with one, and each token of the voiced replies by what computed
beside it (Piper, the sentence encoder).

    .venv/bin/python scripts/bench_contention.py --json scripts/results/bench_contention.json

The demo persona, eight ordinary lines, 40 tokens at most, the embedded defaults. A token is timed from
one of the model's per-token thread checks to the next; it "overlaps" a stage when that stage's work
(`LOAD.busy`) began before the token ended and ended after it began.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import os
import statistics
import sys
import time
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from bench_common import cpu_name, demo_with_voice, write_json  # scripts/ is on the path of a script run

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

LINES = [
    "do you remember the lake house?",
    "why did you stop answering my messages?",
    "was any of it real for you?",
    "i found the letters you wrote me",
    "do you still listen to that song?",
    "i wanted to say goodbye properly",
    "what would you tell me if you could say one thing",
    "did you ever miss me after you left?",
]


def rate(tokens: int, seconds: float) -> float:
    return round(tokens / seconds, 1) if seconds > 0 else 0.0


class TokenTrace:
    """While installed, a stamp at each of the model's per-token thread checks and each heavy stage's
    busy span (`LOAD.busy`); `clear()` before a reply, `tokens()` after it."""

    def __init__(self) -> None:
        self.stamps: list[float] = []
        self.spans: list[tuple[str, float, float]] = []

    @contextlib.contextmanager
    def installed(self) -> Iterator[TokenTrace]:
        from voice_app.core.compute import LOAD
        from voice_app.llm.embedded import EmbeddedChat

        fit_threads, busy = EmbeddedChat._fit_threads, LOAD.busy

        def stamped(model: EmbeddedChat) -> None:
            self.stamps.append(time.perf_counter())
            fit_threads(model)

        @contextlib.contextmanager
        def recorded(stage: str) -> Iterator[None]:
            began = time.perf_counter()
            with busy(stage):
                yield
            self.spans.append((stage, began, time.perf_counter()))

        EmbeddedChat._fit_threads = stamped  # type: ignore[method-assign]
        LOAD.busy = recorded  # type: ignore[method-assign]
        try:
            yield self
        finally:
            EmbeddedChat._fit_threads = fit_threads  # type: ignore[method-assign]
            LOAD.busy = busy  # type: ignore[method-assign]

    def clear(self) -> None:
        self.stamps.clear()
        self.spans.clear()

    def tokens(self) -> list[tuple[float, list[str]]]:
        """Each token's seconds and the stages that computed while it did (the first stamp precedes
        the prompt read)."""
        return [
            (end - start, sorted({stage for stage, a, b in self.spans if a < end and b > start}))
            for start, end in itertools.pairwise(self.stamps[1:])
        ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--json", type=Path, help="write the results here")
    args = parser.parse_args()
    settings, store, synth = demo_with_voice("bench-contention-")

    from voice_app.conversation.conversation import Conversation, Voice
    from voice_app.core.compute import LOAD
    from voice_app.llm.base import GenerationOptions
    from voice_app.llm.embedded import EmbeddedChat
    from voice_app.speech.audio import NullSpeaker
    from voice_app.speech.stt import Transcriber

    options = GenerationOptions(max_tokens=40, temperature=0.7, seed=1)
    results: dict[str, Any] = {}

    # The model alone, short replies to the same lines, on two threads and on one.
    text_only = Conversation(store, "demo", settings=settings, options=options)
    text_only.warm_up()
    model = text_only.model
    assert isinstance(model, EmbeddedChat)
    prefix = text_only.prompt.prefix
    others_busy = LOAD.others_busy
    for threads in (model._llm.n_threads, 1):
        if threads == 1:  # as when another stage computes: the model gives up a core
            LOAD.others_busy = lambda threads=None: True  # type: ignore[method-assign]
        rates = []
        for i, line in enumerate(LINES):
            model.warm_up(prefix)
            short = GenerationOptions(max_tokens=32, temperature=0.7, seed=i)
            list(model.stream([*prefix, {"role": "user", "content": line}], short))
            stats = model.last_prompt
            rates.append(rate(stats["generated"], stats["generate_s"]))
        LOAD.others_busy = others_busy  # type: ignore[method-assign]
        results[f"alone_{threads}_threads_tok_s"] = statistics.median(rates)
        print(f"model alone, {threads} thread(s): {statistics.median(rates)} tokens/s {rates}", file=sys.stderr)
    model.warm_up(prefix)

    trace = TokenTrace()  # per-token stamps and the other stages' busy spans

    def turns(conversation: Conversation, label: str) -> None:
        rates, tokens = [], defaultdict(list)
        for line in LINES:
            assert conversation.speculator is not None
            conversation.speculator.wait_idle()
            time.sleep(0.3)
            trace.clear()
            conversation.respond(line)
            stats = conversation.model.last_prompt  # type: ignore[attr-defined]
            if stats["generated"] >= 3:
                rates.append(rate(stats["generated"], stats["generate_s"]))
            for seconds, beside in trace.tokens():
                tokens["+".join(beside) or "nothing"].append(round(seconds * 1000, 1))
        results[f"{label}_tok_s"] = statistics.median(rates)
        results[f"{label}_tokens_ms"] = {
            k: {"tokens": len(v), "mean_ms": round(statistics.mean(v), 1), "median_ms": statistics.median(v)}
            for k, v in tokens.items()
        }
        print(f"{label}: {statistics.median(rates)} tokens/s {rates}", file=sys.stderr)
        print(json.dumps(results[f"{label}_tokens_ms"]), file=sys.stderr)

    with trace.installed():
        turns(text_only, "typed_no_voice")
        text_only.close()
        speaker = NullSpeaker(rate=synth.sample_rate).open()
        voice = Voice(Transcriber.from_settings(settings, language="en"), synth, speaker)
        voiced = Conversation(store, "demo", settings=settings, options=options, voice=voice)
        voiced.warm_up()
        turns(voiced, "typed_with_voice")
    voiced.close()
    store.close()

    out = {
        **results,
        "machine": {"cpu": cpu_name(), "cores": os.cpu_count()},
        "command": ".venv/bin/python scripts/bench_contention.py " + " ".join(sys.argv[1:]),
    }
    print(json.dumps(out, indent=1))
    if args.json:
        write_json(args.json, out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
