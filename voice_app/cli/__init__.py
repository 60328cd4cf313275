"""The command line: one module per command group, `main` builds the parser from them."""

from __future__ import annotations

from voice_app.cli.main import build_parser, entry, main

__all__ = ["build_parser", "entry", "main"]
