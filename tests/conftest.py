"""Shared fixtures: every test gets its own data dir and settings file."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def isolated_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh VOICE_APP_HOME (data + config) per test; the model cache stays shared."""
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("VOICE_APP_HOME", str(home))
    monkeypatch.delenv("VOICE_APP_CONFIG", raising=False)
    monkeypatch.delenv("OLLAMA_HOST", raising=False)
    return home
