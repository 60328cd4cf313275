"""`chat`: a typed conversation with a persona, or one line with `--once`."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from voice_app.cli.common import err, open_store, out, print_json, safe
from voice_app.core import config

if TYPE_CHECKING:
    from voice_app.conversation.conversation import Conversation


def cmd_chat(args: argparse.Namespace) -> int:
    from voice_app.care import session_reminder
    from voice_app.conversation.conversation import Conversation
    from voice_app.core.cancel import CancelToken

    settings = config.load()
    if args.backend:
        settings.set("llm.backend", args.backend)
    if args.once is not None and settings.llm.repack_weights == "auto":
        settings.llm.repack_weights = "off"  # one reply: repacking the weights (+0.8 s) would not pay back
    with open_store() as store:
        store.get_persona(args.persona)  # a clear error before any model loads
        session = Conversation(store, args.persona, settings=settings, closure=args.closure)
        try:
            if args.once is not None:
                # The persona prefix: restored from the on-disk cache when this persona was used before.
                warm_up_s = sum(session.warm_up().values())
                streaming = not args.json
                result = session.reply(args.once, on_piece=_write if streaming else None, seed=args.seed)
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
            err.print(
                "[dim]Type a line and press Enter. Ctrl-C interrupts a reply; Ctrl-D or /quit ends;"
                " /not-them [what they would say] marks their last reply as not them.[/]"
            )
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
                if line == "/not-them" or line.startswith("/not-them "):
                    correction = session.not_them(line.removeprefix("/not-them").strip())
                    err.print(
                        f"[dim]Marked as not {safe(session.prompt.them)} (correction {correction.id}); later"
                        f" replies follow it. Undo: voice-app persona corrections {safe(args.persona)}"
                        f" --undo {correction.id}[/]"
                    )
                    continue
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


def _goodbye(session: Conversation, args: argparse.Namespace) -> None:
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


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("chat", help="a text conversation with a persona")
    p.add_argument("persona")
    p.add_argument("--once", metavar="TEXT", help="answer one line and exit")
    p.add_argument("--json", action="store_true", help="with --once: print one JSON object")
    p.add_argument("--backend", choices=["auto", "ollama", "openai", "embedded"], help="override llm.backend")
    p.add_argument("--seed", type=int, help="sampling seed, for reproducible replies")
    p.add_argument("--closure", action="store_true", help="guided arc: unsaid (/next) questions (/next) goodbye")
    p.add_argument("--letter", action="store_true", help="at /goodbye, write the letter without asking")
    p.set_defaults(func=cmd_chat)


def _write(piece: str) -> None:
    sys.stdout.write(piece)
    sys.stdout.flush()
