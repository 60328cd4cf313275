"""Prompt assembly: a byte-identical prefix, per-turn memories after it, wired into Conversation."""

from __future__ import annotations

import json

from tests.persona.conftest import EN_CHAT, ZH_CHAT, add_persona
from tests.persona.fakes import EchoModel
from voice_app.conversation.conversation import Conversation
from voice_app.conversation.importing import ensure_demo
from voice_app.conversation.persona_data import build_prompt, save_card
from voice_app.persona import text as tx
from voice_app.persona.card import PersonaCard
from voice_app.persona.prompt import clean_reply, neutral_prompt
from voice_app.storage.store import Store


def test_prefix_is_byte_identical_across_turns_and_builds(store: Store) -> None:
    ensure_demo(store)
    first = build_prompt(store, "demo")
    second = build_prompt(store, "demo")  # the second read comes from the cached style profile
    dump = json.dumps(first.prefix, ensure_ascii=False)
    assert dump == json.dumps(second.prefix, ensure_ascii=False)
    turn1 = first.turn([], "do you remember the goose?")
    turn2 = first.turn([("do you remember the goose?", "of course")], "why did you leave?")
    n = len(first.prefix)
    assert turn1.messages[:n] == first.prefix == turn2.messages[:n]
    assert json.dumps(turn2.messages[:n], ensure_ascii=False) == dump
    # history follows the prefix unchanged; only the last user message carries the retrieved exchanges
    assert turn2.messages[n : n + 2] == [
        {"role": "user", "content": "do you remember the goose?"},
        {"role": "assistant", "content": "of course"},
    ]
    assert turn2.messages[-1]["role"] == "user" and turn2.messages[-1]["content"].endswith("why did you leave?")


def test_prefix_holds_card_style_and_real_sample(store: Store) -> None:
    add_persona(store, "alex", EN_CHAT)
    card = PersonaCard(
        they_called_me=["Sammy"],
        shared_memories=["the goose at the lake house"],
        boundaries=["never say we will get back together"],
        unresolved_questions=["why did you stop calling?"],
    )
    save_card(store, "alex", card)
    prompt = build_prompt(store, "alex")
    system = prompt.prefix[0]["content"]
    assert prompt.prefix[0]["role"] == "system" and prompt.them == "Alex" and prompt.me == "Sam"
    for needle in ("Alex called Sam: Sammy", "the goose at the lake house", "Never: never say we will get back"):
        assert needle in system
    assert "starts lowercase" in system and "No markdown" in system
    assert "simulation" in system and "deny" not in system.lower() and "never reveal" not in system.lower()
    # the stable sample: real exchanges replayed as earlier turns
    assert prompt.prefix[1] == {"role": "user", "content": "are you coming to the lake house this weekend?"}
    assert prompt.prefix[2] == {"role": "assistant", "content": "yeah babe\nwouldn't miss it haha 😂"}
    assert tx.approx_tokens(json.dumps(prompt.prefix, ensure_ascii=False)) < 900


def test_turn_records_the_memories_it_used(store: Store) -> None:
    add_persona(store, "alex", EN_CHAT)
    prompt = build_prompt(store, "alex")
    turn = prompt.turn([], "remember the concert in Lisbon?")
    assert turn.memories and turn.memories[0].you == "I got the tickets for the concert in Lisbon"
    last = turn.messages[-1]["content"]
    assert "Sam: I got the tickets for the concert in Lisbon" in last and "Alex: omg yes!! / Best news" in last
    added = tx.approx_tokens(last) - tx.approx_tokens("remember the concert in Lisbon?")
    assert added <= 200
    assert prompt.turn([], "qqq zzz").messages[-1]["content"] == "qqq zzz"  # nothing relevant: the bare line


def test_chinese_persona_prompt(store: Store) -> None:
    add_persona(store, "xiaomei", ZH_CHAT, them="小美", me="阿杰")
    prompt = build_prompt(store, "xiaomei")
    assert "Chinese 100%" in prompt.system and "小美" in prompt.system
    turn = prompt.turn([], "你还记得西湖吗")
    assert turn.memories[0].them.startswith("记得啊")


def test_chat_session_stores_the_memories_of_each_turn(store: Store) -> None:
    add_persona(store, "alex", EN_CHAT)
    model = EchoModel()
    session = Conversation(store, "alex", model=model)
    session.warm_up()
    result = session.reply("remember the concert in Lisbon?", seed=1)
    session.reply("qqq zzz", seed=1)
    session.end()
    assert model.warmed == [session.prompt.prefix]
    n = len(session.prompt.prefix)
    assert all(call[:n] == session.prompt.prefix for call in model.calls)
    turns = store.turns(session.session_id)
    assert turns[0]["reply_text"] == result.reply
    assert turns[0]["memories"][0]["you"] == "I got the tickets for the concert in Lisbon"
    assert turns[1]["memories"] == []


def test_clean_reply_and_neutral_prompt() -> None:
    raw = 'Alex: **hey**\n"ok then"\n\n- fine\nSam: and you?'
    assert clean_reply(raw, "Alex", "Sam") == "hey\nok then\nfine"
    assert clean_reply("Note: this is fine", "Alex") == "Note: this is fine"
    base = neutral_prompt("Alex", "Sam")
    assert len(base.prefix) == 1 and base.turn([], "hi").messages[-1] == {"role": "user", "content": "hi"}
