#!/usr/bin/env python3
"""Voice-to-voice latency of the turn pipeline against the sequential baseline, on the embedded models.

    python scripts/bench_latency.py [--json PATH] [--stt whisper-base] [--max-tokens 80] [--no-pulse]

Utterances are synthesized with Piper (plus a few espeak-ng ones, a different voice), fed into the
push-to-talk Recorder in real time as if spoken (the key is released 0.3 s after the speech), and
answered by the demo persona with the embedded defaults. Voice-to-voice = from the release (end of
speech) to the first reply sample written to the output stream: the PulseAudio virtual speaker
when a daemon can be started here, else a null output played at real-time pace (the JSON says
which). In the same run, each utterance is also answered sequentially on the same models:
transcribe all → whole reply → whole TTS → play. Both use the same seed, and the history is
kept: the utterances are one conversation, and each turn starts from the same cache state in both
pipelines (the history so far evaluated).
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
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

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


def start_pulse() -> tuple[subprocess.Popen[bytes] | None, str]:
    """A private PulseAudio daemon with a null sink `vspeaker` (the recipe in the test fixture)."""
    if shutil.which("pulseaudio") is None or shutil.which("pactl") is None:
        return None, "pulseaudio is not installed"
    runtime = Path(tempfile.mkdtemp(prefix="bench-pulse-"))
    (runtime / "pulse").mkdir(mode=0o700)
    socket = runtime / "pulse" / "native"
    env = {**os.environ, "XDG_RUNTIME_DIR": str(runtime), "HOME": str(runtime), "PULSE_SERVER": f"unix:{socket}"}
    proc = subprocess.Popen(
        [
            "pulseaudio",
            "--daemonize=no",
            "--exit-idle-time=-1",
            "-n",
            f"--load=module-native-protocol-unix auth-anonymous=1 socket={socket}",
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    for _ in range(100):
        if subprocess.run(["pactl", "info"], env=env, capture_output=True).returncode == 0:
            break
        if proc.poll() is not None:
            return None, f"pulseaudio exited with status {proc.returncode}"
        time.sleep(0.1)
    else:
        proc.kill()
        return None, "pulseaudio did not answer"
    for cmd in (
        ["load-module", "module-null-sink", "sink_name=vspeaker", "rate=22050", "channels=1", "norewinds=1"],
        ["set-default-sink", "vspeaker"],
    ):
        subprocess.run(["pactl", *cmd], env=env, capture_output=True, check=True)
    os.environ.update({k: env[k] for k in ("XDG_RUNTIME_DIR", "PULSE_SERVER")})
    return proc, ""


def espeak(text: str, path: Path) -> np.ndarray | None:
    if shutil.which("espeak-ng") is None:
        return None
    subprocess.run(["espeak-ng", "-v", "en-us", "-s", "150", "-w", str(path), text], check=True)
    from voice_app.cli.talk import load_wav

    return load_wav(path)


def whole_reply(pipe, messages, options) -> str:  # type: ignore[no-untyped-def]
    """The reply the streamed turn would give (same guard, cleaner and style adapter), all at once."""
    from voice_app.persona.guard import in_character
    from voice_app.persona.prompt import in_their_words

    prompt = pipe.prompt
    return "".join(
        in_their_words(in_character(pipe.model, messages, options, None, prompt.them, me=prompt.me), prompt)
    ).strip()


# The turn's stages, timed from the end of speech: voice to voice, then each step to the next.
stage_names = ["v2v_s", "stt_final_s", "llm_first_token_s", "first_clause_s", "tts_first_chunk_s", "to_output_s"]


def gap(line: dict[str, float], start: str, end: str) -> float | None:
    """Seconds from one timeline event to another; None when the turn never reached one of them."""
    if start not in line or end not in line:
        return None
    return round(line[end] - line[start], 4)


def pct(values: list[float], q: float) -> float:
    return round(float(np.percentile(values, q)), 3) if values else float("nan")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--json", type=Path, help="write the results here")
    parser.add_argument("--stt", default="", help="stt.model (default: the setting's default, whisper-base)")
    parser.add_argument("--max-tokens", type=int, default=80)
    parser.add_argument("--limit", type=int, default=0, help="use only the first N utterances")
    parser.add_argument("--no-pulse", action="store_true", help="play into a null output")
    parser.add_argument(
        "--examples", choices=["ready", "all"], default="", help="llm.voice_examples (default: the setting's, ready)"
    )
    args = parser.parse_args()

    home = Path(tempfile.mkdtemp(prefix="bench-latency-"))
    os.environ["VOICE_APP_HOME"] = str(home)
    pulse, why = (None, "--no-pulse") if args.no_pulse else start_pulse()

    from voice_app.conversation.conversation import Conversation, Voice
    from voice_app.conversation.importing import ensure_demo
    from voice_app.core import config
    from voice_app.core.signal import resample
    from voice_app.core.types import TurnDone
    from voice_app.llm.base import GenerationOptions
    from voice_app.speech.audio import RATE, ArraySource, NullSpeaker, Speaker
    from voice_app.speech.recorder import Recorder
    from voice_app.speech.stt import Transcriber
    from voice_app.speech.tts import Synthesizer
    from voice_app.speech.vad import trim_silence
    from voice_app.storage.store import Store

    settings = config.Settings()
    settings.llm.backend = "embedded"
    if args.stt:
        settings.stt.model = args.stt
    if args.examples:
        settings.llm.voice_examples = args.examples
    synth = Synthesizer.from_settings(settings)
    transcriber = Transcriber.from_settings(settings, language="en")
    output = "null"
    speaker = None
    if pulse is not None:
        try:
            speaker = Speaker("pulse", rate=synth.sample_rate).open()
            output = "pulseaudio virtual speaker (ALSA pulse device)"
        except Exception as exc:  # noqa: BLE001
            why = f"the pulse device cannot be opened: {exc}"
    if speaker is None:
        speaker = NullSpeaker(rate=synth.sample_rate).open()
        output = f"null output at real-time pace ({why})"

    utterances: list[tuple[str, str, np.ndarray]] = []
    for text in PIPER_LINES:
        utterances.append(("piper", text, resample(synth.synthesize(text), synth.sample_rate, RATE)))
    for i, text in enumerate(ESPEAK_LINES):
        audio = espeak(text, home / f"espeak{i}.wav")
        if audio is not None:
            utterances.append(("espeak-ng", text, audio))
    if args.limit:
        utterances = utterances[: args.limit]

    store = Store(home / "bench.sqlite3")
    ensure_demo(store)
    options = GenerationOptions(max_tokens=args.max_tokens, temperature=0.7, seed=1)
    pipe = Conversation(store, "demo", settings=settings, options=options, voice=Voice(transcriber, synth, speaker))
    print(f"warming up ... output: {output}", file=sys.stderr)
    warm = pipe.warm_up()
    print(f"warm-up: {json.dumps({k: round(v, 2) for k, v in warm.items()})}", file=sys.stderr)

    rows = []
    idle_prefill = []
    for voice, text, audio in utterances:
        # One conversation, turn after turn. After each reply the pipeline reads the finished exchange
        # (and the real exchanges closest to it) into the cache while the user listens and thinks; the
        # user here starts speaking once that is done, and the time it took is reported.
        started = time.perf_counter()
        pipe.speculator.wait_idle()
        idle_prefill.append(time.perf_counter() - started)
        history = list(pipe.history)
        source = ArraySource(audio, leading_s=0.2, trailing_s=0.3)
        with Recorder(source, transcriber=transcriber, language="en", on_partial=pipe.on_partial) as recorder:
            recorder.start()
            source.done.wait()
            utterance = recorder.stop()
        prefilled = pipe.speculator.prefilled
        # The turn's event stream, as the TUI reads it: when each kind of event reached the reader.
        seen: dict[str, float] = {}
        record = None
        for event in pipe.start_turn(utterance).events():
            seen.setdefault(type(event).__name__, round(time.perf_counter() - utterance.speech_end_at, 4))
            if isinstance(event, TurnDone):
                record = event.record
        assert record is not None
        result = record
        line = result.timeline
        read_at_reply = dict(pipe.model.last_prompt)

        # The sequential baseline on the same models, prompt and seed, from the same starting state:
        # the persona prefix and the history so far in the KV cache, not the prompt the streamed turn
        # just read. Then the streamed turn's state is put back for the next turn.
        pipe.speculator.wait_idle()
        pipe.model.warm_up(pipe.prompt.prefix)
        pipe.model.prefill([*pipe.prompt.with_history(history), {"role": "user", "content": ""}])
        speaker.begin()
        t0 = time.perf_counter()
        said = transcriber.transcribe(trim_silence(utterance.audio), language="en").text
        t_stt = time.perf_counter()
        prompt = pipe.prompt.turn(history, said)
        reply = whole_reply(pipe, prompt.messages, options)
        t_llm = time.perf_counter()
        wave = synth.synthesize(reply)
        t_tts = time.perf_counter()
        speaker.play(wave)
        speaker.wait()
        seq = (speaker.state.first_sample_at or time.perf_counter()) - t0
        pipe.speculator.after_turn(result.transcript, result.reply)
        row = {
            "voice": voice,
            "said": text,
            "transcript": result.transcript,
            "reply": result.reply,
            "v2v_s": line.get("first_audio_out"),
            "events_seen_s": seen,
            "stt_final_s": line.get("transcript_final"),
            "llm_first_token_s": gap(line, "transcript_final", "first_token"),
            "first_clause_s": gap(line, "first_token", "first_clause"),
            "tts_first_chunk_s": gap(line, "first_clause", "first_audio"),
            "to_output_s": gap(line, "first_audio", "first_audio_out"),
            "stt_reused_stream": bool(result.stt.get("reused")),
            "stt_passes": int(result.stt.get("passes", 0)),
            "examples_used": int(result.stt.get("examples", 0)),
            "prefilled_tokens_at_release": prefilled,
            "prompt_tokens": read_at_reply["tokens"],
            "prompt_tokens_read_at_reply": read_at_reply["read"],
            "sequential_s": round(seq, 4),
            "sequential_stages": {
                "stt_s": round(t_stt - t0, 4),
                "llm_s": round(t_llm - t_stt, 4),
                "tts_s": round(t_tts - t_llm, 4),
            },
            "sequential_reply": reply,
        }
        rows.append(row)
        shown = {k: "-" if row[k] is None else f"{row[k]:.2f}" for k in stage_names}
        print(
            f"{voice:9} v2v {shown['v2v_s']:>5}s  seq {seq:6.2f}s  stt {shown['stt_final_s']}"
            f" ttft {shown['llm_first_token_s']} clause {shown['first_clause_s']}"
            f" tts {shown['tts_first_chunk_s']} ex {row['examples_used']} pre {prefilled}"
            f" read {read_at_reply['read']}/{read_at_reply['tokens']}  | {result.transcript!r} -> {result.reply!r}",
            file=sys.stderr,
        )
    pipe.close()
    store.close()
    if pulse is not None:
        pulse.terminate()
        pulse.wait(5)

    v2v = [r["v2v_s"] for r in rows if r["v2v_s"] is not None]
    seqs = [r["sequential_s"] for r in rows]
    stages = {}
    for name in stage_names[1:]:
        vals = [r[name] for r in rows if r[name] is not None]
        stages[name] = {"p50": pct(vals, 50), "p95": pct(vals, 95)}
    for s in ("stt_s", "llm_s", "tts_s"):
        vals = [r["sequential_stages"][s] for r in rows]
        stages[f"sequential_{s}"] = {"p50": pct(vals, 50), "p95": pct(vals, 95)}
    results = {
        "v2v_p50_s": pct(v2v, 50),
        "v2v_p95_s": pct(v2v, 95),
        "sequential_p50_s": pct(seqs, 50),
        "sequential_p95_s": pct(seqs, 95),
        "speedup": round(pct(seqs, 50) / pct(v2v, 50), 2) if v2v else None,
        "stages": stages,
        "targets": {"v2v_p50_s": 0.6, "v2v_p95_s": 1.0, "speedup": 3.0},
        "output": output,
        "n": len(rows),
        "silent_replies": len(rows) - len(v2v),  # turns whose reply was empty (nothing to time)
        "prompt_tokens_read_at_reply": {
            "p50": pct([r["prompt_tokens_read_at_reply"] for r in rows], 50),
            "p95": pct([r["prompt_tokens_read_at_reply"] for r in rows], 95),
        },
        "examples_used_mean": round(float(np.mean([r["examples_used"] for r in rows])), 2) if rows else 0.0,
        "examples_policy": settings.llm.voice_examples,
        "prefill_between_turns_s": {"p50": pct(idle_prefill, 50), "p95": pct(idle_prefill, 95)},
        "models": {"stt": settings.stt.model, "tts": settings.tts.voice, "llm": settings.llm.embedded_model},
        "max_tokens": args.max_tokens,
        "machine": {
            "cpus": os.cpu_count(),
            "load_avg_at_end": [round(x, 2) for x in os.getloadavg()],
            "python": platform.python_version(),
        },
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "turns": rows,
    }
    print(f"\n{'stage':24} {'p50 s':>8} {'p95 s':>8}")
    for name, vals in stages.items():
        print(f"{name:24} {vals['p50']:8.3f} {vals['p95']:8.3f}")
    print(f"{'voice to voice':24} {results['v2v_p50_s']:8.3f} {results['v2v_p95_s']:8.3f}")
    print(f"{'sequential baseline':24} {results['sequential_p50_s']:8.3f} {results['sequential_p95_s']:8.3f}")
    print(f"speedup (p50): {results['speedup']}x   output: {output}   n={len(rows)}")
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
