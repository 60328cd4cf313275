"""Which LLM backend to use: probe Ollama cheaply and apply the `llm.backend` setting."""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import httpx

from voice_app.core import config
from voice_app.core.errors import RemoteServerNotAllowedError


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


def is_local(url: str) -> bool:
    """True when `url` names this machine (localhost, a loopback address); names are resolved, never trusted."""
    host = urlsplit(url if "://" in url else f"http://{url}").hostname or ""
    if host in ("localhost", "localhost.localdomain") or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, None)
    except (OSError, UnicodeError):
        return False
    return bool(infos) and all(ipaddress.ip_address(info[4][0]).is_loopback for info in infos)


def check_local(url: str, settings: config.Settings, what: str = "The Ollama server", source: str = "") -> None:
    """Refuse a model server on another machine unless `llm.allow_remote` is on."""
    if not settings.llm.allow_remote and not is_local(url):
        source = source or ("llm.ollama_host" if settings.llm.ollama_host else "the OLLAMA_HOST environment variable")
        raise RemoteServerNotAllowedError(
            f"{what} at {url} is not on this machine (it came from {source});"
            " the persona's private messages would be sent there, so it is not used."
        )


def model_available(wanted: str, names: list[str]) -> bool:
    """Ollama names carry a tag; `llama3` means `llama3:latest`."""
    full = wanted if ":" in wanted else f"{wanted}:latest"
    return wanted in names or full in names


def choose_backend(settings: config.Settings, ollama_ok: bool | None = None) -> str:
    """'ollama', 'openai' or 'embedded': `auto` picks Ollama when it is reachable and has the model.

    An OpenAI-compatible server is used only when chosen (`llm.backend openai`).
    """
    if settings.llm.backend in ("ollama", "openai", "embedded"):
        return settings.llm.backend
    if not settings.llm.allow_remote and not is_local(settings.ollama_host()):
        return "embedded"  # a remote host is never contacted, not even probed, without the user's say
    if ollama_ok is None:
        status = probe_ollama(settings.ollama_host())
        ollama_ok = status.reachable and model_available(settings.llm.ollama_model, status.models)
    return "ollama" if ollama_ok else "embedded"
