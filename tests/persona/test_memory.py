"""Memory: BM25 retrieval over real (you -> them) exchanges, CJK-aware."""

from __future__ import annotations

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
