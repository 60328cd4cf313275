"""Memory: BM25 retrieval over real (you -> them) exchanges, CJK-aware."""

from __future__ import annotations

import numpy as np

from tests.persona.conftest import EN_CHAT, ZH_CHAT
from tests.persona.test_style import messages
from voice_app.persona import text as tx
from voice_app.persona.memory import MemoryIndex


def index(lines: list[tuple[bool, str]]) -> MemoryIndex:
    return MemoryIndex(tx.exchanges(tx.bursts(messages(lines))))


def test_exchanges_pair_your_burst_with_their_reply() -> None:
    exchanges = tx.exchanges(tx.bursts(messages(EN_CHAT)))
    assert len(exchanges) == 6
    first = exchanges[0]
    assert first.you == ("are you coming to the lake house this weekend?",)
    assert first.them == ("yeah babe", "wouldn't miss it haha 😂")
    assert first.to_dict() == {
        "id": 2,
        "ts": "2023-01-01T10:01:00",
        "you": "are you coming to the lake house this weekend?",
        "them": "yeah babe\nwouldn't miss it haha 😂",
    }


def test_a_reply_after_a_long_silence_is_not_an_exchange() -> None:
    lines = [(False, "are you there?"), (True, "yes")]
    assert tx.exchanges(tx.bursts(messages(lines, gap_s=13 * 3600))) == []


def test_retrieval_finds_the_right_exchange() -> None:
    memory = index(EN_CHAT)
    best = memory.search("remember when we went to the Lisbon concert?", k=3)
    assert best[0][0].you == ("I got the tickets for the concert in Lisbon",)
    goose = memory.recall("how is the goose doing", k=2)
    assert goose[0].them.startswith("lol the goose is my best friend")
    assert set(goose[0].to_dict()) == {"id", "ts", "you", "them", "score"}
    assert memory.search("zzz qqq") == []
    assert memory.search("the and of") == []  # only stopwords and nothing indexed under them


def test_chinese_retrieval_uses_characters_and_bigrams() -> None:
    memory = index(ZH_CHAT)
    hit = memory.search("还记得西湖吗", k=1)[0][0]
    assert hit.them == ("记得啊，那天下雨了", "你还把伞弄丢了哈哈哈")
    assert memory.search("火锅", k=1)[0][0].them == ("好呀好呀", "老地方见😘")


def test_recall_respects_the_token_budget() -> None:
    long = "the concert " + "very long story " * 60
    memory = index([(False, long), (True, long), (False, "concert?"), (True, "yes the concert")])
    out = memory.recall("concert", k=3, max_tokens=60)
    assert 1 <= len(out) <= 2
    assert all(len(item.you) <= 170 for item in out)
    assert index([]).recall("anything") == []


# A history where what the user later says shares no word with the exchange it means.
MEANING_CHAT = [
    (False, "we rowed out to the middle of the lake and you dropped an oar"),
    (True, "and you laughed so hard the boat almost tipped over"),
    (False, "did you feed the cat"),
    (True, "yes she ate everything"),
    (False, "the train was late again"),
    (True, "ugh typical, see you at 8"),
    (False, "my sister is visiting next week"),
    (True, "tell her I said hi"),
    (False, "I burned the pasta"),
    (True, "order pizza then lol"),
    (False, "your mom called me about the party"),
    (True, "oh no what did she say"),
]


def semantic_index(lines: list[tuple[bool, str]]) -> MemoryIndex:
    """The index the app builds: BM25 plus the real multilingual-e5 embeddings."""
    from voice_app.llm.embedding import shared
    from voice_app.persona.memory import MemoryVectors, exchange_passage, passage_key

    exchanges = tx.exchanges(tx.bursts(messages(lines)))
    embedder = shared()
    passages = [exchange_passage(ex) for ex in exchanges]
    vectors = MemoryVectors("e5", tuple(passage_key(p) for p in passages), embedder.passage(passages))
    return MemoryIndex(exchanges, vectors, lambda line: embedder.query([line])[0])


def test_a_paraphrase_and_a_chinese_line_find_the_exchange_that_bm25_alone_misses() -> None:
    words_only = index(MEANING_CHAT)
    hybrid = semantic_index(MEANING_CHAT)
    assert hybrid.semantic and not words_only.semantic
    for query in ("remember when we were paddling out on the water?", "你还记得我们在湖上划船吗"):
        assert not any("oar" in " ".join(ex.you) for ex, _ in words_only.search(query, k=3)), query
        found = hybrid.search(query, k=1)
        assert found and "oar" in " ".join(found[0][0].you), (query, found)


def test_a_line_that_means_nothing_in_the_history_finds_nothing_by_meaning() -> None:
    hybrid = semantic_index(MEANING_CHAT)
    assert hybrid.search("what do you think about quantum computing", k=3) == []
    # words still count: an exact topic comes first
    assert "pasta" in " ".join(hybrid.search("the pasta", k=1)[0][0].you)


def test_vectors_round_trip_through_their_stored_form() -> None:
    from voice_app.persona.memory import MemoryVectors

    hybrid_vectors = MemoryVectors("m", ("a", "b"), np.eye(2, 384, dtype=np.float32))
    back = MemoryVectors.from_json(hybrid_vectors.to_json())
    assert back.model == "m" and back.keys == ("a", "b") and np.allclose(back.matrix, hybrid_vectors.matrix, atol=1e-3)
