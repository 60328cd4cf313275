"""`python -m voice_app.llm.serve …`: llama-cpp-python's OpenAI-compatible server, on this build's CPU code.

This venv's llama.cpp keeps its CPU code in per-processor libraries that llama-cpp-python does not load
by itself (`llm.cpu_backend`), so a bare `python -m llama_cpp.server` here stops with "no backends
are loaded". This loads the right one, then runs that server with the same arguments.
"""

from __future__ import annotations

import sys
from pathlib import Path

from voice_app.llm.cpu_backend import ensure_loaded


def model_argument(argv: list[str]) -> Path | None:
    """The `--model` the server is given (the variant is tried with it)."""
    for i, arg in enumerate(argv):
        if arg == "--model" and i + 1 < len(argv):
            return Path(argv[i + 1])
        if arg.startswith("--model="):
            return Path(arg.split("=", 1)[1])
    return None


def main() -> None:
    ensure_loaded(model=model_argument(sys.argv[1:]))
    from llama_cpp.server.__main__ import main as serve

    serve()  # type: ignore[no-untyped-call]


if __name__ == "__main__":
    main()
