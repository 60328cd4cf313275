"""The crisis check's sentence encoder starts from its cache: the same embeddings, and a bad cache is read past."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from voice_app.llm import use_embedding


@pytest.fixture
def cache_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("VOICE_APP_CACHE", str(tmp_path))
    return tmp_path


LINES = ["i want to die", "我不想活了", "this song kills me", "see you at the lake"]


def test_the_cached_encoder_embeds_as_the_package_does(cache_home: Path) -> None:
    weights = use_embedding.weights_path()
    assert use_embedding._restored(weights) is None  # nothing cached yet
    engine = use_embedding._loaded(weights)
    use_embedding._save(engine, weights)
    path = use_embedding.cache_path(weights)
    assert path.is_file() and path.is_relative_to(cache_home) and path.stat().st_mode & 0o077 == 0
    restored = use_embedding._restored(weights)
    assert restored is not None and restored is not engine
    fresh, again = engine.encode(LINES), restored.encode(LINES)
    assert fresh.shape == (4, use_embedding.DIM)
    np.testing.assert_allclose(again, fresh, atol=1e-6)


def test_a_damaged_cache_is_read_past_not_trusted(cache_home: Path) -> None:
    weights = use_embedding.weights_path()
    path = use_embedding.cache_path(weights)
    path.parent.mkdir(parents=True)
    path.write_bytes(b"not a pickle at all")
    assert use_embedding._restored(weights) is None
    # A readable cache that embeds differently (another model's state) is refused by its probe.
    engine = use_embedding._loaded(weights)
    use_embedding._save(engine, weights)
    import pickle

    data = pickle.loads(path.read_bytes())
    data["backend"]["cnn_b"] = data["backend"]["cnn_b"] + 0.5
    path.write_bytes(pickle.dumps(data, protocol=5))
    assert use_embedding._restored(weights) is None


def test_an_unwritable_cache_only_costs_time(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    monkeypatch.setenv("VOICE_APP_CACHE", str(blocker / "cache"))  # a folder under a file: cannot be made
    weights = use_embedding.weights_path()
    engine = use_embedding._loaded(weights)
    use_embedding._save(engine, weights)  # logged, not raised
    assert use_embedding._restored(weights) is None
