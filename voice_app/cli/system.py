"""`doctor`, `config`, `models` and `care check`: the machine, the settings, the models, the care checks."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from rich.table import Table

from voice_app.cli.common import VoiceAppError, out, print_json, safe
from voice_app.core import config


def cmd_doctor(args: argparse.Namespace) -> int:
    from voice_app.conversation import doctor

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
    from voice_app.conversation.userdata import switch_encryption

    out.print(switch_encryption(on))


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


def cmd_models(args: argparse.Namespace) -> int:
    from voice_app.core import assets

    if args.action in ("add", "remove"):
        return _optional_model(args)
    if args.action == "prepare":
        for found in assets.prepare_defaults():
            out.print(f"{found.role:5} {found.id:16} {safe(found.path)}  ({found.size_bytes / 1e6:.0f} MB)")
        from voice_app.care import semantic

        layer = semantic.shared()  # fitted once into the cache (~1 min), then loaded
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
    from voice_app.conversation import optional_models

    zh = optional_models.zh_voice_status()
    rows.append(
        {
            "id": optional_models.ZH_VOICE,
            "role": "tts",
            "title": optional_models.TITLE + " (optional: `voice-app models add zh-voice`)",
            "installed": zh.installed,
            "default": False,
            "packages": [],
            "licence": optional_models.LICENCE,
        }
    )
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


def _optional_model(args: argparse.Namespace) -> int:
    """`models add zh-voice` / `models remove zh-voice`."""
    from voice_app.conversation import optional_models

    if args.name != optional_models.ZH_VOICE:
        raise VoiceAppError(
            f"There is no optional model called {args.name!r}.",
            fix=f"The optional model is {optional_models.ZH_VOICE}: `voice-app models {args.action} zh-voice`.",
        )
    if args.action == "remove":
        removed = optional_models.remove_zh_voice()
        out.print("The Chinese voice was removed." if removed else "The Chinese voice was not installed.")
        return 0
    out.print(f"[bold]{optional_models.TITLE}[/bold]")
    out.print(f"Licence: {optional_models.LICENCE}")
    accepted = args.accept_licence
    if not accepted and sys.stdin.isatty():
        answer = input("Type 'yes' to accept this licence and build the voice: ")
        accepted = answer.strip().lower() in ("yes", "y")
    target, manifest = optional_models.add_zh_voice(
        accepted_licence=accepted, python=args.python, progress=lambda step: out.print(f"==> {safe(step)}")
    )
    if args.json:
        print_json({"path": str(target), **manifest})
    else:
        files = manifest["files"]
        assert isinstance(files, dict)
        size = sum(int(f["size"]) for f in files.values())
        out.print(f"The Chinese voice is installed in {safe(target)} ({size / 1e6:.1f} MB).")
        out.print("Chinese replies are now spoken; `voice-app config set tts.zh_voice off` silences them again.")
    return 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
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

    p = sub.add_parser(
        "models",
        help="list the embedded models, assemble them into the cache, or add/remove the optional Chinese voice",
    )
    p.add_argument("action", nargs="?", choices=["list", "prepare", "add", "remove"], default="list")
    p.add_argument("name", nargs="?", help="with add/remove: the optional model (zh-voice)")
    p.add_argument("--accept-licence", action="store_true", help="accept the optional model's licence (add)")
    p.add_argument("--python", help="add zh-voice: a Python 3.9–3.11 for the one-off converter")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_models)

    p = sub.add_parser("care", help="run the care checks (crisis, honesty) on lines: `care check [--json] [LINE ...]`")
    care_sub = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    p = care_sub.add_parser("check", help="what the crisis and honesty checks make of each line")
    p.add_argument("lines", nargs="*", help="the lines to check (default: one per line on standard input)")
    p.add_argument("--json", action="store_true", help="one JSON object per line: text, care, by, score")
    p.set_defaults(func=cmd_care)
