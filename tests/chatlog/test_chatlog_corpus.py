"""Real-layout sample corpora: format, people and message count as `voice-app inspect --json` reports them."""

# The development corpus (fixtures/dev, written for these tests) is asserted sample by sample. The
# held-out corpus (heldout/, written by someone else and never read while developing) is only
# measured: its pass rate is reported (``scripts/bench_corpus.py`` prints it per sample) and a
# mismatch there never fails the suite.

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest

from voice_app.cli import main

ROOT = Path(__file__).resolve().parents[2]
DEV = Path(__file__).parent / "fixtures" / "dev" / "manifest.json"
HELDOUT = Path(__file__).parent / "heldout" / "manifest.json"


def _bench():
    spec = importlib.util.spec_from_file_location("bench_corpus", ROOT / "scripts" / "bench_corpus.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("bench_corpus", module)
    spec.loader.exec_module(module)
    return module


bench = _bench()
DEV_ENTRIES = json.loads(DEV.read_text(encoding="utf-8"))


def test_dev_manifest_is_well_formed():
    assert len(DEV_ENTRIES) >= 30
    for e in DEV_ENTRIES:
        assert set(e) >= {"file", "format", "participants", "messages", "note"}, e
        assert (DEV.parent / e["file"]).is_file(), e["file"]
        assert sum(e["participants"].values()) == e["messages"], e["file"]  # messages people wrote
    formats = {e["format"] for e in DEV_ENTRIES}
    assert formats >= {"whatsapp", "hangouts_json", "imessage_html", "discord_paste", "imessage", "wechat_csv"}


@pytest.mark.parametrize("entry", DEV_ENTRIES, ids=[e["file"] for e in DEV_ENTRIES])
def test_dev_sample(entry):
    result = bench.check(DEV.parent, entry)
    assert result["ok"], f"{entry['file']}: {'; '.join(result['problems'])}"


@pytest.mark.parametrize("fmt", ["hangouts_json", "imessage_html", "discord_paste"])
def test_inspect_json_on_new_formats(fmt, capsys):
    entry = next(e for e in DEV_ENTRIES if e["format"] == fmt)
    capsys.readouterr()
    assert main(["inspect", str(DEV.parent / entry["file"]), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["format"] == fmt and data["messages"] == entry["messages"] + entry.get("system", 0)
    assert {p["name"]: p["messages"] for p in data["participants"] if p["messages"]} == entry["participants"]


def test_the_published_corpus_figures_are_what_the_importers_give():
    """The held-out corpus is measured, not asserted sample by sample: its figure in the README must be true."""
    published = {
        c["manifest"]: c for c in json.loads((ROOT / "scripts" / "results" / "corpus.json").read_text())["corpora"]
    }
    for manifest in (DEV, HELDOUT):
        res = bench.run_manifest(manifest)
        figure = published[res["manifest"]]
        assert (res["passed"], res["samples"]) == (figure["passed"], figure["samples"]), res["manifest"]
