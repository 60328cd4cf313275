"""Prompt assembly: a fixed persona prefix (byte-identical every turn), then history and the new line."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from voice_app.llm.base import Message
from voice_app.store import Store, StoredMessage

SAMPLE_SIZE = 40


@dataclass(frozen=True)
class PersonaPrompt:
    """The fixed part of a persona's prompt; `prefix` must not change during a session."""

    persona: str
    them: str
    me: str
    system: str

    @property
    def prefix(self) -> list[Message]:
        return [{"role": "system", "content": self.system}]

    def turn(self, history: list[tuple[str, str]], user_line: str) -> TurnPrompt:
        """The messages for one turn: prefix + earlier turns of this session + the user's new line."""
        out = list(self.prefix)
        for said, heard in history:
            out.append({"role": "user", "content": said})
            out.append({"role": "assistant", "content": heard})
        out.append({"role": "user", "content": user_line})
        return TurnPrompt(out, [])


@dataclass(frozen=True)
class TurnPrompt:
    """What one turn sends to the model, and which real past messages it drew on (shown in the UI)."""

    messages: list[Message]
    memories: list[dict[str, Any]] = field(default_factory=list)


def stable_sample(messages: list[StoredMessage], size: int = SAMPLE_SIZE) -> list[StoredMessage]:
    """Evenly spaced picks, the same every time for the same history (keeps the prefix identical)."""
    if len(messages) <= size:
        return messages
    step = len(messages) / size
    return [messages[int(i * step)] for i in range(size)]


def build_prompt(store: Store, persona_name: str) -> PersonaPrompt:
    """A simple persona prompt from the imported messages: who they are and how they wrote."""
    persona = store.get_persona(persona_name)
    theirs = [m for m in store.messages(persona_name) if m.from_them and m.kind == "text" and m.text.strip()]
    them, me = persona.them_name, persona.me_name or "me"
    lines = [
        f"You are {them}, texting with {me}, your ex. Write exactly the way {them} writes in the real"
        f" messages below: the same length, tone, slang, punctuation and habits. Stay in character as"
        f" {them}: honest, imperfect, with your own opinions; not a therapist, not always agreeable.",
        "Reply with plain text messages only, no markdown, no lists, no stage directions.",
        "",
        f"Real messages {them} sent:",
    ]
    lines += [f"- {m.text}" for m in stable_sample(theirs)]
    return PersonaPrompt(persona=persona_name, them=them, me=me, system="\n".join(lines))
