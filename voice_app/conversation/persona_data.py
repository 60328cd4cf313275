"""A persona's data read from the store and handed to the pure persona code: card, style profile, prompt."""

from __future__ import annotations

import json
from collections.abc import Sequence

from voice_app.core.records import StoredMessage
from voice_app.persona import text as tx
from voice_app.persona.card import PersonaCard
from voice_app.persona.prompt import PersonaPrompt, compose_prompt
from voice_app.persona.style import STYLE_VERSION, StyleProfile, compute_style
from voice_app.storage.store import Store


def load_card(store: Store, persona_name: str) -> PersonaCard:
    """The stored card, with the names defaulting to how they appear in the imports."""
    persona = store.get_persona(persona_name)
    card = PersonaCard.from_dict(persona.card)
    card.them_name = card.them_name or persona.them_name
    card.me_name = card.me_name or persona.me_name
    return card


def save_card(store: Store, persona_name: str, card: PersonaCard) -> None:
    """Store the card; the cached style profile is dropped (it uses the card's pet names)."""
    store.update_card(persona_name, card.to_dict())
    store.save_style(store.get_persona(persona_name).id, None)


def style_for(store: Store, persona_name: str, burst_list: Sequence[tx.Burst] | None = None) -> StyleProfile:
    """The cached profile from `personas.style`, computed and stored when missing or outdated."""
    persona = store.get_persona(persona_name)
    cached = store.cached_style(persona.id)
    if cached:
        try:
            data = json.loads(cached)
            if data.get("version") == STYLE_VERSION:
                return StyleProfile.from_dict(data)
        except (ValueError, TypeError):
            pass
    if burst_list is None:
        burst_list = tx.bursts(store.messages(persona_name))
    card = PersonaCard.from_dict(persona.card)
    profile = compute_style(burst_list, pet_names=card.they_called_me)
    store.save_style(persona.id, profile.to_json())
    return profile


def build_prompt(store: Store, persona_name: str) -> PersonaPrompt:
    """The persona prompt from the store: card, cached style profile, sampled and retrievable exchanges."""
    card = load_card(store, persona_name)
    messages: list[StoredMessage] = store.messages(persona_name)
    them = card.them_name or "them"
    me = card.me_name or "me"
    burst_list = tx.bursts(messages)
    style = style_for(store, persona_name, burst_list)
    return compose_prompt(persona_name, card, messages, them=them, me=me, style=style)
