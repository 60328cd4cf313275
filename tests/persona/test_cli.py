"""`voice-app persona edit | show | eval` through the registered argparse group."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import pytest

from voice_app.cli import persona as persona_cli
from voice_app.core.errors import VoiceAppError
from voice_app.persona.card import CardError
from voice_app.storage.store import Store


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="voice-app")
    sub = p.add_subparsers(dest="command", required=True)
    persona_cli.register(sub)
    return p


def run(*argv: str) -> int:
    args = parser().parse_args(list(argv))
    return args.func(args)


def editor(tmp_path: Path, body: str) -> str:
    script = tmp_path / "fake_editor.py"
    script.write_text(
        "import sys, pathlib\n"
        "path = pathlib.Path(sys.argv[1])\n"
        "text = path.read_text(encoding='utf-8')\n" + body + "path.write_text(text, encoding='utf-8')\n"
    )
    return f"{sys.executable} {script}"


def test_parser_shape() -> None:
    args = parser().parse_args(["persona", "eval", "--dataset", "chitchat", "--speakers", "3", "--json", "r.json"])
    assert (args.dataset, args.speakers, args.json, args.contexts) == ("chitchat", 3, "r.json", None)
    assert parser().parse_args(["persona", "eval", "demo", "--json"]).json == "-"
    assert parser().parse_args(["persona", "edit", "demo", "--guided"]).guided


def test_edit_in_editor_then_show(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, isolated_home: Path, capsys) -> None:
    body = "text = text.replace('boundaries = []', 'boundaries = [\"never say we will get back together\"]')\n"
    monkeypatch.setenv("EDITOR", editor(tmp_path, body))
    monkeypatch.delenv("VISUAL", raising=False)
    assert run("persona", "edit", "demo") == 0
    with Store(isolated_home / "voice_app.sqlite3") as store:
        assert store.get_persona("demo").card["boundaries"] == ["never say we will get back together"]
        assert store.get_persona("demo").card["them_name"] == "Alex"
    assert not list(isolated_home.glob("persona-*.toml"))  # the temporary file is gone
    capsys.readouterr()
    assert run("persona", "show", "demo") == 0
    shown = capsys.readouterr().out
    assert "boundaries: never say we will get back together" in shown and "## Style" in shown
    assert run("persona", "show", "demo", "--json") == 0
    data = json.loads(capsys.readouterr().out)
    assert data["style"]["messages"] > 50 and "Messages are" in data["style_summary"]


def test_edit_with_invalid_toml_changes_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EDITOR", editor(tmp_path, "text += 'boundaries = [oops\\n'\n"))
    monkeypatch.delenv("VISUAL", raising=False)
    with pytest.raises(CardError):
        run("persona", "edit", "demo")


def test_guided_edit(monkeypatch: pytest.MonkeyPatch, isolated_home: Path) -> None:
    answers = iter(["", "", "babe; Sammy", "-", "2019", "", "They moved to Amsterdam."])
    monkeypatch.setattr("builtins.input", lambda prompt="": next(answers, ""))
    assert run("persona", "edit", "demo", "--guided") == 0
    with Store(isolated_home / "voice_app.sqlite3") as store:
        card = store.get_persona("demo").card
    assert card["they_called_me"] == ["babe", "Sammy"]
    assert card["together_from"] == "2019" and card["how_it_ended"] == "They moved to Amsterdam."


def test_eval_needs_a_name_or_a_dataset() -> None:
    with pytest.raises(VoiceAppError, match="either a persona NAME or --dataset"):
        run("persona", "eval")
    with pytest.raises(VoiceAppError):
        run("persona", "eval", "demo", "--dataset", "chitchat")
