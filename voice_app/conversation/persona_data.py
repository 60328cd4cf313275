"""A persona's data read from the store and handed to the pure persona code: card, style profile, prompt."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Sequence

import numpy as np

from voice_app.core.errors import VoiceAppError
from voice_app.core.records import Correction, StoredMessage
from voice_app.llm.embedding import Embedder
from voice_app.llm.embedding import shared as shared_embedder
from voice_app.persona import text as tx
from voice_app.persona.card import PersonaCard
from voice_app.persona.language import SAMPLE, conversation_language
from voice_app.persona.memory import EmbedQuery, MemoryVectors, exchange_passage, passage_key
from voice_app.persona.prompt import PersonaPrompt, compose_prompt
from voice_app.persona.style import STYLE_VERSION, StyleProfile, compute_style
from voice_app.storage.store import Store

log = logging.getLogger(__name__)

EMBED_LIMIT = 3000  # the latest exchanges embedded (~15 ms each on 2 cores); older ones are found by words
EMBED_BATCH = 64


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
    profile = compute_style(burst_list, pet_names=card.they_called_me, era=card.as_they_were)
    store.save_style(persona.id, profile.to_json())
    return profile


def speech_language(store: Store, persona_name: str) -> str:
    """The language the two wrote in ("en", "zh", or "" when unsure): it picks the speech recognizer."""
    return conversation_language([m.text for m in store.messages(persona_name, latest=SAMPLE)])


def build_prompt(store: Store, persona_name: str) -> PersonaPrompt:
    """The persona prompt from the store: card, cached style profile, sampled and retrievable exchanges."""
    card = load_card(store, persona_name)
    messages: list[StoredMessage] = store.messages(persona_name)
    them = card.them_name or "them"
    me = card.me_name or "me"
    burst_list = tx.bursts(messages)
    style = style_for(store, persona_name, burst_list)
    embedder = _embedder()
    vectors = memory_vectors(store, persona_name, tx.exchanges(burst_list), embedder) if embedder else None
    return compose_prompt(
        persona_name,
        card,
        messages,
        them=them,
        me=me,
        style=style,
        memory_vectors=vectors,
        embed_query=_query_function(embedder) if embedder and vectors else None,
        corrections=store.corrections(persona_name),
    )


def _embedder() -> Embedder | None:
    """The multilingual embedder, or None (logged) when it cannot load: memories are then found by words."""
    try:
        return shared_embedder()
    except (VoiceAppError, OSError) as exc:
        log.warning("memories found by words only: %s", exc)
        return None


def _query_function(embedder: Embedder) -> EmbedQuery:
    def embed(line: str) -> np.ndarray:
        row: np.ndarray = embedder.query([line])[0]
        return row

    return embed


def embedding_model_id(embedder: Embedder) -> str:
    stat = embedder.model_path.stat()
    return f"{embedder.model_path.name}:{stat.st_size}:passage"


def memory_vectors(
    store: Store,
    persona_name: str,
    exchanges: Sequence[tx.Exchange] | None = None,
    embedder: Embedder | None = None,
    progress: Callable[[int, int], None] | None = None,
    shipped: MemoryVectors | None = None,
) -> MemoryVectors | None:
    """The embeddings of the persona's latest exchanges: stored ones reused, missing ones computed and stored.

    Called after each import (and on first use for a store made before embeddings existed).
    `shipped`: rows computed before for the same texts (the demo histories), reused when the model matches.
    """
    embedder = embedder or _embedder()
    if embedder is None:
        return None
    persona = store.get_persona(persona_name)
    if exchanges is None:
        exchanges = tx.exchanges(tx.bursts(store.messages(persona_name)))
    model = embedding_model_id(embedder)
    passages = {passage_key(p): p for p in (exchange_passage(ex) for ex in list(exchanges)[-EMBED_LIMIT:])}
    known: dict[str, np.ndarray] = {}
    stored = store.memory_vectors(persona.id)
    if stored:
        try:
            old = MemoryVectors.from_json(stored)
            if old.model == model:
                known = old.rows()
        except (ValueError, KeyError, TypeError):
            log.warning("stored memory embeddings of %s are unreadable; computing them again", persona_name)
    if set(passages) == set(known):
        return MemoryVectors(model, tuple(known), np.stack(list(known.values())) if known else _empty())
    if shipped is not None and shipped.model == model:
        known = {**shipped.rows(), **known}
    vectors = embed_exchanges(list(passages.values()), embedder, known, progress)
    store.save_memory_vectors(persona.id, vectors.to_json())
    return vectors


def embed_exchanges(
    passages: Sequence[str],
    embedder: Embedder,
    known: dict[str, np.ndarray] | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> MemoryVectors:
    """Embeddings of exchange passages (`exchange_passage`), reusing `known` rows by passage key."""
    rows = dict(known or {})
    keys = tuple(dict.fromkeys(passage_key(p) for p in passages))
    text = {passage_key(p): p for p in passages}
    missing = [key for key in keys if key not in rows]
    for start in range(0, len(missing), EMBED_BATCH):
        batch = missing[start : start + EMBED_BATCH]
        for key, row in zip(batch, embedder.passage([text[k] for k in batch]), strict=True):
            rows[key] = row
        if progress:
            progress(min(start + EMBED_BATCH, len(missing)), len(missing))
    return MemoryVectors(embedding_model_id(embedder), keys, np.stack([rows[k] for k in keys]) if keys else _empty())


def query_function(embedder: Embedder) -> EmbedQuery:
    """The user's line → its embedding (what MemoryIndex searches with)."""
    return _query_function(embedder)


def _empty() -> np.ndarray:
    return np.zeros((0, 384), dtype=np.float32)


def corrections(store: Store, persona_name: str) -> list[Correction]:
    """The persona's "they wouldn't say that" corrections, oldest first."""
    return store.corrections(persona_name)


def undo_correction(store: Store, persona_name: str, correction_id: int) -> Correction:
    """Remove one correction: the next session's replies no longer follow it."""
    return store.remove_correction(persona_name, correction_id)
