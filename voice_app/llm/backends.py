"""Which LLM backend to use: probe Ollama cheaply and apply the `llm.backend` setting."""

from __future__ import annotations

from dataclasses import dataclass, field

import httpx

from voice_app import config


@dataclass
class OllamaStatus:
    """What a quick look at an Ollama server found."""

    reachable: bool
    models: list[str] = field(default_factory=list)
    error: str = ""


def probe_ollama(host: str, timeout: float = 1.0) -> OllamaStatus:
    """GET /api/tags with a short timeout; never raises."""
    try:
        response = httpx.get(f"{host}/api/tags", timeout=timeout)
        response.raise_for_status()
        names = [m.get("name") or m.get("model", "") for m in response.json().get("models", [])]
    except (httpx.HTTPError, ValueError, AttributeError) as exc:
        return OllamaStatus(False, error=str(exc))
    return OllamaStatus(True, [n for n in names if n])


def model_available(wanted: str, names: list[str]) -> bool:
    """Ollama names carry a tag; `llama3` means `llama3:latest`."""
    full = wanted if ":" in wanted else f"{wanted}:latest"
    return wanted in names or full in names


def choose_backend(settings: config.Settings, ollama_ok: bool | None = None) -> str:
    """'ollama' or 'embedded': `auto` picks Ollama when it is reachable and has the model."""
    if settings.llm.backend in ("ollama", "embedded"):
        return settings.llm.backend
    if ollama_ok is None:
        status = probe_ollama(settings.ollama_host())
        ollama_ok = status.reachable and model_available(settings.llm.ollama_model, status.models)
    return "ollama" if ollama_ok else "embedded"
