#!/usr/bin/env python3
"""Voice-to-voice latency measured from outside, per stage, against the model's own speed in the same run.

    .venv/bin/python scripts/bench_latency.py [--json PATH] [--mode push_to_talk|hands_free]
                                              [--stt whisper-base] [--max-tokens 40] [--limit N]

A private PulseAudio daemon gives the app a virtual microphone and speaker, and an observer that
hears both on one clock: the user's speech (played into the microphone) on its left channel, the
app's voice on its right. Each utterance (8 Piper, 3 espeak-ng; the demo persona, one
conversation) is played into the microphone; in push-to-talk the key is released the moment the
speech has been played (no head start); in hands-free the app's own voice activity detection
decides. Voice to voice = from the end of the speech to the first reply sample, both read off the
observer's recording, as a person in the room would time it. The app's internal stage timeline is
kept beside it, per turn.

In the same run, before the conversation, the model alone: prompt reading and generation speeds
and the first token after a cached prefix, nothing else computing (`raw_*`); then the same rates
inside the pipeline (`pipeline_*`) and their ratio. A turn reads only the last 7–15 prompt tokens,
which batch worse than a long line: `raw_tail_prompt_tok_s` is the model alone reading a tail that
short, and `tail_prompt_speed_ratio` the like-for-like ratio. The sequential baseline (transcribe all →
whole reply → whole TTS) runs on the same models and cache state after each turn, timed inside
the process.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import queue
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from bench_common import LogLines, cpu_name, pct  # scripts/ is on the path of a script run

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.virtual_audio import RATE, read_wav, sound_regions, start_pulse, write_wav  # noqa: E402

PIPER_LINES = [
    "Hey, do you remember the lake house we rented that summer?",
    "Why did you stop answering my messages?",
    "I think I just needed to hear you say it.",
    "Was any of it real for you?",
    "I found the letters you wrote me last week.",
    "Do you still listen to that song we loved?",
    "I'm not angry anymore, I just want to understand.",
    "What would you tell me if you could say one thing?",
]
ESPEAK_LINES = [
    "Did you ever miss me after you left?",
    "I wanted to say goodbye properly.",
    "Tell me about the last night we talked.",
]
SPEECH_THRESHOLD = 0.02  # what the observer counts as sound (tests.virtual_audio.sound_regions)
LONG_LINE = " ".join(["I keep thinking about the summer at the lake house and everything we said there."] * 12)
# A turn reads only the last few prompt tokens (the rest was read while the user spoke): the model
# alone reading a tail that short, the line and the template's end, is the like-for-like comparison.
SHORT_LINE = "do you remember?"


def espeak(text: str, path: Path) -> np.ndarray | None:
    if shutil.which("espeak-ng") is None:
        return None
    subprocess.run(["espeak-ng", "-v", "en-us", "-s", "150", "-w", str(path), text], check=True)
    from voice_app.cli.talk import load_wav

    return load_wav(path)


def to_speech_end(audio: np.ndarray) -> np.ndarray:
    """The clip up to its last sound the observer hears as speech (+10 ms): played whole, the key is
    released as the speech ends, not after the quiet tail a silence trimmer keeps."""
    loud = np.flatnonzero(np.abs(audio) > SPEECH_THRESHOLD)
    return audio[: int(loud[-1]) + 1 + RATE // 100] if len(loud) else audio


def gap(line: dict[str, float], start: str, end: str) -> float | None:
    if start not in line or end not in line:
        return None
    return round(line[end] - line[start], 4)


def raw_speeds(model: Any, prefix: list[dict[str, str]], repeats: int = 3) -> dict[str, float]:
    """The model alone, nothing else computing: prompt tok/s, generation tok/s, first token after the prefix."""
    from voice_app.llm.base import GenerationOptions

    read, generate, first, tail, tail_tokens = [], [], [], [], []
    for i in range(repeats):
        model.warm_up(prefix)
        list(model.stream([*prefix, {"role": "user", "content": LONG_LINE}], GenerationOptions(max_tokens=1, seed=i)))
        stats = model.last_prompt
        read.append(stats["read"] / max(stats["first_token_s"], 1e-6))
        model.warm_up(prefix)
        list(model.stream([*prefix, {"role": "user", "content": SHORT_LINE}], GenerationOptions(max_tokens=1, seed=i)))
        stats = model.last_prompt
        tail.append(stats["read"] / max(stats["first_token_s"], 1e-6))
        tail_tokens.append(stats["read"])
        model.warm_up(prefix)
        story = [*prefix, {"role": "user", "content": "tell me everything you remember about the lake, in detail"}]
        list(model.stream(story, GenerationOptions(max_tokens=64, temperature=0.7, seed=i)))
        stats = model.last_prompt
        if stats["generated"] >= 8:
            generate.append(stats["generated"] / max(stats["generate_s"], 1e-6))
        first.append(stats["first_token_s"])
    model.warm_up(prefix)
    return {
        "raw_prompt_tok_s": round(float(np.median(read)), 1),
        "raw_gen_tok_s": round(float(np.median(generate)), 1) if generate else 0.0,
        "raw_first_token_s": round(float(np.median(first)), 3),
        "raw_tail_prompt_tok_s": round(float(np.median(tail)), 1),  # reading a turn's last few tokens
        "raw_tail_read_tokens": int(np.median(tail_tokens)),
    }


def observed(recording: np.ndarray, turns: int) -> list[dict[str, float | None]]:
    """Per utterance, from the observer's recording: end of the user's speech, start of the reply."""
    user = sound_regions(recording[:, 0])
    reply = sound_regions(recording[:, 1], gap_s=1.5)
    out: list[dict[str, float | None]] = []
    for k, (start, end) in enumerate(user[:turns]):
        following = user[k + 1][0] if k + 1 < len(user) else float("inf")
        onset = next((r for r, _ in reply if end < r < following), None)
        out.append({"speech_start": start, "speech_end": end, "reply_start": onset})
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--json", type=Path, help="write the results here")
    parser.add_argument("--mode", choices=["push_to_talk", "hands_free"], default="push_to_talk")
    parser.add_argument("--stt", default="", help="stt.model (default: auto, tiny.en for the English demo)")
    parser.add_argument("--max-tokens", type=int, default=40)
    parser.add_argument("--limit", type=int, default=0, help="use only the first N utterances")
    parser.add_argument("--sentence-end-ms", type=int, default=None, help="audio.sentence_end_ms (hands-free)")
    args = parser.parse_args()

    home = Path(tempfile.mkdtemp(prefix="bench-latency-"))
    os.environ["VOICE_APP_HOME"] = str(home)
    pulse, why = start_pulse(observer=True)
    if pulse is None:
        print(f"This benchmark needs PulseAudio's virtual devices: {why}", file=sys.stderr)
        return 2
    pulse.use_in_this_process()

    from voice_app.conversation import listening
    from voice_app.conversation.conversation import Conversation, Voice
    from voice_app.conversation.importing import ensure_demo
    from voice_app.core import config
    from voice_app.core.signal import resample
    from voice_app.llm.base import GenerationOptions
    from voice_app.speech.audio import NullSpeaker, Speaker
    from voice_app.speech.stt import Transcriber
    from voice_app.speech.tts import Synthesizer
    from voice_app.speech.vad import trim_silence
    from voice_app.storage.store import Store

    settings = config.Settings()
    settings.llm.backend = "embedded"
    settings.audio.input_device = "pulse"
    settings.audio.output_device = "pulse"
    if args.stt:
        settings.stt.model = args.stt
    if args.sentence_end_ms is not None:
        settings.audio.sentence_end_ms = args.sentence_end_ms
    synth = Synthesizer.from_settings(settings)
    transcriber = Transcriber.from_settings(settings, language="en")

    utterances: list[tuple[str, str, Path]] = []
    for i, text in enumerate(PIPER_LINES):
        audio = to_speech_end(trim_silence(resample(synth.synthesize(text), synth.sample_rate, RATE)))
        utterances.append(("piper", text, write_wav(home / f"piper{i}.wav", audio)))
    for i, text in enumerate(ESPEAK_LINES):
        audio = espeak(text, home / f"espeak{i}-raw.wav")
        if audio is not None:
            utterances.append(
                ("espeak-ng", text, write_wav(home / f"espeak{i}.wav", to_speech_end(trim_silence(audio))))
            )
    if args.limit:
        utterances = utterances[: args.limit]

    store = Store(home / "bench.sqlite3")
    ensure_demo(store)
    options = GenerationOptions(max_tokens=args.max_tokens, temperature=0.7, seed=1)
    speaker = Speaker("pulse", rate=synth.sample_rate).open()
    pipe = Conversation(store, "demo", settings=settings, options=options, voice=Voice(transcriber, synth, speaker))
    print("warming up ...", file=sys.stderr)
    warm = pipe.warm_up()
    raw = raw_speeds(pipe.model, pipe.prompt.prefix)
    print(f"warm-up {json.dumps({k: round(v, 2) for k, v in warm.items()})}; model alone {raw}", file=sys.stderr)
    pipe.speculator.after_turn()  # the history (none yet) is read again, as after warm_up

    heard: queue.Queue[Any] = queue.Queue()
    recorder = listening.push_to_talk(pipe, settings) if args.mode == "push_to_talk" else None
    hands = listening.hands_free(pipe, settings, heard.put).open() if args.mode == "hands_free" else None
    observer_path = home / "observer.wav"
    observer = pulse.record_observer(observer_path)
    time.sleep(1.0)  # the observer's stream is running before the first word

    rows = []
    quiet = NullSpeaker(rate=synth.sample_rate).open()  # the baseline is timed inside, not heard
    for voice, text, wav in utterances:
        pipe.speculator.wait_idle()
        time.sleep(0.5)
        history = list(pipe.history)
        calls = pipe.model.stream_calls  # replies asked for from here on (an early one included)
        # what the role check asked again for, and what the reply check stopped, with why
        checks_log = LogLines("voice_app.persona.guard", "voice_app.care.reply").attach()
        if recorder is not None:
            recorder.start()  # the key goes down as the user starts speaking
            pulse.play_into_mic(wav)
            utterance = recorder.stop()  # …and comes up the moment the speech has been played
        else:
            pulse.play_into_mic(wav)
            utterance = heard.get(timeout=30)
        released = time.perf_counter()
        record = pipe.start_turn(utterance).wait(120)
        speaker.wait(60)
        waits = list(speaker.state.waits)  # where the voice went silent mid-reply, waiting for audio
        split = 0  # hands-free cut the line in two (or more): the parts after the first are not answered
        while True:
            try:
                heard.get_nowait()
            except queue.Empty:
                break
            split += 1
        line = record.timeline
        stats = dict(pipe.model.last_prompt)
        asked = pipe.model.stream_calls - calls
        checks_log.detach()

        # The sequential baseline from the same cache state: transcribe all → whole reply → whole TTS.
        pipe.speculator.wait_idle()
        pipe.model.warm_up(pipe.prompt.prefix)
        pipe.model.prefill([*pipe.prompt.with_history(history), {"role": "user", "content": ""}])
        t0 = time.perf_counter()
        said = transcriber.transcribe(trim_silence(utterance.audio), language="en").text
        t_stt = time.perf_counter()
        messages = pipe.prompt.turn(history, said).messages
        from voice_app.persona.guard import in_character
        from voice_app.persona.prompt import in_their_words

        guarded = in_character(pipe.model, messages, options, None, pipe.prompt.them, me=pipe.prompt.me)
        reply = "".join(in_their_words(guarded, pipe.prompt)).strip()
        t_llm = time.perf_counter()
        wave = synth.synthesize(reply)
        t_tts = time.perf_counter()
        quiet.begin()
        quiet.play(wave[: synth.sample_rate // 10])
        quiet.wait()
        pipe.speculator.after_turn(record.transcript, record.reply)
        rows.append(
            {
                "voice": voice,
                "said": text,
                "transcript": record.transcript,
                "reply": record.reply,
                "internal_v2v_s": line.get("first_audio_out"),
                "release_to_turn_s": round(released - utterance.speech_end_at, 4),
                "stt_final_s": line.get("transcript_final"),
                "llm_first_token_s": gap(line, "transcript_final", "first_token"),
                "first_clause_s": gap(line, "first_token", "first_clause"),
                "tts_first_chunk_s": gap(line, "first_clause", "first_audio"),
                "to_output_s": gap(line, "first_audio", "first_audio_out"),
                "examples_used": int(record.stt.get("examples", 0)),
                "preemptive": record.stt.get("preemptive"),  # 1: started in the silence and kept, 0: redone
                "split": split,
                "voice_waits_s": [round(w, 3) for w in waits],
                "turn_start_s": line.get("turn_start"),  # hands-free: the held reply began (the pass settled)
                "checked_s": line.get("checked"),  # care checks and prompt done
                "llm_start_s": line.get("llm_start"),
                "prompt_tokens": stats.get("tokens"),
                "prompt_tokens_read_at_reply": stats.get("read"),
                "model_first_token_s": stats.get("first_token_s"),
                "generated_tokens": stats.get("generated"),
                "generate_s": stats.get("generate_s"),
                "contended_tokens": stats.get("contended_tokens"),
                "model_gave_way": stats.get("gave_way"),  # stopped while the first sound was synthesized
                "model_gave_way_s": stats.get("gave_way_s"),  # …for so long (inside generate_s)
                "model_calls": asked,  # more than 1: the role check asked again
                "checks": checks_log.lines,  # what the role check replaced or the reply screen stopped, and why
                "last_call_at_s": round(stats["started_at"] - utterance.speech_end_at, 4)
                if "started_at" in stats
                else None,
                "last_call_first_token_at_s": round(stats["first_token_at"] - utterance.speech_end_at, 4)
                if stats.get("first_token_at")
                else None,
                "sequential_s": round(t_tts - t0 + (quiet.state.first_sample_at or t_tts) - t_tts, 4),
                "sequential_stages": {
                    "stt_s": round(t_stt - t0, 4),
                    "llm_s": round(t_llm - t_stt, 4),
                    "tts_s": round(t_tts - t_llm, 4),
                },
            }
        )
        print(
            f"{voice:9} internal v2v {line.get('first_audio_out', float('nan')):.2f}s read {stats.get('read')}"
            f" ttft {stats.get('first_token_s')} gen {stats.get('generated')}/{stats.get('generate_s')}s"
            f" | {record.transcript!r} -> {record.reply!r}",
            file=sys.stderr,
        )
    time.sleep(1.0)
    observer.terminate()
    observer.wait(10)
    for part in (recorder, hands):
        if part is not None:
            part.close()
    pipe.close()
    store.close()

    timing = observed(read_wav(observer_path), len(rows))
    for row, seen in zip(rows, timing, strict=False):
        row["observed"] = seen
        end, start = seen["speech_end"], seen["reply_start"]
        row["v2v_s"] = round(start - end, 4) if end is not None and start is not None else None
    pulse.stop()

    v2v = [r["v2v_s"] for r in rows if r.get("v2v_s") is not None]
    early = [r["preemptive"] for r in rows if r["preemptive"] is not None]
    kept = [1 for value in early if value == 1.0]
    seqs = [r["sequential_s"] for r in rows]
    prompt_rates = [
        r["prompt_tokens_read_at_reply"] / r["model_first_token_s"]
        for r in rows
        if (r["prompt_tokens_read_at_reply"] or 0) >= 8 and r["model_first_token_s"]
    ]
    gen_rates = [
        r["generated_tokens"] / r["generate_s"] for r in rows if (r["generated_tokens"] or 0) >= 4 and r["generate_s"]
    ]
    # The same rate over the time the model computed: less the seconds it stood aside while a reply's
    # first sound was synthesized on every core (the voice's time, by design, not a slower model).
    running_rates = [
        r["generated_tokens"] / (r["generate_s"] - (r.get("model_gave_way_s") or 0.0))
        for r in rows
        if (r["generated_tokens"] or 0) >= 4 and r["generate_s"] and r["generate_s"] > (r.get("model_gave_way_s") or 0)
    ]
    pipeline = {
        "pipeline_prompt_tok_s": round(float(np.median(prompt_rates)), 1) if prompt_rates else None,
        "pipeline_gen_tok_s": round(float(np.median(gen_rates)), 1) if gen_rates else None,
        "pipeline_gen_running_tok_s": round(float(np.median(running_rates)), 1) if running_rates else None,
    }
    stage_names = ["stt_final_s", "llm_first_token_s", "first_clause_s", "tts_first_chunk_s", "to_output_s"]
    stages = {}
    for name in stage_names:
        values = [r[name] for r in rows if r[name] is not None]
        stages[name] = {"p50": pct(values, 50), "p95": pct(values, 95)}
    results: dict[str, Any] = {
        "mode": args.mode,
        "v2v_p50_s": pct(v2v, 50),
        "v2v_p95_s": pct(v2v, 95),
        "internal_v2v_p50_s": pct([r["internal_v2v_s"] for r in rows if r["internal_v2v_s"] is not None], 50),
        "sequential_p50_s": pct(seqs, 50),
        "sequential_p95_s": pct(seqs, 95),
        "speedup": round(float(np.median(seqs)) / float(np.median(v2v)), 2) if v2v else None,
        **raw,
        **pipeline,
        "prompt_speed_ratio": round(pipeline["pipeline_prompt_tok_s"] / raw["raw_prompt_tok_s"], 2)
        if pipeline["pipeline_prompt_tok_s"]
        else None,
        "tail_prompt_speed_ratio": round(pipeline["pipeline_prompt_tok_s"] / raw["raw_tail_prompt_tok_s"], 2)
        if pipeline["pipeline_prompt_tok_s"] and raw["raw_tail_prompt_tok_s"]
        else None,
        "gen_speed_ratio": round(pipeline["pipeline_gen_tok_s"] / raw["raw_gen_tok_s"], 2)
        if pipeline["pipeline_gen_tok_s"] and raw["raw_gen_tok_s"]
        else None,
        "gen_running_speed_ratio": round(pipeline["pipeline_gen_running_tok_s"] / raw["raw_gen_tok_s"], 2)
        if pipeline["pipeline_gen_running_tok_s"] and raw["raw_gen_tok_s"]
        else None,
        "model_gave_way_s_p50": pct([r["model_gave_way_s"] for r in rows if r.get("model_gave_way")], 50),
        "preemptive_kept": round(sum(kept) / len(rows), 2) if rows else None,
        "lines_split": sum(1 for r in rows if r["split"]),
        "preemptive": {"kept": sum(kept), "redone": len(early) - sum(kept), "turns": len(rows)},
        "stages": stages,
        # Mid-reply silences where the speaker had nothing to play (the voice waited for the model).
        "voice_waits": {
            "replies_with_a_wait_over_0_2_s": sum(1 for r in rows if any(w > 0.2 for w in r["voice_waits_s"])),
            "total_s_p50": pct([sum(r["voice_waits_s"]) for r in rows], 50),
            "total_s_p95": pct([sum(r["voice_waits_s"]) for r in rows], 95),
            "longest_s": max((w for r in rows for w in r["voice_waits_s"]), default=0.0),
        },
        "prompt_tokens_read_at_reply": {
            "p50": pct([r["prompt_tokens_read_at_reply"] for r in rows], 50),
            "p95": pct([r["prompt_tokens_read_at_reply"] for r in rows], 95),
        },
        "targets": {"v2v_p50_s": 0.6, "v2v_p95_s": 1.0, "speedup": 3.0, "speed_ratio": 0.9},
        "n": len(rows),
        "silent_replies": len(rows) - len(v2v),
        "models": {"stt": settings.stt.model, "tts": settings.tts.voice, "llm": settings.llm.embedded_model},
        "max_tokens": args.max_tokens,
        "sentence_end_ms": settings.audio.sentence_end_ms,
        "end_silence_ms": settings.audio.end_silence_ms,
        "machine": {
            "cpu": cpu_name(),
            "llama_cpu_code": getattr(getattr(pipe.model, "cpu", None), "variant", None),
            "cpus": os.cpu_count(),
            "load_avg_at_end": [round(x, 2) for x in os.getloadavg()],
            "python": platform.python_version(),
        },
        "command": " ".join([".venv/bin/python", "scripts/bench_latency.py", *sys.argv[1:]]),
        "turns": rows,
    }
    print(f"\n{'stage (internal timeline)':28} {'p50 s':>8} {'p95 s':>8}")
    for name, vals in stages.items():
        p50, p95 = (float("nan") if v is None else v for v in (vals["p50"], vals["p95"]))  # 0.0 is a figure
        print(f"{name:28} {p50:8.3f} {p95:8.3f}")
    print(
        f"{'voice to voice (observed)':28} {results['v2v_p50_s'] or float('nan'):8.3f}"
        f" {results['v2v_p95_s'] or float('nan'):8.3f}"
    )
    print(f"{'sequential baseline':28} {results['sequential_p50_s']:8.3f} {results['sequential_p95_s']:8.3f}")
    print(
        f"speedup {results['speedup']}x; model alone: prompt {raw['raw_prompt_tok_s']} tok/s, generation"
        f" {raw['raw_gen_tok_s']} tok/s; in the pipeline: {pipeline['pipeline_prompt_tok_s']} /"
        f" {pipeline['pipeline_gen_tok_s']} tok/s ({pipeline['pipeline_gen_running_tok_s']} less the pauses for"
        f" a first sound); n={len(rows)}"
    )
    print(
        f"prompt tail: the model alone reads {raw['raw_tail_read_tokens']} tokens at {raw['raw_tail_prompt_tok_s']}"
        f" tok/s; the pipeline's tails at {pipeline['pipeline_prompt_tok_s']} ({results['tail_prompt_speed_ratio']}×)"
    )
    print(f"voice waits mid-reply: {results['voice_waits']}")
    if results["lines_split"]:
        print(f"{results['lines_split']} line(s) were cut in two by the endpoint: their turns answered a part")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        tmp = args.json.with_suffix(".tmp")
        tmp.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n")
        os.replace(tmp, args.json)
        print(f"wrote {args.json}")
    shutil.rmtree(home, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
