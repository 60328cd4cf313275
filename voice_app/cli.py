"""The `voice-app` command: parses arguments and hands each subcommand to its module."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.table import Table

from voice_app import __version__, config
from voice_app.errors import VoiceAppError
from voice_app.textsafe import safe

if TYPE_CHECKING:
    from voice_app.chat import ChatSession
    from voice_app.store import Store

# No emoji codes (":skull:" in a message stays text); user-derived values go through `safe()`.
out = Console(highlight=False, soft_wrap=True, emoji=False)
err = Console(stderr=True, highlight=False, soft_wrap=True, emoji=False)

Handler = Callable[[argparse.Namespace], int]


def print_json(data: Any) -> None:
    """Machine-readable output: plain JSON on stdout, nothing else."""
    sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2) + "\n")
    sys.stdout.flush()


# --- doctor -----------------------------------------------------------------------------------


def cmd_doctor(args: argparse.Namespace) -> int:
    from voice_app import doctor

    checks = doctor.run_checks(load=args.load)
    healthy = doctor.healthy(checks)
    if args.json:
        print_json({name: check.public() for name, check in checks.items()})
        return 0 if healthy else 1
    table = Table(title="voice-app doctor", show_lines=False, expand=False)
    table.add_column("check")
    table.add_column("")
    table.add_column("detail / fix", overflow="fold")
    for name, check in checks.items():
        mark = "[green]ok[/]" if check.ok else ("[red]FAIL[/]" if check.required else "[yellow]--[/]")
        text = safe(check.detail) + (f"\n[cyan]fix:[/] {safe(check.fix)}" if check.fix and not check.ok else "")
        table.add_row(name, mark, text)
    out.print(table)
    if healthy:
        out.print("[green]The embedded path can run.[/] Items marked -- are optional.")
    else:
        out.print("[red]The embedded path cannot run yet:[/] apply the fixes of the FAIL lines.")
    return 0 if healthy else 1


# --- config -------------------------------------------------------------------------------------


def cmd_config(args: argparse.Namespace) -> int:
    settings = config.load()
    if args.action == "set":
        if args.key is None or args.value is None:
            raise VoiceAppError(
                "`config set` needs a KEY and a VALUE.", fix="Example: voice-app config set llm.backend embedded"
            )
        settings.set(args.key, args.value)
        if args.key == "care.encryption":
            _switch_encryption(settings.care.encryption)
        path = config.save(settings)
        out.print(f"{safe(args.key)} = {safe(repr(settings.get(args.key)))}  (saved to {safe(path)})")
        return 0
    if args.action == "path":
        out.print(str(config.config_path()))
        return 0
    values = settings.flat()
    if args.json:
        print_json({"config_file": str(config.config_path()), "data_dir": str(config.data_dir()), **values})
        return 0
    out.print(f"# settings file: {safe(config.config_path())}")
    out.print(f"# data dir:      {safe(config.data_dir())}")
    out.print(f"# ollama host:   {safe(settings.ollama_host())}")
    for key, value in values.items():
        out.print(f"{safe(key)} = {safe(repr(value))}")
    return 0


def _switch_encryption(on: bool) -> None:
    """Convert the data dir in place; the setting is saved only after the conversion succeeded."""
    from voice_app.care import encryption
    from voice_app.store import Store

    with Store.open_default() as store:
        if on:
            encryption.enable(store, encryption.read_passphrase(confirm=store.encryption_state == "off"))
            out.print("Encryption at rest is on: message texts, session texts and audio are now encrypted.")
        else:
            encryption.disable(store, encryption.read_passphrase())
            out.print("Encryption at rest is off: your data was decrypted in place.")


# --- care -----------------------------------------------------------------------------------------


def cmd_care(args: argparse.Namespace) -> int:
    """`care check`: what the care checks make of each line (models loaded once)."""
    from voice_app.care import check_line

    lines = args.lines if args.lines else [line.rstrip("\r\n") for line in sys.stdin]
    for line in lines:
        result = check_line(line).public()
        if args.json:
            sys.stdout.write(json.dumps(result, ensure_ascii=False) + "\n")
            sys.stdout.flush()
        else:
            score = "-" if result["score"] is None else f"{result['score']:.2f}"
            out.print(f"{result['care'] or 'ok':8} {result['by'] or '':8} {score:>5}  {safe(line)}")
    return 0


# --- models ---------------------------------------------------------------------------------------


def cmd_models(args: argparse.Namespace) -> int:
    from voice_app import assets

    if args.action == "prepare":
        for found in assets.prepare_defaults():
            out.print(f"{found.role:5} {found.id:16} {safe(found.path)}  ({found.size_bytes / 1e6:.0f} MB)")
        from voice_app.care import semantic

        layer = semantic.shared()  # fitted once into the cache (~20 s), then loaded
        out.print(f"care  crisis-model     {safe(semantic.model_path(layer.model.fingerprint))}")
        return 0
    rows = []
    for spec in assets.MODELS.values():
        row: dict[str, Any] = {
            "id": spec.id,
            "role": spec.role,
            "title": spec.title,
            "installed": assets.installed(spec),
        }
        row["default"] = assets.DEFAULTS[spec.role] == spec.id
        row["packages"] = spec.pip_requirements()
        rows.append(row)
    if args.json:
        print_json(rows)
        return 0
    table = Table(title="embedded models")
    for column in ("id", "role", "installed", "default", "title"):
        table.add_column(column)
    for row in rows:
        table.add_row(
            row["id"], row["role"], "yes" if row["installed"] else "no", "*" if row["default"] else "", row["title"]
        )
    out.print(table)
    out.print("Swap any of them with a path of your own: see models/README.md.")
    return 0


# --- data: inspect, import, personas -------------------------------------------------------------


def open_store() -> Store:
    """The user's store, with the shipped `demo` persona present."""
    from voice_app.care.encryption import open_unlocked
    from voice_app.importer import ensure_demo
    from voice_app.store import Store

    store = open_unlocked(Store.open_default())
    settings = config.load()
    encrypted = store.encryption_state != "off"
    if settings.care.encryption != encrypted:  # the database is the truth (a conversion finished or was undone)
        settings.care.encryption = encrypted
        config.save(settings)
    ensure_demo(store)
    return store


def _mapping(pairs: list[str] | None) -> dict[str, str] | None:
    if not pairs:
        return None
    mapping = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep:
            raise VoiceAppError(f"--map expects FIELD=COLUMN, got {pair!r}.", fix="Example: --map timestamp=date")
        mapping[key.strip()] = value.strip()
    return mapping


def cmd_inspect(args: argparse.Namespace) -> int:
    from pathlib import Path

    from voice_app import chatlog

    conv = chatlog.load(Path(args.path), format=args.format, mapping=_mapping(args.map))
    summary = chatlog.summarize(conv)
    if args.json:
        print_json(summary)
        return 0
    out.print(
        f"[bold]{safe(args.path)}[/]: {safe(chatlog.SUPPORTED_FORMATS.get(summary['format'], summary['format']))}"
    )
    out.print(f"{summary['messages']} messages, {summary['first']} \u2192 {summary['last']}")
    table = Table("participant", "messages")
    for p in summary["participants"]:
        table.add_row(safe(p["name"]), str(p["messages"]))
    out.print(table)
    out.print("kinds: " + ", ".join(f"{safe(k)} {v}" for k, v in summary["kinds"].items()))
    for warning in summary["warnings"][:20]:
        out.print(f"[yellow]warning:[/] {safe(warning)}")
    if len(summary["warnings"]) > 20:
        out.print(f"[yellow]... and {len(summary['warnings']) - 20} more warnings[/]")
    return 0


def cmd_import(args: argparse.Namespace) -> int:
    from pathlib import Path

    from rich.progress import BarColumn, DownloadColumn, Progress, TimeRemainingColumn

    from voice_app import chatlog
    from voice_app.care.consent import obtain_consent
    from voice_app.errors import ParticipantNotFoundError
    from voice_app.importer import import_conversation

    path = Path(args.path)
    with Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        DownloadColumn(),
        TimeRemainingColumn(),
        console=err,
        transient=True,
        disable=args.json,
    ) as progress:
        task = progress.add_task(f"reading {safe(path.name)}", total=None)

        def advance(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total)

        conv = chatlog.load(path, format=args.format, mapping=_mapping(args.map), progress=advance)
    if not args.them:
        names = ", ".join(p["name"] for p in chatlog.summarize(conv)["participants"])
        raise ParticipantNotFoundError(
            "Say who your ex is with --them.", fix=f"Participants found in {path.name}: {names}."
        )
    with open_store() as store:
        consent_at = None
        if store.find_persona(args.persona) is None:
            them = chatlog.resolve_participant(conv, args.them)
            consent_at = obtain_consent(args.persona, them, given=args.consent)
        result = import_conversation(
            store, conv, persona=args.persona, them=args.them, me=args.me, source=path, consent_at=consent_at
        )
    if args.json:
        print_json(result.__dict__)
        return 0
    verb = "created" if result.created else "extended"
    out.print(
        f"Persona [bold]{safe(result.persona)}[/] {verb}: {result.added} new messages from {result.format}"
        f" ({result.parsed} parsed; them = {safe(repr(result.them))}, me = {safe(repr(result.me or '?'))})."
    )
    if result.added == 0 and result.parsed:
        out.print("Nothing new: this history was already imported.")
    for warning in result.warnings[:10]:
        out.print(f"[yellow]warning:[/] {safe(warning)}")
    return 0


def cmd_personas(args: argparse.Namespace) -> int:
    with open_store() as store:
        rows = store.list_personas()
    if args.json:
        print_json(rows)
        return 0
    table = Table("persona", "them", "messages", "last session")
    for row in rows:
        table.add_row(safe(row["name"]), safe(row["them_name"]), str(row["messages"]), row["last_session"] or "-")
    out.print(table)
    return 0


# --- chat --------------------------------------------------------------------------------------------


def cmd_chat(args: argparse.Namespace) -> int:
    from voice_app.care import session_reminder
    from voice_app.chat import ChatSession
    from voice_app.llm.base import CancelToken

    settings = config.load()
    if args.backend:
        settings.set("llm.backend", args.backend)
    with open_store() as store:
        store.get_persona(args.persona)  # a clear error before any model loads
        session = ChatSession(store, args.persona, settings=settings, closure=args.closure)
        try:
            if args.once is not None:
                # The persona prefix: restored from the on-disk cache when this persona was used before.
                warm_up_s = session.warm_up()
                streaming = not args.json
                result = session.reply(
                    args.once,
                    on_piece=(lambda p: (sys.stdout.write(p), sys.stdout.flush())) if streaming else None,
                    seed=args.seed,
                )
                if args.json:
                    print_json(
                        {
                            "reply": result.reply,
                            "backend": session.model.info.backend,
                            "model": session.model.info.model,
                            "ttft_s": round(result.ttft_s, 3),
                            "total_s": round(result.total_s, 3),
                            "session": session.session_id,
                            "care": result.care,
                            "warm_up_s": round(warm_up_s, 3),
                        }
                    )
                else:
                    sys.stdout.write("\n")
                return 0
            info = session.model.info
            err.print(f"[yellow]{safe(session_reminder(session.prompt.them))}[/]")
            err.print(f"[dim]{safe(args.persona)} via {info.backend} ({safe(info.model)}); loading the persona...[/]")
            session.warm_up()
            err.print("[dim]Type a line and press Enter. Ctrl-C interrupts a reply; Ctrl-D or /quit ends.[/]")
            if args.closure:
                err.print(f"[cyan]{safe(session.closure_invitation())}[/]")
            while True:
                try:
                    line = input("you> ").strip()
                except EOFError:
                    break
                if line in ("/quit", "/exit"):
                    break
                if line == "/next" and args.closure:
                    err.print(f"[cyan]{safe(session.advance_closure())}[/]")
                    continue
                if line == "/goodbye":
                    _goodbye(session, args)
                    return 0
                if not line:
                    continue
                cancel = CancelToken()
                out.print(f"[bold]{safe(session.prompt.them)}>[/] ", end="")
                try:
                    session.reply(line, on_piece=lambda p: out.print(safe(p), end=""), cancel=cancel)
                except KeyboardInterrupt:
                    cancel.cancel()
                out.print()
                nudge = session.nudge()
                if nudge:
                    err.print(f"[cyan]{safe(nudge)}[/]")
        finally:
            session.end()
    return 0


def _goodbye(session: ChatSession, args: argparse.Namespace) -> None:
    """The goodbye ritual: end the session, offer the letter, then offer forget."""
    write = args.letter
    if not write and sys.stdin.isatty():
        write = input("Write a letter of what you said you needed? [y/N] ").strip().lower() in ("y", "yes")
    path = session.goodbye(write_letter=write)
    if path:
        out.print(f"Your letter is at {safe(path)}")
    out.print(
        f"Goodbye. When you are ready to let this go, `voice-app forget {args.persona}` deletes the persona,"
        " its sessions, audio and letters."
    )


# --- sessions: list, replay, export, delete -------------------------------------------------------


def cmd_sessions(args: argparse.Namespace) -> int:
    from voice_app import sessions

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
    from voice_app import sessions

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

    from voice_app import sessions

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


# --- forget ------------------------------------------------------------------------------------------


def cmd_forget(args: argparse.Namespace) -> int:
    from voice_app.care.forget import forget

    if bool(args.persona) == bool(args.all):
        raise VoiceAppError(
            "Say which persona to forget, or --all.", fix="voice-app forget NAME   or   voice-app forget --all"
        )
    with open_store() as store:
        names = [p["name"] for p in store.list_personas()] if args.all else [args.persona]
        for name in names:
            store.get_persona(name)  # a clear error for an unknown name, before asking anything
        what = "ALL personas, sessions and audio" if args.all else f"the persona '{args.persona}'"
        if not args.yes:
            if not sys.stdin.isatty():
                raise VoiceAppError(f"Refusing to forget {what} without confirmation.", fix="Add --yes to confirm.")
            answer = input(f"Permanently delete {what} (messages, card, sessions, audio, indexes)? [y/N] ")
            if answer.strip().lower() not in ("y", "yes"):
                out.print("Nothing was deleted.")
                return 1
        report = forget(store, names)
    if args.json:
        print_json({**report.__dict__, "clean": report.clean})
    else:
        out.print(
            f"Forgot {safe(', '.join(report.personas))}: {report.messages} messages, {report.sessions} sessions,"
            f" {len(report.files)} files."
        )
        if report.clean:
            out.print(f"Scanned the data dir for {report.probes} of their texts: no trace left.")
        else:
            if report.errors:
                out.print("[red]Not everything could be removed or checked:[/]")
                for line in report.errors:
                    out.print(f"  {safe(line)}")
            if report.leftovers:
                out.print("[red]Traces are still on disk:[/]")
                for line in report.leftovers:
                    out.print(f"  {safe(line)}")
    return 0 if report.clean else 1


# --- parser ---------------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="voice-app",
        description="Talk aloud with a simulation of your ex, built on your own machine from your chat history.",
    )
    parser.add_argument("--version", action="version", version=f"voice-app {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks for errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("doctor", help="check models, audio devices, LLM backends and the data dir")
    p.add_argument("--json", action="store_true", help="one JSON object, a key per check")
    p.add_argument("--load", action="store_true", help="also load every model and time it")
    p.set_defaults(func=cmd_doctor)

    p = sub.add_parser("config", help="show or change settings")
    p.add_argument("action", nargs="?", choices=["show", "set", "path"], default="show")
    p.add_argument("key", nargs="?")
    p.add_argument("value", nargs="?")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_config)

    p = sub.add_parser("models", help="list the embedded models, or assemble them into the cache")
    p.add_argument("action", nargs="?", choices=["list", "prepare"], default="list")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_models)

    p = sub.add_parser("care", help="run the care checks (crisis, honesty) on lines: `care check [--json] [LINE ...]`")
    care_sub = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    p = care_sub.add_parser("check", help="what the crisis and honesty checks make of each line")
    p.add_argument("lines", nargs="*", help="the lines to check (default: one per line on standard input)")
    p.add_argument("--json", action="store_true", help="one JSON object per line: text, care, by, score")
    p.set_defaults(func=cmd_care)
    p = sub.add_parser("inspect", help="show what an export holds, without storing anything")
    p.add_argument("path")
    p.add_argument("--format", help="skip detection: one of the format ids")
    p.add_argument("--map", action="append", metavar="FIELD=COLUMN", help="column mapping for generic CSV/JSONL")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_inspect)

    p = sub.add_parser("import", help="store an export under a persona (created or extended)")
    p.add_argument("path")
    p.add_argument("--persona", required=True, help="the persona's name in voice_app")
    p.add_argument("--them", help="your ex's name as it appears in the export")
    p.add_argument("--me", help="your name as it appears in the export")
    p.add_argument(
        "--consent",
        action="store_true",
        help="acknowledge, without a prompt, that this simulates a real person who did not agree to it,"
        " for your own closure only, kept on this machine",
    )
    p.add_argument("--format", help="skip detection: one of the format ids")
    p.add_argument("--map", action="append", metavar="FIELD=COLUMN", help="column mapping for generic CSV/JSONL")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_import)

    p = sub.add_parser("personas", help="list personas")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_personas)

    p = sub.add_parser("chat", help="a text conversation with a persona")
    p.add_argument("persona")
    p.add_argument("--once", metavar="TEXT", help="answer one line and exit")
    p.add_argument("--json", action="store_true", help="with --once: print one JSON object")
    p.add_argument("--backend", choices=["auto", "ollama", "embedded"], help="override llm.backend")
    p.add_argument("--seed", type=int, help="sampling seed, for reproducible replies")
    p.add_argument("--closure", action="store_true", help="guided arc: unsaid (/next) questions (/next) goodbye")
    p.add_argument("--letter", action="store_true", help="at /goodbye, write the letter without asking")
    p.set_defaults(func=cmd_chat)

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

    p = sub.add_parser("forget", help="delete a persona (or --all) and verify nothing of it remains")
    p.add_argument("persona", nargs="?")
    p.add_argument("--all", action="store_true", help="every persona, session and audio file")
    p.add_argument("--yes", action="store_true", help="do not ask for confirmation (scripts)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_forget)

    from voice_app import talk
    from voice_app.persona.cli import register as register_persona
    from voice_app.tui.cli import register as register_tui

    register_persona(sub)
    talk.register(sub)
    register_tui(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        if not getattr(args, "func", None):  # bare `voice-app` opens the app's home screen
            from voice_app.tui.cli import run_app

            return run_app()
        return int(args.func(args) or 0)
    except VoiceAppError as exc:
        if args.debug:
            raise
        err.print(f"[bold red]error:[/] {safe(exc.message)}")
        if exc.fix:
            err.print(f"[cyan]fix:[/] {safe(exc.fix)}")
        return 2
    except KeyboardInterrupt:
        err.print("interrupted")
        return 130


def entry() -> None:
    """Console-script entry point."""
    sys.exit(main())
