"""Entry points of the Textual app: `voice-app demo`, `voice-app ui`, and `run_app` for bare `voice-app`/`talk`.

`python -m voice_app.cli.app demo` (or `ui`, `talk PERSONA`) runs them.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path

from voice_app.core.errors import VoiceAppError
from voice_app.core.textsafe import printable

DEMO_PERSONA = "demo"


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `demo` and `ui` to the CLI's subparsers."""
    p = sub.add_parser("demo", help="talk with the shipped fictional persona in the app (offline, embedded models)")
    p.set_defaults(func=cmd_demo)
    p = sub.add_parser("ui", help="open the app's home screen (personas, sessions, import, doctor)")
    p.set_defaults(func=cmd_ui)


def cmd_demo(args: argparse.Namespace) -> int:
    return run_app(DEMO_PERSONA, talk=True, demo=True)


def cmd_ui(args: argparse.Namespace) -> int:
    return run_app()


def run_app(persona: str | None = None, talk: bool = False, demo: bool = False) -> int:
    """Open the app (home; with `talk`, straight into a conversation with `persona`); returns the exit code.

    `demo` talks with the shipped fictional persona on the embedded model (no server, nothing downloaded).
    Errors before the app starts (unknown persona, locked data) raise VoiceAppError for the CLI to print.
    """
    from voice_app.cli.common import open_store
    from voice_app.conversation.services import Services
    from voice_app.core import config
    from voice_app.tui.app import VoiceApp

    settings = config.load()
    if demo:
        persona, talk = DEMO_PERSONA, True
        if settings.llm.backend == "auto":
            settings.set("llm.backend", "embedded")  # the demo never waits on a server probe
    with open_store() as store:
        if persona is not None:
            store.get_persona(persona)  # a clear error before the app opens
        with native_output_to(config.data_dir() / NATIVE_LOG):
            app = VoiceApp(Services(store, settings), persona=persona, talk=talk)
            code = app.run()
    return int(code or 0)


NATIVE_LOG = "tui-native.log"


@contextlib.contextmanager
def native_output_to(log: Path) -> Iterator[None]:
    """Keep what native libraries write to fd 2 (ALSA, PortAudio, llama.cpp) off the app's screen.

    Textual draws on stderr; C libraries write to file descriptor 2 directly, and their lines would
    scroll the terminal under the app. The terminal moves to a duplicate descriptor that Textual uses
    (it reads `sys.__stderr__` when the app is created), fd 2 goes to `log` (0600) while the app runs.
    """
    if not sys.__stderr__ or not sys.__stderr__.isatty():
        yield
        return
    sys.__stderr__.flush()
    saved = os.dup(2)
    terminal = os.fdopen(os.dup(saved), "w", encoding=sys.__stderr__.encoding, errors="replace")
    log.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    original = sys.__stderr__
    try:
        os.dup2(fd, 2)
        sys.__stderr__ = terminal  # type: ignore[misc]  # what Textual writes to the real terminal
        yield
    finally:
        sys.__stderr__ = original  # type: ignore[misc]
        terminal.flush()
        os.dup2(saved, 2)
        for handle in (fd, saved):
            os.close(handle)
        terminal.close()


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m voice_app.cli.app demo | ui | talk PERSONA`."""
    parser = argparse.ArgumentParser(prog="voice-app")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    register(sub)
    p = sub.add_parser("talk", help="a conversation with a persona in the app")
    p.add_argument("persona")
    p.set_defaults(func=lambda a: run_app(a.persona, talk=True))
    args = parser.parse_args(argv)
    try:
        return int(args.func(args)) if getattr(args, "func", None) else run_app()
    except VoiceAppError as exc:
        sys.stderr.write(printable(f"error: {exc.message}\n" + (f"fix: {exc.fix}\n" if exc.fix else "")))
        return 2


if __name__ == "__main__":
    sys.exit(main())
