"""The shipped demo histories are embedded once per machine, not once per data dir."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from voice_app.conversation import importing
from voice_app.conversation.importing import DEMO_PERSONA, ensure_demo
from voice_app.llm import embedding
from voice_app.persona.memory import MemoryVectors
from voice_app.storage.store import Store


def stored_vectors(store: Store, persona: str) -> MemoryVectors:
    stored = store.memory_vectors(store.get_persona(persona).id)
    assert stored
    return MemoryVectors.from_json(stored)


def test_a_new_data_dir_takes_the_demos_embeddings_from_the_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = tmp_path / "cache"
    monkeypatch.setattr(importing.config, "cache_dir", lambda: cache)
    with Store(tmp_path / "first.sqlite3") as first:
        ensure_demo(first)  # computes the embeddings and keeps them
        computed = stored_vectors(first, DEMO_PERSONA)
    assert sorted(p.name.split("-")[0] for p in (cache / "demo").glob("*.json")) == ["demo", "demo"]

    embedder = embedding.shared()
    calls: list[int] = []
    original = embedder.passage
    monkeypatch.setattr(embedder, "passage", lambda texts: calls.append(len(texts)) or original(texts))
    with Store(tmp_path / "second.sqlite3") as second:
        ensure_demo(second)
        reused = stored_vectors(second, DEMO_PERSONA)
    assert calls == []  # nothing embedded again
    assert reused.keys == computed.keys and np.array_equal(reused.matrix, computed.matrix)


def test_an_unreadable_cache_file_is_computed_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cache = tmp_path / "cache"
    monkeypatch.setattr(importing.config, "cache_dir", lambda: cache)
    with Store(tmp_path / "first.sqlite3") as first:
        ensure_demo(first)
        computed = stored_vectors(first, DEMO_PERSONA)
    for path in (cache / "demo").glob("*.json"):
        path.write_text("{not json")
    with Store(tmp_path / "second.sqlite3") as second:
        ensure_demo(second)
        again = stored_vectors(second, DEMO_PERSONA)
    assert again.keys == computed.keys
    assert np.abs(again.matrix - computed.matrix).max() < 1e-2  # the same texts, embedded again
    assert all(MemoryVectors.from_json(p.read_text()).keys for p in (cache / "demo").glob("*.json"))  # rewritten
