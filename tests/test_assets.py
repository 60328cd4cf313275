"""Model resolution against the real installed model packages."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from voice_app.core import assets, config
from voice_app.core.errors import ModelNotFoundError


@pytest.fixture
def private_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    cache = tmp_path / "cache"
    monkeypatch.setenv("VOICE_APP_CACHE", str(cache))
    return cache


def test_whisper_base_is_joined_verified_and_reused(private_cache: Path) -> None:
    first = assets.resolve("stt")
    assert first.id == "whisper-base" and first.source == "package"
    model_bin = first.path / "model.bin"
    assert first.path.is_relative_to(private_cache)
    assert assets.sha256_file(model_bin) == assets.MODELS["whisper-base"].sha256
    assert {"config.json", "tokenizer.json", "vocabulary.txt"} <= {p.name for p in first.path.iterdir()}
    assert not list(first.path.glob("*.partial"))
    again = assets.resolve("stt")
    assert again.source == "cache" and again.path == first.path


def test_truncated_join_is_detected_and_rebuilt(private_cache: Path) -> None:
    model_bin = assets.resolve("stt").path / "model.bin"
    size = model_bin.stat().st_size
    with model_bin.open("r+b") as handle:
        handle.truncate(size // 3)
    rebuilt = assets.resolve("stt")
    assert rebuilt.source == "package"
    assert model_bin.stat().st_size == size
    assert assets.sha256_file(model_bin) == assets.MODELS["whisper-base"].sha256


def test_same_size_corruption_is_detected_and_rebuilt(private_cache: Path) -> None:
    model_bin = assets.resolve("stt").path / "model.bin"
    with model_bin.open("r+b") as handle:
        handle.seek(1_000_000)
        byte = handle.read(1)
        handle.seek(1_000_000)
        handle.write(bytes([byte[0] ^ 0xFF]))
    assert assets.resolve("stt").source == "package"
    assert assets.sha256_file(model_bin) == assets.MODELS["whisper-base"].sha256


def test_interrupted_join_leaves_no_model(private_cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def dying_replace(src: object, dst: object) -> None:
        raise KeyboardInterrupt  # as if the process were stopped between join and rename

    with monkeypatch.context() as patched:
        patched.setattr(os, "replace", dying_replace)
        with pytest.raises(KeyboardInterrupt):
            assets.resolve("stt")
    target = assets.joined_target(assets.MODELS["whisper-base"])
    assert target.is_relative_to(private_cache)
    assert not target.exists()
    assert not list(target.parent.glob("*.partial"))
    assert assets.resolve("stt").source == "package"
    assert assets.sha256_file(target) == assets.MODELS["whisper-base"].sha256


def test_llm_default_is_the_real_verified_gguf() -> None:
    found = assets.resolve("llm")
    assert found.path.suffix == ".gguf" and found.size_bytes > 1_000_000_000
    assert found.path.open("rb").read(4) == b"GGUF"
    assert assets.sha256_file(found.path) == assets.MODELS["qwen2.5-1.5b"].sha256


def test_packaged_folder_and_file_models() -> None:
    tiny = assets.resolve("stt", "whisper-tiny.en")
    assert (tiny.path / "model.bin").is_file() and tiny.source == "package"
    voice = assets.resolve("tts")
    assert voice.path.name == "en_US-joe-medium.onnx"
    assert Path(f"{voice.path}.json").is_file()


def test_missing_package_names_the_package_and_the_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    spec = assets.ModelSpec(
        id="qwen-missing",
        role="llm",
        title="t",
        licence="l",
        parts=(assets.PackagePart("voice-app-no-such-model-part1", "9.9.9", r"part01\.bin$"),),
        layout="join",
        filename="m.gguf",
        sha256="0" * 64,
        setting="llm.gguf_path",
    )
    monkeypatch.setitem(assets.MODELS, spec.id, spec)
    with pytest.raises(ModelNotFoundError) as exc:
        assets.resolve("llm", "qwen-missing")
    assert "voice-app-no-such-model-part1==9.9.9" in (exc.value.fix or "")
    assert "llm.gguf_path" in (exc.value.fix or "")


def test_explicit_paths_win_and_are_checked(tmp_path: Path) -> None:
    gguf = tmp_path / "mine.gguf"
    gguf.write_bytes(b"GGUF" + b"\0" * 100)
    found = assets.resolve("llm", str(gguf))
    assert (found.id, found.source, found.path) == ("custom", "setting", gguf)
    settings = config.Settings()
    settings.set("llm.gguf_path", str(gguf))
    assert assets.resolve_configured("llm", settings).path == gguf
    with pytest.raises(ModelNotFoundError) as missing:
        assets.resolve("llm", str(tmp_path / "nope.gguf"))
    assert "does not exist" in missing.value.message
    not_gguf = tmp_path / "x.gguf"
    not_gguf.write_bytes(b"nope")
    with pytest.raises(ModelNotFoundError):
        assets.resolve("llm", str(not_gguf))
    with pytest.raises(ModelNotFoundError):
        assets.resolve("stt", str(tmp_path))  # a folder without model.bin
    with pytest.raises(ModelNotFoundError):
        assets.resolve("tts", "whisper-base")  # an id of the wrong role


def test_the_text_embedding_model_ships_in_its_wheel_with_the_recorded_sha256() -> None:
    found = assets.resolve("embed")
    assert found.id == "e5-small" and found.source == "package"
    assert assets.sha256_file(found.path) == assets.MODELS["e5-small"].sha256
    from voice_app.llm import embedding

    assert embedding.shared().model_path == found.path
    rows = embedding.shared().query(["你还记得那个湖吗", "do you remember the lake?", "the invoice is overdue"])
    assert rows.shape == (3, embedding.DIM)
    assert float(rows[0] @ rows[1]) > float(rows[0] @ rows[2])  # the meaning crosses languages


def test_the_sentence_encoder_of_the_crisis_check_ships_in_its_wheel_with_the_recorded_sha256() -> None:
    found = assets.resolve("embed", "use-m3")
    assert found.source == "package"
    assert assets.sha256_file(found.path) == assets.MODELS["use-m3"].sha256
    from voice_app.llm import use_embedding

    encoder = use_embedding.shared()
    assert encoder.model_path == found.path
    rows = encoder.encode(["i want to die", "我不想活了", "this song kills me", ""])
    assert rows.shape == (4, use_embedding.DIM)
    assert abs(float(rows[0] @ rows[0]) - 1.0) < 1e-3
    assert float(rows[0] @ rows[1]) > float(rows[0] @ rows[2])  # the meaning crosses languages
