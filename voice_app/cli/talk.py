"""`voice-app talk PERSONA --no-tui`: a headless voice conversation (the TUI uses the same pipeline).

    voice-app talk alex --no-tui                      # Enter starts and stops recording; q quits
    voice-app talk alex --no-tui --mode hands_free    # the VAD decides when you have finished
    voice-app talk alex --no-tui --input-wav said.wav --json   # one turn from a recording, then exit

Without a microphone or PortAudio it falls back to typed input (the reply is still spoken when a
speaker exists, else played into a null output).
"""

from __future__ import annotations

import argparse
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from voice_app.core import config
from voice_app.core.errors import AudioUnavailableError, VoiceAppError
from voice_app.core.textsafe import printable

if TYPE_CHECKING:
    from voice_app.conversation.conversation import Conversation

INPUT_TAIL_S = 0.3  # silence after a --input-wav clip before the "key" is released, as a person would


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the `talk` subcommand to the CLI's subparsers."""
    p = sub.add_parser("talk", help="a voice conversation with a persona (push-to-talk or hands-free)")
    p.add_argument("persona")
    p.add_argument("--no-tui", action="store_true", help="headless: Enter starts and stops recording")
    p.add_argument(
        "--input-wav",
        type=Path,
        action="append",
        metavar="FILE",
        help="use a recorded utterance as the microphone (repeat for several turns, in order)",
    )
    p.add_argument("--json", action="store_true", help="with --input-wav: print one JSON object")
    p.add_argument("--mode", choices=["push_to_talk", "hands_free"], help="default: the audio.mode setting")
    p.add_argument(
        "--backend", choices=["auto", "ollama", "openai", "embedded"], help="override llm.backend for this run"
    )
    p.add_argument("--max-tokens", type=int, help="override llm.max_reply_tokens for this run")
    p.add_argument("--seed", type=int, default=None)
    p.set_defaults(func=cmd_talk)


def cmd_talk(args: argparse.Namespace) -> int:
    if not args.no_tui and args.input_wav is None:
        from voice_app.cli.app import run_app

        return run_app(args.persona, talk=True)
    settings = config.load()
    if args.backend:
        settings.set("llm.backend", args.backend)
    if args.max_tokens:
        settings.set("llm.max_reply_tokens", args.max_tokens)
    from voice_app.cli.common import open_store
    from voice_app.conversation.persona_data import speech_language

    with open_store() as store:
        store.get_persona(args.persona)  # a clear error before any model loads
        language = speech_language(store, args.persona)  # with stt.model auto: tiny.en for English
        if args.input_wav is not None:
            return _turns_from_files(store, args, settings, language)
        return _conversation(store, args, settings, language)


def _log(text: str) -> None:
    sys.stderr.write(printable(text) + "\n")
    sys.stderr.flush()


def load_wav(path: Path) -> np.ndarray:
    """A sound file as 16 kHz mono float32."""
    import soundfile as sf

    from voice_app.conversation.listening import SAMPLE_RATE
    from voice_app.core.signal import resample

    try:
        data, rate = sf.read(str(path), dtype="float32", always_2d=True)
    except (OSError, RuntimeError) as exc:  # soundfile raises LibsndfileError (a RuntimeError)
        raise VoiceAppError(f"Cannot read {path}: {exc}.", fix="Give a WAV, FLAC or OGG file.") from None
    return resample(data.mean(axis=1), rate, SAMPLE_RATE)


def _pipeline(store: Any, args: argparse.Namespace, settings: config.Settings, language: str) -> Conversation:
    from voice_app.conversation.conversation import Conversation, Voice

    voice = Voice.from_settings(settings, language=language, allow_null_speaker=True)
    notice = voice.cannot_speak(language)
    if notice:
        _log(notice)
    return Conversation(store, args.persona, settings=settings, voice=voice, seed=args.seed)


def _turns_from_files(store: Any, args: argparse.Namespace, settings: config.Settings, language: str) -> int:
    from voice_app.conversation.listening import hear_recording

    recordings = [load_wav(path) for path in args.input_wav]  # unreadable files fail before models load
    pipeline = _pipeline(store, args, settings, language)
    voice = pipeline.voice
    assert voice is not None
    results = []
    try:
        if not args.json:
            _log(f"[speaker: {voice.speaker_kind}] loading the models and the persona...")
        pipeline.warm_up()
        for audio in recordings:
            result = pipeline.respond(hear_recording(pipeline, audio, trailing_s=INPUT_TAIL_S))
            results.append(result)
            if not args.json:
                them = pipeline.prompt.them
                sys.stdout.write(printable(f"you> {result.transcript}\n{them}> {result.reply}") + "\n")
                sys.stdout.flush()
                v2v = result.timeline.get("first_audio_out")
                if v2v is not None:
                    _log(f"[voice to voice: {v2v:.2f} s]")
    finally:
        pipeline.close()
    if args.json:
        from voice_app.cli.common import print_json

        objects = [_turn_json(result, pipeline) for result in results]
        print_json(objects[0] if len(objects) == 1 else {"session": pipeline.session_id, "turns": objects})
    return 0


def _turn_json(result: Any, pipeline: Conversation) -> dict[str, Any]:
    assert pipeline.voice is not None
    return {
        "transcript": result.transcript,
        "reply": result.reply,
        "timeline": result.timeline,
        "session": pipeline.session_id,
        "turn": result.turn_id,
        "interrupted": result.interrupted,
        "speaker": pipeline.voice.speaker_kind,
        "user_audio": result.user_audio,
        "reply_audio": result.reply_audio,
    }


def _conversation(store: Any, args: argparse.Namespace, settings: config.Settings, language: str) -> int:
    from voice_app.conversation.listening import hands_free, push_to_talk
    from voice_app.core.types import TurnDone

    pipeline = _pipeline(store, args, settings, language)
    voice = pipeline.voice
    assert voice is not None
    them = pipeline.prompt.them
    printer_lock = threading.Lock()

    def report(turn: Any) -> None:
        try:
            result = None
            for event in turn.events():  # the same stream the TUI reads; an error is raised after TurnDone
                if isinstance(event, TurnDone):
                    result = event.record
            assert result is not None
        except VoiceAppError as exc:
            _log(f"error: {exc.message}" + (f"\nfix: {exc.fix}" if exc.fix else ""))
            return
        with printer_lock:
            if not result.transcript:
                _log("(nothing was heard)")
                return
            cut = " [interrupted]" if result.interrupted else ""
            sys.stdout.write(printable(f"you> {result.transcript}\n{them}> {result.reply}{cut}") + "\n")
            sys.stdout.flush()

    def answer(said: Any) -> None:
        turn = pipeline.start_turn(said)
        threading.Thread(target=report, args=(turn,), daemon=True).start()

    mode = args.mode or settings.audio.mode
    try:
        _log(f"[speaker: {voice.speaker_kind}] loading the models and the persona...")
        pipeline.warm_up()
        try:
            if mode == "hands_free":
                with hands_free(pipeline, settings, on_utterance=answer) as listener:
                    _log(f"Listening (hands-free; echo: {listener.echo}). Speak; press Enter to quit.")
                    sys.stdin.readline()
                return 0
            recorder = push_to_talk(pipeline, settings)
        except AudioUnavailableError as exc:
            _log(f"No microphone: {exc.message} Type your lines instead (empty line or Ctrl-D ends).")
            return _typed(pipeline, answer)
        with recorder:
            _log("Press Enter to talk, Enter again to stop; q + Enter quits. Enter during a reply interrupts it.")
            while True:
                line = sys.stdin.readline()
                if not line or line.strip().lower() in ("q", "/quit", "quit"):
                    break
                pipeline.barge_in()  # pressing the talk key during a reply stops it
                recorder.start()
                _log("(recording... Enter to stop)")
                sys.stdin.readline()
                answer(recorder.stop())
    finally:
        pipeline.close()
    return 0


def _typed(pipeline: Conversation, answer: Any) -> int:
    while True:
        line = sys.stdin.readline()
        if not line.strip():
            break
        pipeline.barge_in()
        answer(line.strip())
    if pipeline.current is not None:
        pipeline.current.finished()
    return 0
