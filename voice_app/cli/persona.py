"""`voice-app persona edit | show | eval`: the persona card, the measured style, the fidelity score."""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from voice_app.conversation.persona_data import load_card, save_card
from voice_app.core.errors import VoiceAppError
from voice_app.core.files import scratch_dir
from voice_app.core.textsafe import printable, safe
from voice_app.persona.card import FIELD_HELP, LIST_FIELDS, CardError, PersonaCard

InputFn = Callable[[str], str]


def register(sub: argparse._SubParsersAction) -> None:
    """Add the `persona` command group to the `voice-app` parser."""
    parser = sub.add_parser("persona", help="edit a persona's card, show its measured style, evaluate its fidelity")
    actions = parser.add_subparsers(dest="persona_action", metavar="{edit,show,corrections,eval}", required=True)

    p = actions.add_parser("edit", help="edit what you remember about them (TOML in $EDITOR, or --guided)")
    p.add_argument("name")
    p.add_argument("--guided", action="store_true", help="answer questions instead of editing a file")
    p.set_defaults(func=cmd_edit)

    p = actions.add_parser("show", help="print the card and the style measured from their messages")
    p.add_argument("name")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_show)

    p = actions.add_parser(
        "corrections", help='list the replies you marked "they wouldn\'t say that", or undo one with --undo ID'
    )
    p.add_argument("name")
    p.add_argument("--undo", type=int, metavar="ID", help="remove this correction")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_corrections)

    p = actions.add_parser(
        "eval",
        help="measure how close simulated replies come to the real ones (a persona, or --dataset chitchat)",
    )
    p.add_argument("name", nargs="?", help="a persona (omit with --dataset)")
    p.add_argument("--dataset", choices=["chitchat"], help="evaluate on real human chats instead of a persona")
    p.add_argument("--speakers", type=int, default=10, help="candidate speakers (chitchat; default 10)")
    p.add_argument("--distractors", type=int, default=8, help="chitchat speakers added as candidates (persona)")
    p.add_argument("--contexts", type=int, default=None, help="held-out contexts per speaker")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--json",
        nargs="?",
        const="-",
        default=None,
        metavar="PATH",
        help="print the result as JSON (or write it to PATH)",
    )
    p.add_argument("--out", type=Path, default=None, help="also write the result JSON to this file")
    p.set_defaults(func=cmd_eval)


# --- edit -------------------------------------------------------------------------------------------


def editor_command() -> list[str]:
    for var in ("VISUAL", "EDITOR"):
        value = os.environ.get(var, "").strip()
        if value:
            return shlex.split(value)
    for name in ("nano", "vim", "vi"):
        if shutil.which(name):
            return [name]
    raise VoiceAppError("No text editor found.", fix="Set $EDITOR (e.g. `export EDITOR=nano`), or use --guided.")


def edit_in_editor(card: PersonaCard, workdir: Path | None = None) -> PersonaCard:
    """Open the card as TOML in $EDITOR; reopen on a parse error until it is valid or left unchanged."""
    fd, name = tempfile.mkstemp(prefix="persona-", suffix=".toml", dir=workdir)
    path = Path(name)
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(card.to_toml())
        while True:
            before = path.read_text(encoding="utf-8")
            code = subprocess.call([*editor_command(), str(path)])
            if code != 0:
                raise VoiceAppError(f"The editor exited with status {code}; the card was not changed.")
            text = path.read_text(encoding="utf-8")
            try:
                return PersonaCard.from_toml(text)
            except CardError as exc:
                if text == before or not sys.stdin.isatty():
                    raise
                answer = input(f"{exc.message} Edit again? [Y/n] ").strip().lower()
                if answer in ("n", "no"):
                    raise
    finally:
        path.unlink(missing_ok=True)


def guided(card: PersonaCard, ask: InputFn | None = None) -> PersonaCard:
    """Ask one question per field; Enter keeps the current answer, '-' clears it, ';' separates list entries."""
    ask = ask or input
    data = card.to_dict()
    print("Press Enter to keep an answer, '-' to clear it. Separate several entries with ';'.")
    for name, question in FIELD_HELP.items():
        current = data.get(name)
        shown = "; ".join(current) if isinstance(current, list) else current
        answer = ask(f"{question}\n  [{shown}] > " if shown else f"{question}\n  > ").strip()
        if not answer:
            continue
        if answer == "-":
            data[name] = [] if name in LIST_FIELDS else ""
        elif name in LIST_FIELDS:
            data[name] = [part.strip() for part in answer.split(";") if part.strip()]
        else:
            data[name] = answer
    return PersonaCard.from_dict(data)


def cmd_edit(args: argparse.Namespace) -> int:
    from voice_app.cli.common import open_store, out

    with open_store() as store:
        card = load_card(store, args.name)
        new = guided(card) if args.guided else edit_in_editor(card, scratch_dir())
        save_card(store, args.name, new)
    out.print(f"Saved the card of {safe(args.name)}. `voice-app persona show {safe(args.name)}` shows it.")
    return 0


# --- show -------------------------------------------------------------------------------------------


def show_data(store: Any, name: str) -> dict[str, Any]:
    from voice_app.conversation.persona_data import style_for

    card = load_card(store, name)
    style = style_for(store, name)
    return {"persona": name, "card": card.to_dict(), "style": style.to_dict(), "style_summary": style.summary()}


def render_show(data: dict[str, Any]) -> str:
    card = PersonaCard.from_dict(data["card"])
    them = card.them_name or "them"
    lines = [f"# {data['persona']}: {them} (and you: {card.me_name or '?'})", "", "## Card"]
    filled = [(k, v) for k, v in card.to_dict().items() if v and k not in ("them_name", "me_name")]
    if filled:
        for key, value in filled:
            text = "; ".join(value) if isinstance(value, list) else str(value)
            lines.append(f"- {key.replace('_', ' ')}: {text}")
    else:
        lines.append(f"(empty: `voice-app persona edit {data['persona']}` adds what you remember)")
    style = data["style"]
    lines += [
        "",
        f"## Style ({style['messages']} messages from {them}, {style['bursts']} turns)",
        data["style_summary"],
    ]
    return "\n".join(lines)


def cmd_show(args: argparse.Namespace) -> int:
    from voice_app.cli.common import open_store, print_json

    with open_store() as store:
        data = show_data(store, args.name)
    if args.json:
        print_json(data)
    else:
        sys.stdout.write(printable(render_show(data)) + "\n")
    return 0


# --- corrections ------------------------------------------------------------------------------------


def cmd_corrections(args: argparse.Namespace) -> int:
    from dataclasses import asdict

    from voice_app.cli.common import open_store, out, print_json
    from voice_app.conversation import persona_data

    with open_store() as store:
        if args.undo is not None:
            removed = persona_data.undo_correction(store, args.name, args.undo)
            if args.json:
                print_json({"undone": asdict(removed)})
            else:
                out.print(f"Undone: correction {removed.id} (to {safe(removed.user_line)!r}).")
            return 0
        found = persona_data.corrections(store, args.name)
    if args.json:
        print_json([asdict(c) for c in found])
        return 0
    if not found:
        out.print(
            f"No corrections for {safe(args.name)}. In `voice-app chat`, /not-them [what they would say] marks"
            " their last reply; in the app, ctrl+n."
        )
        return 0
    for c in found:
        line = f"{c.id:>4}  {c.created_at[:16]}  to {safe(c.user_line)!r}: not {safe(c.reply)!r}"
        if c.better:
            line += f" -> {safe(c.better)!r}"
        out.print(line)
    return 0


# --- eval -------------------------------------------------------------------------------------------


def cmd_eval(args: argparse.Namespace) -> int:
    from voice_app.evaluation import fidelity

    if bool(args.dataset) == bool(args.name):
        raise VoiceAppError(
            "Give either a persona NAME or --dataset chitchat.",
            fix="Examples: voice-app persona eval demo; voice-app persona eval --dataset chitchat --speakers 10",
        )
    contexts = args.contexts or fidelity.DEFAULT_CONTEXTS

    def progress(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    model = fidelity.open_eval_model()
    if args.dataset:
        result = fidelity.run_chitchat(
            model, speakers=args.speakers, contexts=contexts, seed=args.seed, progress=progress
        )
    else:
        from voice_app.cli.common import open_store

        with open_store() as store:
            result = fidelity.run_persona(
                store,
                args.name,
                model,
                contexts=contexts,
                seed=args.seed,
                distractors=args.distractors,
                progress=progress,
            )
    for path in (args.out, Path(args.json) if args.json not in (None, "-") else None):
        if path is not None:
            fidelity.write_result(result, path)
    if args.json == "-":
        sys.stdout.write(json.dumps(result, ensure_ascii=False, indent=2) + "\n")
    else:
        sys.stdout.write(printable(render_eval(result)) + "\n")
    return 0


def render_eval(result: dict[str, Any]) -> str:
    a = result["attribution"]
    lines = [
        f"Authorship attribution among {a['candidates']} candidates ({a['replies_per_set']} replies per set,"
        f" chance {a['chance']:.0%}):",
        f"  real held-out replies (ceiling) {a['ceiling_real']:.0%}",
        f"  simulated replies               {a['simulated']:.0%}",
    ]
    if "simulated_without_style_adapter" in a:
        lines.append(f"    the same before the style adapter {a['simulated_without_style_adapter']:.0%}")
    lines.append(f"  no-persona baseline             {a['baseline_no_persona']:.0%}")
    if a.get("ratio_to_ceiling") is not None:
        lines.append(f"  simulated / ceiling = {a['ratio_to_ceiling']:.2f}")
    if a.get("ratio_to_baseline") is not None:
        lines.append(f"  simulated / baseline = {a['ratio_to_baseline']:.2f}")
    sd = result["style_distance"]
    unadapted = sd.get("unadapted_vs_real", {})
    lines.append(
        "Style distances (0 = same habits): simulated"
        + (" | before the adapter" if unadapted else "")
        + " | baseline | real held-out vs own training"
    )
    for key in sd.get("simulated_vs_real", {}):
        before = f" | {unadapted[key]:.3f}" if key in unadapted else ""
        lines.append(
            f"  {key:28} {sd['simulated_vs_real'][key]:.3f}{before} | {sd['baseline_vs_real'][key]:.3f}"
            f" | {sd['real_heldout_vs_train'][key]:.3f}"
        )
    return "\n".join(lines)
