"""`inspect`, `import`, `personas` and `forget`: chat histories in and out of the store."""

from __future__ import annotations

import argparse
import sys

from rich.table import Table

from voice_app.cli.common import VoiceAppError, err, mapping, open_store, out, print_json, safe


def cmd_inspect(args: argparse.Namespace) -> int:
    from pathlib import Path

    from voice_app import chatlog

    conv = chatlog.load(Path(args.path), format=args.format, mapping=mapping(args.map))
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
    from voice_app.conversation.importing import import_conversation
    from voice_app.core.errors import ParticipantNotFoundError

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

        conv = chatlog.load(path, format=args.format, mapping=mapping(args.map), progress=advance)
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


def cmd_forget(args: argparse.Namespace) -> int:
    from voice_app.conversation.forget import forget

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


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
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
    p = sub.add_parser("forget", help="delete a persona (or --all) and verify nothing of it remains")
    p.add_argument("persona", nargs="?")
    p.add_argument("--all", action="store_true", help="every persona, session and audio file")
    p.add_argument("--yes", action="store_true", help="do not ask for confirmation (scripts)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_forget)
