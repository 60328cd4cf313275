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


def test_a_line_embedded_again_is_remembered_not_recomputed() -> None:
    from voice_app.llm import embedding

    for model in (embedding.shared(), use_embedding.shared()):
        embed = model.query if isinstance(model, embedding.Embedder) else model.encode
        calls = {"n": 0}
        engine = model._engine
        real = engine.encode

        def counted(*args: object, _real: object = real, _calls: dict[str, int] = calls, **kwargs: object) -> object:
            _calls["n"] += 1
            return _real(*args, **kwargs)  # type: ignore[operator]

        engine.encode = counted
        try:
            first = embed(["a line said twice, once typed and once sent"])
            first[0, 0] = 99.0  # a caller changing its copy does not change what is remembered
            again = embed(["a line said twice, once typed and once sent"])
            assert calls["n"] == 1 and again[0, 0] != 99.0
            both = embed(["a line said twice, once typed and once sent", "another"])  # only "another" is new
            assert calls["n"] == 2 and np.allclose(both[0], again[0], atol=1e-5)
            assert np.allclose(embed(["another"])[0], both[1], atol=1e-5) and calls["n"] == 2
        finally:
            engine.encode = real
