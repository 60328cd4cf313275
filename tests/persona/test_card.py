"""PersonaCard: TOML <-> store round trip, validation."""

from __future__ import annotations

import pytest

from tests.persona.conftest import EN_CHAT, add_persona
from voice_app.conversation.persona_data import load_card, save_card
from voice_app.core.errors import PersonaNotFoundError
from voice_app.persona.card import CardError, PersonaCard
from voice_app.storage.store import Store


def full_card() -> PersonaCard:
    return PersonaCard(
        them_name="Alex",
        me_name="Sam",
        they_called_me=["babe", "Sammy"],
        i_called_them=["Al"],
        together_from="2019-03",
        together_until="2023-08",
        how_it_ended='They took the job in Amsterdam; "it is not about you", they said.',
        shared_memories=["the goose at the lake house", "Lisbon concert\nin the rain"],
        recurring_arguments=["work before us"],
        triggers_avoid=["the wedding"],
        triggers_face=["why they stopped calling"],
        unresolved_questions=["Did you ever want to stay?"],
        boundaries=["never say we will get back together"],
        languages=["English", "中文"],
        notes="Tab\tand backslash \\ and DEL \x7f kept.",
        extra={"mood": "wry", "ratings": [1, 2]},
    )


def test_toml_round_trip_keeps_every_field() -> None:
    card = full_card()
    text = card.to_toml()
    assert "# What they called you" in text
    assert PersonaCard.from_toml(text) == card


def test_card_round_trips_through_the_store(store: Store) -> None:
    add_persona(store, "alex", EN_CHAT)
    card = full_card()
    save_card(store, "alex", card)
    assert store.get_persona("alex").card["boundaries"] == ["never say we will get back together"]
    again = load_card(store, "alex")
    assert again == card
    assert PersonaCard.from_toml(again.to_toml()) == card


def test_empty_card_takes_the_names_from_the_import(store: Store) -> None:
    add_persona(store, "alex", EN_CHAT, them="Alex P", me="Sam K")
    card = load_card(store, "alex")
    assert (card.them_name, card.me_name) == ("Alex P", "Sam K")
    assert not PersonaCard().to_dict()["boundaries"]


def test_invalid_cards_are_typed_errors(store: Store) -> None:
    with pytest.raises(CardError, match="not valid TOML"):
        PersonaCard.from_toml("boundaries = [unclosed")
    with pytest.raises(CardError, match="list of strings"):
        PersonaCard.from_toml("boundaries = [1, 2]")
    with pytest.raises(CardError, match="must be a string"):
        PersonaCard.from_toml("how_it_ended = 3")
    assert PersonaCard.from_toml('languages = "English"').languages == ["English"]
    with pytest.raises(PersonaNotFoundError):
        load_card(store, "nobody")
