"""What the screens read and write, in one adapter over store, importer, persona and sessions.

Screens call these methods from worker threads (the store is thread-safe); nothing here knows Textual.
Tests swap in fixed data by subclassing `Services` (see tests/tui/fakes.py).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from voice_app.core import config
from voice_app.core.records import SessionInfo
from voice_app.storage.store import Store

if TYPE_CHECKING:
    from voice_app.chatlog.model import Conversation as ChatLog
    from voice_app.conversation.importing import ImportResult


@dataclass
class MachineStatus:
    """The home screen's status line."""

    backend: str = "?"  # "embedded (qwen2.5-1.5b)" | "ollama (model at host)"
    models_loaded: list[str] = field(default_factory=list)
    mic: str | None = None  # the microphone's name, None when there is none

    def line(self) -> str:
        loaded = ", ".join(self.models_loaded) if self.models_loaded else "none yet"
        mic = f"mic: {self.mic}" if self.mic else "mic: none (typed input)"
        return f"backend: {self.backend}  ·  models loaded: {loaded}  ·  {mic}"


@dataclass
class Preview:
    """What `inspect` found in an export, plus the parsed conversation to import."""

    path: Path
    summary: dict[str, Any]
    conversation: ChatLog | None = None

    @property
    def participants(self) -> list[str]:
        return [p["name"] for p in self.summary.get("participants", [])]


@dataclass
class CardForm:
    """A persona card as the form edits it: strings and lists of strings."""

    fields: dict[str, str | list[str]]
    help: dict[str, str]
    lists: set[str]


class Services:
    """The app's access to the user's data. One store, opened before the app starts."""

    def __init__(self, store: Store, settings: config.Settings | None = None) -> None:
        self.store = store
        self.settings = settings or config.load()
        self.export_dir: Path | None = None  # None: the current directory, as the CLI does

    # --- home ------------------------------------------------------------------------------------

    def personas(self) -> list[dict[str, Any]]:
        return self.store.list_personas()

    def sessions(self, persona: str | None = None, limit: int = 20) -> list[SessionInfo]:
        return self.store.list_sessions(persona)[:limit]

    def machine_status(self) -> MachineStatus:
        """Backend in use, models held in memory and the microphone; probes quickly (Ollama: 1 s)."""
        from voice_app import llm
        from voice_app.llm.backends import choose_backend

        settings = self.settings
        choice = choose_backend(settings)
        if choice == "ollama":
            backend = f"ollama ({settings.llm.ollama_model})"
        else:
            backend = f"embedded ({settings.llm.embedded_model if not settings.llm.gguf_path else 'custom GGUF'})"
        loaded = [Path(key[0]).name.split(".")[0] for key in list(llm._warm)]
        return MachineStatus(backend, ["llm"] if loaded else [], microphone_name(settings))

    def doctor(self) -> list[tuple[str, bool, bool, str, str | None]]:
        """(name, ok, required, detail, fix) for each `voice-app doctor` check."""
        from voice_app.conversation import doctor

        checks = doctor.run_checks(settings=self.settings)
        return [(name, c.ok, c.required, c.detail, c.fix) for name, c in checks.items()]

    # --- import ------------------------------------------------------------------------------------

    def inspect(self, path: Path, progress: Callable[[int, int], None] | None = None) -> Preview:
        from voice_app import chatlog

        conv = chatlog.load(path, progress=progress)
        return Preview(path, chatlog.summarize(conv), conv)

    def persona_exists(self, name: str) -> bool:
        return self.store.find_persona(name) is not None

    def import_preview(
        self, preview: Preview, *, persona: str, them: str, me: str | None, consent: bool
    ) -> ImportResult:
        """Store the previewed conversation."""
        from voice_app.conversation.importing import import_conversation
        from voice_app.core.records import now_iso

        assert preview.conversation is not None, "a preview without a parsed conversation"
        consent_at = now_iso() if consent else None
        return import_conversation(
            self.store,
            preview.conversation,
            persona=persona,
            them=them,
            me=me,
            source=preview.path,
            consent_at=consent_at,
        )

    def consent_text(self, persona: str, them: str) -> str:
        from voice_app.care.consent import consent_text

        return consent_text(persona, them)

    # --- persona card and style -----------------------------------------------------------------------

    def card(self, persona: str) -> CardForm:
        from voice_app.conversation.persona_data import load_card
        from voice_app.persona.card import FIELD_HELP, LIST_FIELDS

        card = load_card(self.store, persona)
        data = card.to_dict()
        return CardForm({name: data.get(name, "") for name in FIELD_HELP}, dict(FIELD_HELP), set(LIST_FIELDS))

    def save_card(self, persona: str, values: dict[str, str | list[str]]) -> None:
        from voice_app.conversation.persona_data import load_card, save_card
        from voice_app.persona.card import PersonaCard

        current = load_card(self.store, persona).to_dict()
        current.update(values)
        save_card(self.store, persona, PersonaCard.from_dict(current))

    def style_summary(self, persona: str) -> str:
        from voice_app.conversation.persona_data import style_for

        them = self.store.get_persona(persona).them_name or persona
        profile = style_for(self.store, persona)
        return f"{profile.messages} messages from {them} in {profile.bursts} bursts.\n" + profile.summary(them)

    def persona_header(self, persona: str) -> dict[str, Any]:
        p = self.store.get_persona(persona)
        return {
            "name": p.name,
            "them": p.them_name,
            "me": p.me_name,
            "messages": self.store.message_count(persona),
            "consent_at": p.consent_at,
        }

    # --- sessions --------------------------------------------------------------------------------

    def session(self, session_id: int) -> SessionInfo:
        return self.store.get_session(session_id)

    def turns(self, session_id: int) -> list[dict[str, Any]]:
        return self.store.turns(session_id)

    def names(self, persona: str) -> tuple[str, str]:
        p = self.store.get_persona(persona)
        return p.them_name or persona, p.me_name or "You"

    def export(self, session_id: int, fmt: str) -> Path:
        from voice_app.conversation import sessions

        folder = self.export_dir or Path.cwd()
        return sessions.export_session(self.store, session_id, fmt, folder / f"voice_app-session-{session_id}.{fmt}")

    def audio_player(self) -> Callable[[np.ndarray, int], None] | None:
        """Plays a clip through the speaker (blocking), or None when there is no output device."""
        from voice_app.conversation import sessions

        if output_name(self.settings) is None:
            return None
        return sessions.speaker_player(self.settings.audio.output_device)

    def read_audio(self, ref: str | None) -> tuple[np.ndarray, int] | None:
        return self.store.read_audio(ref)


def _devices(kind: str) -> list[dict[str, Any]]:
    try:
        import sounddevice as sd

        devices = list(sd.query_devices())
    except Exception:  # noqa: BLE001 - no PortAudio, or a host error: no device
        return []
    channels = "max_input_channels" if kind == "input" else "max_output_channels"
    return [d for d in devices if d.get(channels, 0) > 0]


def microphone_name(settings: config.Settings) -> str | None:
    usable = _devices("input")
    return str(usable[0]["name"]) if usable else None


def output_name(settings: config.Settings) -> str | None:
    usable = _devices("output")
    return str(usable[0]["name"]) if usable else None
