"""Local language models: the ChatModel protocol; the embedded llama.cpp, Ollama and OpenAI-compatible backends."""

from __future__ import annotations

import atexit
import threading
from pathlib import Path
from typing import TYPE_CHECKING

from voice_app.core import assets, config
from voice_app.core.cancel import CancelToken
from voice_app.core.errors import ConfigError
from voice_app.llm.backends import check_local, choose_backend
from voice_app.llm.base import ChatModel, GenerationOptions, Message, ModelInfo

if TYPE_CHECKING:
    from voice_app.llm.embedded import EmbeddedChat

__all__ = ["CancelToken", "ChatModel", "GenerationOptions", "Message", "ModelInfo", "open_chat_model"]

_warm: dict[tuple[str, int, int, bool], EmbeddedChat] = {}
_warm_lock = threading.Lock()


@atexit.register
def _close_warm_models() -> None:
    """Free llama.cpp models before the interpreter tears down the modules their destructors need."""
    with _warm_lock:
        for model in _warm.values():
            model.close()
        _warm.clear()


def open_chat_model(settings: config.Settings | None = None, *, encrypted: bool = True) -> ChatModel:
    """The model the settings ask for; the embedded one is loaded once per process and kept warm.

    `encrypted`: the store's data is encrypted at rest (`Store.encryption_state`, the one source of
    truth), so nothing derived from the plaintext prompt (the KV prefix cache) may be written.
    """
    settings = settings or config.load()
    backend = choose_backend(settings)
    if backend == "openai":
        from voice_app.llm.openai_chat import OpenAIChat

        url = settings.llm.openai_base_url
        if not url:
            raise ConfigError(
                "llm.backend is openai but no server address is set.",
                fix="`voice-app config set llm.openai_base_url http://127.0.0.1:8080/v1` (your server's /v1 URL).",
            )
        check_local(url, settings, "The OpenAI-compatible server", "llm.openai_base_url")
        server = OpenAIChat(url, settings.llm.openai_model, context_size=settings.llm.context_size)
        server.check()
        return server
    if backend == "ollama":
        from voice_app.llm.ollama_chat import OllamaChat

        check_local(settings.ollama_host(), settings)
        chat = OllamaChat(
            settings.llm.ollama_model,
            host=settings.ollama_host(),
            context_size=settings.llm.context_size,
            keep_alive=settings.llm.keep_alive,
        )
        chat.check()
        return chat
    from voice_app.llm.embedded import EmbeddedChat

    found = assets.resolve_configured("llm", settings)
    repack = settings.llm.repacks()
    key = (str(found.path), settings.llm.context_size, settings.llm.threads, repack)
    with _warm_lock:
        if key not in _warm:
            _warm[key] = EmbeddedChat(
                found.path,
                model_name=found.id if found.id != "custom" else found.path.name,
                context_size=settings.llm.context_size,
                threads=settings.llm.threads,
                repack_weights=repack,
                cpu_variant=settings.llm.cpu_variant,
            )
        model = _warm[key]
        # Derived from private messages: kept in the current data dir, and not at all once encryption is on.
        model.use_prefix_cache(None if encrypted else prefix_cache_dir())
        return model


def prefix_cache_dir() -> Path:
    """Where evaluated persona prefixes (llama.cpp KV state) are kept between sessions."""
    return config.data_dir() / "cache" / "prefix"


def generation_options(settings: config.Settings, seed: int | None = None) -> GenerationOptions:
    """Sampling options from the settings."""
    return GenerationOptions(temperature=settings.llm.temperature, max_tokens=settings.llm.max_reply_tokens, seed=seed)
