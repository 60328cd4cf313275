"""StyleProfile on crafted English and Chinese histories; the cache in personas.style."""

from __future__ import annotations

import json

from tests.persona.conftest import EN_CHAT, ZH_CHAT, add_persona
from voice_app.conversation.persona_data import style_for
from voice_app.core.records import StoredMessage
from voice_app.persona import text as tx
from voice_app.persona.style import StyleProfile, compute_style, end_class
from voice_app.storage.store import Store


def messages(lines: list[tuple[bool, str]], gap_s: int = 60) -> list[StoredMessage]:
    out = []
    for i, (them, text) in enumerate(lines):
        minutes, seconds = divmod(i * gap_s, 60)
        ts = f"2023-01-01T{10 + minutes // 60:02d}:{minutes % 60:02d}:{seconds:02d}"
        out.append(StoredMessage(i + 1, ts, "Alex" if them else "Sam", them, "text", text, 1))
    return out


def profile(lines: list[tuple[bool, str]]) -> StyleProfile:
    return compute_style(tx.bursts(messages(lines)), pet_names=["Sammy"])


def test_tokens_are_cjk_aware() -> None:
    assert tx.tokens("Hi 你好吗 ok") == ["hi", "你", "好", "吗", "你好", "好吗", "ok"]
    assert tx.words("我们去West Lake吧") == ["我", "们", "去", "west", "lake", "吧"]
    assert tx.emoji("ok 👍🏽 ❤️ 👨‍👩‍👧 🇯🇵") == ["👍🏽", "❤", "👨‍👩‍👧", "🇯🇵"]
    assert tx.emoticons("fine :) see http://x.y at 10:30 <3 xD") == [":)", "<3", "xD"]
    assert tx.laughter("hahaha lol 哈哈哈 www ㅋㅋㅋ") == ["hahaha", "lol", "哈哈哈", "www", "ㅋㅋㅋ"]
    assert tx.laughter("visit www.example.com") == []
    assert tx.dominant_script("ok 好的") == "han" and tx.dominant_script("すごい天気") == "kana"


def test_english_profile() -> None:
    p = profile(EN_CHAT)
    assert p.messages == 11 and p.bursts == 6
    assert p.burst_multi_share == round(5 / 6, 4) and p.burst_mean == round(11 / 6, 2)
    assert p.emoji_rate == round(2 / 11, 4) and p.emoji_top[0] == ("😂", 2)
    assert p.laughter_rate == round(4 / 11, 4)
    assert p.laughter_top == [("haha", 3), ("lol", 1)]
    assert p.lowercase_start_share == round(9 / 10, 4)  # "8 i think" starts with a digit
    assert p.lowercase_i_share == 1.0
    assert ("babe", 2) in p.pet_names
    assert p.end_punct["period"] == 0.0 and p.end_punct["exclamation"] == round(1 / 11, 4)
    assert p.multi_punct_rate == round(1 / 11, 4)
    assert p.scripts == {"latin": 1.0}
    assert p.closers == [("haha", 3)]  # edge words need 2+ uses on a small history
    assert p.openers == []
    assert all(count >= 2 for _, count in p.phrases)
    assert p.answers["count"] == 3  # three questions were answered
    assert p.answers["yes_no_share"] == round(1 / 3, 4)
    assert p.reply_delay_median_s == 60.0
    summary = p.summary("Alex")
    assert "starts lowercase" in summary and "several messages in a row" in summary
    assert "babe" in summary and "haha" in summary and "😂" in summary


def test_chinese_profile() -> None:
    p = profile(ZH_CHAT)
    assert p.messages == 7 and p.bursts == 4
    assert p.scripts == {"han": 1.0}
    assert p.laughter_rate == round(3 / 7, 4)
    assert p.laughter_top[0][0].startswith("哈哈")
    assert ("宝贝", 1) in p.pet_names
    assert p.words_median == 5  # CJK characters count as words
    assert p.emoji_top == [("😘", 1)]
    assert ("好呀", 2) in p.phrases
    assert p.answers["count"] == 3
    assert "Chinese 100%" in p.summary("小美")


def test_mixed_languages_and_end_classes() -> None:
    p = profile([(True, "ok 好的"), (True, "see you 明天见"), (True, "good night."), (False, "x")])
    assert p.mixed_script_share == round(2 / 3, 4)
    assert p.scripts == {"han": round(2 / 3, 4), "latin": round(1 / 3, 4)}
    assert [end_class(t) for t in ("hi.", "hi!", "hi?", "hi...", "hi 😂", "hi :)", "hi", "好的。", "好～")] == [
        "period", "exclamation", "question", "ellipsis", "emoji", "emoji", "none", "period", "comma",
    ]  # fmt: skip


def test_profile_is_cached_and_json_round_trips(store: Store) -> None:
    add_persona(store, "alex", EN_CHAT)
    first = style_for(store, "alex")
    raw = store.query("SELECT style FROM personas WHERE name = 'alex'")[0][0]
    assert json.loads(raw)["messages"] == 11
    assert StyleProfile.from_dict(json.loads(raw)) == first
    assert style_for(store, "alex") == first
    assert first == profile(EN_CHAT).__class__.from_dict(first.to_dict())


def test_pet_names_count_only_when_addressing() -> None:
    lines = [
        (True, "night love"),
        (True, "love you babe"),
        (True, "i love it"),
        (True, "I love the idea"),
        (True, "ok love, see you"),
        (True, "thanks Sammy!"),
        (True, "宝贝晚安"),
        (False, "x"),
    ]
    p = profile(lines)
    assert dict(p.pet_names) == {"love": 2, "babe": 1, "sammy": 1, "宝贝": 1}


def test_recent_habits_outweigh_old_ones_unless_the_card_asks_for_the_whole_relationship() -> None:
    from datetime import datetime, timedelta

    from voice_app.persona.style import recent_part

    start = datetime(2021, 1, 1, 12, 0)
    lines: list[tuple[bool, str, datetime]] = []
    # Two years of "haha" and exclamation marks, then the last four months: "lol", no marks.
    for day in range(0, 600, 2):
        at = start + timedelta(days=day)
        lines += [(False, "how was your day", at), (True, "haha so good!", at + timedelta(minutes=1))]
    for day in range(600, 720, 2):
        at = start + timedelta(days=day)
        lines += [(False, "how was your day", at), (True, "lol fine i guess", at + timedelta(minutes=1))]
    msgs = [
        StoredMessage(i + 1, at.isoformat(), "Alex" if them else "Sam", them, "text", text, 1)
        for i, (them, text, at) in enumerate(lines)
    ]
    bursts = tx.bursts(msgs)
    old_laughs = sum(1 for them, text, _ in lines if them and "haha" in text)
    new_laughs = sum(1 for them, text, _ in lines if them and "lol" in text)
    assert old_laughs > 4 * new_laughs  # the old habit is far more common over the whole history
    recent = recent_part(bursts)
    assert len(recent) < len(bursts) / 3 and recent[-1] == bursts[-1]  # the last months only
    at_the_end = compute_style(bursts, era="end")
    assert at_the_end.laughter_top[0][0] == "lol" and at_the_end.exclaim_rate < 0.5
    whole = compute_style(bursts, era="whole")
    assert whole.laughter_top[0][0] == "haha" and whole.exclaim_rate > 0.5
