#!/usr/bin/env python3
"""Measure chat import on real-layout sample corpora: format, participants and message count per sample.

    python scripts/bench_corpus.py [--manifest PATH ...] [--json scripts/results/corpus.json]

Each manifest is a JSON list of {"file", "format", "participants": {name: count}, "messages"} with
paths relative to the manifest: `messages` counts the messages people wrote (system notices, which
belong to nobody, are not counted). A sample passes when detection gives the format and the
`voice-app inspect --json` summary gives exactly those participants (people with at least one
message) with those counts. By default
the development corpus (tests/chatlog/fixtures/dev) and, when it exists, the held-out corpus
(tests/chatlog/heldout) are measured; the held-out samples are only read here, never inspected.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DEV = ROOT / "tests" / "chatlog" / "fixtures" / "dev" / "manifest.json"
HELDOUT = ROOT / "tests" / "chatlog" / "heldout" / "manifest.json"
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def observe(path: Path) -> dict[str, Any]:
    """What the importer says about one file: the format, participants with counts, messages."""
    from voice_app.chatlog import detect, load, summarize

    fmt = detect(path)
    summary = summarize(load(path))
    people = {p["name"]: p["messages"] for p in summary["participants"] if p["messages"]}
    return {"detected": fmt, "format": summary["format"], "participants": people, "messages": sum(people.values())}


def check(base: Path, entry: dict[str, Any]) -> dict[str, Any]:
    """One manifest entry checked: {"file", "ok", "problems", "got"}."""
    path = base / entry["file"]
    result: dict[str, Any] = {"file": entry["file"], "ok": False, "problems": [], "got": None}
    try:
        got = observe(path)
    except Exception as e:  # noqa: BLE001  (a sample that fails to import is a failed sample, not a crashed run)
        result["problems"].append(f"{type(e).__name__}: {str(e)[:300]}")
        return result
    result["got"] = got
    problems = result["problems"]
    if got["detected"] != entry["format"] or got["format"] != entry["format"]:
        problems.append(f"format {got['detected']!r}, expected {entry['format']!r}")
    want = {str(k): int(v) for k, v in dict(entry.get("participants") or {}).items()}
    if got["participants"] != want:
        missing = sorted(set(want) - set(got["participants"]))
        extra = sorted(set(got["participants"]) - set(want))
        wrong = sorted(n for n in set(want) & set(got["participants"]) if want[n] != got["participants"][n])
        problems.append(
            "participants differ"
            + (f"; missing {missing}" if missing else "")
            + (f"; unexpected {extra}" if extra else "")
            + (f"; counts {[(n, got['participants'][n], want[n]) for n in wrong]}" if wrong else "")
        )
    if "messages" in entry and got["messages"] != int(entry["messages"]):
        problems.append(f"{got['messages']} messages by people, expected {entry['messages']}")
    result["ok"] = not problems
    return result


def run_manifest(manifest: Path) -> dict[str, Any]:
    entries = json.loads(manifest.read_text(encoding="utf-8"))
    results = [check(manifest.parent, e) for e in entries]
    passed = sum(r["ok"] for r in results)
    return {
        "manifest": str(manifest.relative_to(ROOT) if manifest.is_relative_to(ROOT) else manifest),
        "samples": len(results),
        "passed": passed,
        "rate": round(passed / len(results), 4) if results else None,
        "results": results,
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--manifest", action="append", type=Path, help="manifest to measure (repeatable)")
    ap.add_argument("--json", type=Path, default=ROOT / "scripts" / "results" / "corpus.json")
    ap.add_argument("--quiet", action="store_true", help="only the pass rates")
    args = ap.parse_args(argv)
    os.environ.setdefault("TZ", "UTC")
    if hasattr(time, "tzset"):
        time.tzset()
    manifests = args.manifest or [m for m in (DEV, HELDOUT) if m.exists()]
    report = {"created": time.strftime("%Y-%m-%dT%H:%M:%S"), "corpora": []}
    for manifest in manifests:
        res = run_manifest(manifest.resolve())
        report["corpora"].append(res)
        held = manifest.resolve() == HELDOUT.resolve()
        if not args.quiet:
            for r in res["results"]:
                # Held-out samples are reported by pass/fail only: their content stays unseen.
                detail = "" if r["ok"] or held else "  " + "; ".join(r["problems"])
                print(f"{'PASS' if r['ok'] else 'FAIL'}  {r['file']}{detail}")
        print(f"{res['manifest']}: {res['passed']}/{res['samples']} passed ({(res['rate'] or 0) * 100:.0f}%)")
        if held:
            for r in res["results"]:
                r["got"] = None
                r["problems"] = ["mismatch"] if not r["ok"] else []
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(report, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
