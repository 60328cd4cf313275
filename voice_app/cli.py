"""The `voice-app` command: parses arguments and hands each subcommand to its module."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from typing import Any

from rich.console import Console
from rich.table import Table

from voice_app import __version__, config
from voice_app.errors import VoiceAppError

out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)

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
        text = check.detail + (f"\n[cyan]fix:[/] {check.fix}" if check.fix and not check.ok else "")
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
        path = config.save(settings)
        out.print(f"{args.key} = {settings.get(args.key)!r}  (saved to {path})")
        return 0
    if args.action == "path":
        out.print(str(config.config_path()))
        return 0
    values = settings.flat()
    if args.json:
        print_json({"config_file": str(config.config_path()), "data_dir": str(config.data_dir()), **values})
        return 0
    out.print(f"# settings file: {config.config_path()}")
    out.print(f"# data dir:      {config.data_dir()}")
    out.print(f"# ollama host:   {settings.ollama_host()}")
    for key, value in values.items():
        out.print(f"{key} = {value!r}")
    return 0


# --- models ---------------------------------------------------------------------------------------


def cmd_models(args: argparse.Namespace) -> int:
    from voice_app import assets

    if args.action == "prepare":
        for found in assets.prepare_defaults():
            out.print(f"{found.role:4} {found.id:16} {found.path}  ({found.size_bytes / 1e6:.0f} MB)")
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
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 0
    try:
        return int(args.func(args) or 0)
    except VoiceAppError as exc:
        if args.debug:
            raise
        err.print(f"[bold red]error:[/] {exc.message}")
        if exc.fix:
            err.print(f"[cyan]fix:[/] {exc.fix}")
        return 2
    except KeyboardInterrupt:
        err.print("interrupted")
        return 130


def entry() -> None:
    """Console-script entry point."""
    sys.exit(main())
