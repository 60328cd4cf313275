"""`sessions`, `replay` and `export`: saved conversations."""

from __future__ import annotations

import argparse

from rich.table import Table

from voice_app.cli.common import VoiceAppError, open_store, out, print_json, safe
from voice_app.core import config


def cmd_sessions(args: argparse.Namespace) -> int:
    from voice_app.conversation import sessions

    words = list(args.args)
    with open_store() as store:
        if words and words[0] == "delete":
            if len(words) != 2 or not words[1].isdigit():
                raise VoiceAppError(
                    "Usage: voice-app sessions delete SESSION_ID", fix="List ids with `voice-app sessions`."
                )
            removed = sessions.delete_session(store, int(words[1]))
            out.print(f"Session {words[1]} deleted ({len(removed)} audio files removed).")
            return 0
        infos = store.list_sessions(words[0] if words else None)
    if args.stats:
        from dataclasses import asdict

        from voice_app.care.usage import weekly_summary

        summary = weekly_summary(infos)
        if args.json:
            print_json({**asdict(summary), "message": summary.message()})
            return 0
        out.print(
            f"[bold]Last 7 days[/] (since {summary.week_start}): {summary.sessions} sessions, {summary.turns} turns,"
            f" {summary.minutes:.0f} min (the 7 days before: {summary.previous_week_minutes:.0f} min)"
        )
        for day, minutes in summary.days.items():
            out.print(f"  {day}  {'#' * min(60, round(minutes))} {minutes:.0f} min")
        for persona, minutes in summary.personas.items():
            out.print(f"  {safe(persona)}: {minutes:.0f} min")
        out.print(safe(summary.message()))
        return 0
    rows = [sessions.session_json(info) for info in infos]
    if args.json:
        print_json(rows)
        return 0
    table = Table("id", "persona", "started", "duration", "turns")
    for row in rows:
        table.add_row(
            str(row["id"]), safe(row["persona"]), row["started"], f"{row['duration_s']:.0f} s", str(row["turns"])
        )
    out.print(table)
    return 0


def cmd_replay(args: argparse.Namespace) -> int:
    from voice_app.conversation import sessions

    player = None if args.no_audio else sessions.speaker_player(config.load().audio.output_device)
    with open_store() as store:
        sessions.replay(
            store,
            args.session,
            start_turn=args.start_turn,
            speed=args.speed,
            printer=lambda line: out.print(safe(line)),
            player=player,
        )
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from pathlib import Path

    from voice_app.conversation import sessions

    try:
        mode = int(args.mode, 8)
    except ValueError:
        raise VoiceAppError(f"--mode {args.mode!r} is not an octal mode.", fix="For example --mode 644.") from None
    if not 0 <= mode <= 0o777:
        raise VoiceAppError(f"--mode {args.mode!r} is out of range.", fix="For example --mode 600 or --mode 644.")
    with open_store() as store:
        output = Path(args.output) if args.output else None
        path = sessions.export_session(store, args.session, args.format, output, mode=mode)
    out.print(f"Exported session {args.session} to {safe(path)}")
    return 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("sessions", help="list saved sessions; `sessions delete ID` removes one")
    p.add_argument("args", nargs="*", metavar="PERSONA | delete ID")
    p.add_argument("--json", action="store_true", help="a list of {id, persona, started, duration_s, turns}")
    p.add_argument("--stats", action="store_true", help="a summary of the last 7 days")
    p.set_defaults(func=cmd_sessions)

    p = sub.add_parser("replay", help="play a saved session, both voices, with its lines in sync")
    p.add_argument("session", type=int)
    p.add_argument("--from", dest="start_turn", type=int, default=0, metavar="TURN", help="start at this turn")
    p.add_argument("--speed", type=float, default=1.0)
    p.add_argument("--no-audio", action="store_true", help="print the transcript with timings only")
    p.set_defaults(func=cmd_replay)

    p = sub.add_parser("export", help="write a session as md, html (audio embedded), json or wav")
    p.add_argument("session", type=int)
    p.add_argument("--format", choices=["md", "html", "json", "wav"], default="md")
    p.add_argument("-o", "--output", metavar="PATH")
    p.add_argument(
        "--mode", default="600", metavar="OCTAL", help="file permissions of the export (default 600: only you)"
    )
    p.set_defaults(func=cmd_export)
