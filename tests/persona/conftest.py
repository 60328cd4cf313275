"""Stores with crafted chat histories for the persona tests."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta

import pytest

from voice_app.core import config
from voice_app.storage.store import Store

Line = tuple[bool, str]  # (from_them, text)
MakePersona = Callable[..., Store]


def add_persona(
    store: Store, name: str, lines: Sequence[Line], *, them: str = "Alex", me: str = "Sam", gap_s: int = 60
) -> None:
    """Store `lines` as one conversation, one message every `gap_s` seconds from 2023-01-01 10:00."""
    start = datetime(2023, 1, 1, 10, 0)
    rows = []
    for i, (from_them, text) in enumerate(lines):
        ts = (start + timedelta(seconds=i * gap_s)).isoformat()
        sender = them if from_them else me
        digest = hashlib.sha256(f"{i}{text}".encode()).hexdigest()[:24]
        rows.append((ts, sender, from_them, "text", text, False, None, None, digest))
    with store.transaction() as conn:
        persona_id = store.create_persona(conn, name, them_name=them, me_name=me, consent_at="test")
        store.add_conversation(
            conn,
            persona_id,
            source_format="test",
            source_name=f"{name}.txt",
            source_sha256=name,
            participants=[them, me],
            rows=rows,
        )


@pytest.fixture
def store() -> Store:
    with Store(config.data_dir() / "test.sqlite3") as s:
        yield s


EN_CHAT: list[Line] = [
    (False, "are you coming to the lake house this weekend?"),
    (True, "yeah babe"),
    (True, "wouldn't miss it haha 😂"),
    (False, "did you feed the goose again"),
    (True, "lol the goose is my best friend"),
    (True, "dont judge me"),
    (False, "what time is dinner?"),
    (True, "8 i think"),
    (True, "maybe 9 haha"),
    (False, "I got the tickets for the concert in Lisbon"),
    (True, "omg yes!!"),
    (True, "Best news all week 😂"),
    (False, "why didn't you call me last night?"),
    (True, "i fell asleep, sorry babe"),
    (False, "ok"),
    (True, "dont be like that"),
    (True, "haha"),
]

ZH_CHAT: list[Line] = [
    (False, "你今天吃饭了吗？"),
    (True, "吃了哈哈哈"),
    (True, "宝贝你呢"),
    (False, "还没，等你一起去火锅店"),
    (True, "好呀好呀"),
    (True, "老地方见😘"),
    (False, "周末去不去爬山？"),
    (True, "不去了，太累了哈哈"),
    (False, "我们以前在西湖边散步你还记得吗"),
    (True, "记得啊，那天下雨了"),
    (True, "你还把伞弄丢了哈哈哈"),
]
