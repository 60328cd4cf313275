"""The `voice-app` command: builds the parser from each command group and runs the chosen command."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from voice_app import __version__
from voice_app.cli import app, chat, data, persona, sessions, system, talk
from voice_app.cli.common import err, safe
from voice_app.core.errors import VoiceAppError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="voice-app",
        description="Talk aloud with a simulation of your ex, built on your own machine from your chat history.",
    )
    parser.add_argument("--version", action="version", version=f"voice-app {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks for errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for group in (system, data, chat, sessions, persona, talk, app):
        group.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        if not getattr(args, "func", None):  # bare `voice-app` opens the app's home screen
            return app.run_app()
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
