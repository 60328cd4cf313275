#!/usr/bin/env python3
"""Benchmark the WhatsApp importer against chat-miner 0.6.0 on the same generated export.

    python scripts/bench_import.py [--messages N] [--json PATH]

Generates an Android-style WhatsApp export with N messages in a temp folder, then times
``voice_app.chatlog.load`` and chat-miner's ``WhatsAppParser.parse_file`` each in a fresh
subprocess (messages/s over the parse itself; peak RSS of that process from getrusage). chat-miner
is pip-installed into its own venv under the cache folder (reused on later runs).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import textwrap
import venv
from datetime import datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "voice_app" / "bench"
CHAT_MINER = "chat-miner==0.6.0"

WORDS = [
    "hey",
    "haha",
    "ok",
    "sure",
    "love",
    "you",
    "miss",
    "dinner",
    "tonight",
    "work",
    "late",
    "again",
    "why",
    "always",
    "sorry",
    "fine",
    "whatever",
    "movie",
    "tomorrow",
    "coffee",
    "babe",
    "lol",
    "what",
    "did",
    "you",
    "mean",
    "call",
    "me",
    "later",
    "cant",
    "talk",
    "now",
    "the",
    "dog",
    "walked",
    "park",
    "rain",
    "home",
    "soon",
    "traffic",
    "omg",
    "really",
    "no",
    "way",
    "yes",
    "please",
    "thanks",
    "night",
    "morning",
    "❤️",
    "😂",
    "🙄",
    "😘",
]


def generate(path: Path, n: int, seed: int = 7) -> None:
    rng = random.Random(seed)
    t = datetime(2019, 3, 14, 8, 0)
    names = ("Sam", "Alex")
    with path.open("w", encoding="utf-8") as f:
        f.write(
            f"{t:%d/%m/%Y}, {t:%H:%M} - Messages and calls are end-to-end encrypted. No one outside of this"
            " chat, not even WhatsApp, can read or listen to them. Tap to learn more.\n"
        )
        for i in range(n - 1):
            t += timedelta(seconds=rng.choice((5, 20, 40, 60, 120, 600, 3600)))
            r = rng.random()
            if r < 0.02:
                body = "<Media omitted>"
            elif r < 0.025:
                body = "This message was deleted"
            else:
                body = " ".join(rng.choice(WORDS) for _ in range(rng.randint(1, 12)))
                if r > 0.97:
                    body += "\n" + " ".join(rng.choice(WORDS) for _ in range(rng.randint(1, 8)))
            f.write(f"{t:%d/%m/%Y}, {t:%H:%M} - {names[i % 3 == 0]}: {body}\n")


OURS = textwrap.dedent(
    """
    import json, resource, sys, time
    sys.path.insert(0, {root!r})
    from voice_app.chatlog import load
    t0 = time.perf_counter()
    conv = load(sys.argv[1], format="whatsapp")
    dt = time.perf_counter() - t0
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({{"messages": len(conv.messages), "seconds": dt, "peak_rss_mb": rss}}))
    """
)

THEIRS = textwrap.dedent(
    """
    import json, logging, resource, sys, time
    logging.disable(logging.CRITICAL)
    from chatminer.chatparsers import WhatsAppParser
    t0 = time.perf_counter()
    parser = WhatsAppParser(sys.argv[1])
    parser.parse_file()
    dt = time.perf_counter() - t0
    n = len(parser.parsed_messages._parsed_messages)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"messages": n, "seconds": dt, "peak_rss_mb": rss}))
    """
)


def chat_miner_python() -> Path:
    env_dir = CACHE / "chat-miner-0.6.0-venv"
    py = env_dir / "bin" / "python"
    marker = env_dir / ".installed"
    if not marker.exists():
        print(f"installing {CHAT_MINER} into {env_dir} …", file=sys.stderr)
        venv.EnvBuilder(with_pip=True, clear=True).create(env_dir)
        subprocess.run([str(py), "-m", "pip", "install", "-q", CHAT_MINER], check=True)
        marker.write_text(CHAT_MINER + "\n")
    return py


def run(python: Path | str, code: str, export: Path) -> dict[str, float]:
    env = dict(os.environ, TQDM_DISABLE="1", PYTHONDONTWRITEBYTECODE="1")
    out = subprocess.run([str(python), "-c", code, str(export)], capture_output=True, text=True, env=env, check=False)
    if out.returncode != 0:
        raise SystemExit(f"benchmark child failed ({python}):\n{out.stderr[-4000:]}")
    result = json.loads(out.stdout.strip().splitlines()[-1])
    result["msgs_per_s"] = result["messages"] / result["seconds"]
    return result


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--messages", type=int, default=1_000_000, help="messages to generate (default 1,000,000)")
    ap.add_argument("--json", type=Path, help="write the results as JSON to this path")
    ap.add_argument("--skip-chat-miner", action="store_true", help="only time our importer")
    args = ap.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="bench_import_") as tmp:
        export = Path(tmp) / "WhatsApp Chat with Alex.txt"
        generate(export, args.messages)
        size_mb = export.stat().st_size / 2**20
        print(f"generated {args.messages:,} messages ({size_mb:.1f} MB) in {export}", file=sys.stderr)
        ours = run(sys.executable, OURS.format(root=str(ROOT)), export)
        theirs = None if args.skip_chat_miner else run(chat_miner_python(), THEIRS, export)

    result: dict[str, object] = {
        "messages": args.messages,
        "file_mb": round(size_mb, 1),
        "python": sys.version.split()[0],
        "ours": {k: round(v, 2) for k, v in ours.items()},
    }
    rows = [("voice_app.chatlog", ours)]
    if theirs is not None:
        result["theirs"] = {"package": CHAT_MINER, **{k: round(v, 2) for k, v in theirs.items()}}
        result["speed_ratio"] = round(ours["msgs_per_s"] / theirs["msgs_per_s"], 2)
        rows.append((CHAT_MINER, theirs))
    print(f"{'parser':<20} {'messages':>10} {'seconds':>9} {'msgs/s':>12} {'peak RSS MB':>12}")
    for name, r in rows:
        print(
            f"{name:<20} {int(r['messages']):>10,} {r['seconds']:>9.2f} {r['msgs_per_s']:>12,.0f}"
            f" {r['peak_rss_mb']:>12.0f}"
        )
    if theirs is not None:
        print(f"speed ratio (ours / chat-miner): {result['speed_ratio']:.1f}x")
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
