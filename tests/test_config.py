"""Settings: TOML round trip, type coercion, environment overrides."""

from __future__ import annotations

from pathlib import Path

import pytest

from voice_app.cli import main
from voice_app.core import config
from voice_app.core.errors import ConfigError


def test_defaults_when_no_file(isolated_home: Path) -> None:
    settings = config.load()
    assert settings.llm.backend == "auto"
    assert settings.stt.model == "auto"
    assert not config.config_path().exists()


def test_round_trip_keeps_every_value(isolated_home: Path) -> None:
    settings = config.Settings()
    settings.set("llm.backend", "embedded")
    settings.set("llm.temperature", "0.3")
    settings.set("audio.end_silence_ms", "450")
    settings.set("care.encryption", "on")
    settings.set("tts.voice", 'C:\\voices\\zh "x".onnx')
    config.save(settings)
    again = config.load()
    assert again == settings
    assert again.llm.temperature == 0.3
    assert again.audio.end_silence_ms == 450
    assert again.care.encryption is True
    assert again.tts.voice == 'C:\\voices\\zh "x".onnx'


def test_unknown_key_and_bad_value_are_typed_errors() -> None:
    settings = config.Settings()
    with pytest.raises(ConfigError) as unknown:
        settings.set("llm.nope", "1")
    assert "llm.backend" in (unknown.value.fix or "")
    with pytest.raises(ConfigError) as bad:
        settings.set("audio.end_silence_ms", "soon")
    assert "expects a int" in bad.value.message


def test_invalid_toml_names_the_file(isolated_home: Path) -> None:
    config.config_path().write_text("[llm\nbackend=", encoding="utf-8")
    with pytest.raises(ConfigError) as exc:
        config.load()
    assert str(config.config_path()) in exc.value.message


def test_voice_app_home_moves_data_and_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VOICE_APP_HOME", str(tmp_path / "elsewhere"))
    assert config.data_dir() == tmp_path / "elsewhere"
    assert config.config_path() == tmp_path / "elsewhere" / "config.toml"
    monkeypatch.setenv("VOICE_APP_CONFIG", str(tmp_path / "my.toml"))
    assert config.config_path() == tmp_path / "my.toml"


def test_platform_dirs_without_overrides(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("VOICE_APP_HOME")
    assert config.data_dir().name == config.APP_NAME
    assert config.config_path().parent.name == config.APP_NAME


def test_ollama_host_precedence(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = config.Settings()
    assert settings.ollama_host() == config.DEFAULT_OLLAMA_HOST
    monkeypatch.setenv("OLLAMA_HOST", "10.1.2.3:9999")
    assert settings.ollama_host() == "http://10.1.2.3:9999"
    settings.set("llm.ollama_host", "http://box:11434/")
    assert settings.ollama_host() == "http://box:11434"


def test_cli_config_set_and_show(isolated_home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["config", "set", "llm.backend", "embedded"]) == 0
    assert config.load().llm.backend == "embedded"
    capsys.readouterr()
    assert main(["config", "show"]) == 0
    assert "llm.backend = 'embedded'" in capsys.readouterr().out
    assert main(["config", "set", "llm.bogus", "1"]) == 2
    assert "Unknown setting" in capsys.readouterr().err


def test_word_settings_accept_only_their_words() -> None:
    settings = config.Settings()
    settings.set("llm.voice_examples", "all")
    assert settings.llm.voice_examples == "all"
    with pytest.raises(ConfigError) as bad:
        settings.set("llm.voice_examples", "some")
    assert "ready, all" in (bad.value.fix or "")
    with pytest.raises(ConfigError):
        settings.set("llm.backend", "chatgpt")
    assert settings.llm.backend == "auto"
    settings.set("llm.backend", "openai")
    assert settings.llm.backend == "openai"


def test_weight_repacking_is_on_for_conversations_and_off_for_one_line() -> None:
    settings = config.Settings()
    assert settings.llm.repack_weights == "auto"
    assert settings.llm.repacks() and not settings.llm.repacks(one_shot=True)
    settings.set("llm.repack_weights", False)  # a settings file written when it was a bool
    assert settings.llm.repack_weights == "off" and not settings.llm.repacks()
    settings.set("llm.repack_weights", "true")
    assert settings.llm.repack_weights == "on" and settings.llm.repacks(one_shot=True)
    with pytest.raises(ConfigError):
        settings.set("llm.repack_weights", "sometimes")


def test_chat_once_loads_the_model_without_repacking(isolated_home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from voice_app import llm

    before = set(llm._warm)  # models other tests of this process left loaded
    assert main(["chat", "demo", "--once", "hi", "--backend", "embedded", "--json"]) == 0
    assert '"reply"' in capsys.readouterr().out
    assert all(repack is False for *_, repack in set(llm._warm) - before)
    assert any(repack is False for *_, repack in llm._warm), list(llm._warm)
