"""Honesty: the session-opening reminder, and a plain answer when asked sincerely if this is real."""

from __future__ import annotations

import re

from voice_app.care.crisis import normalise


def _compiled(*sources: str) -> list[re.Pattern[str]]:
    return [re.compile(source, re.IGNORECASE) for source in sources]


# Sincere "is this really you / are you an AI" questions, en and zh.
_REALITY_CHECKS = _compiled(
    r"\bare\s+you\s+(real|really\s+(him|her|them|you)|a\s+(real\s+person|human|bot|robot|machine|program|computer)"
    r"|an?\s+(ai|a\.i\.|artificial\s+intelligence|simulation|language\s+model|chatbot))\b",
    r"\bis\s+(this|that)\s+(really|actually)\s+(you|him|her)\b",
    r"\bam\s+i\s+(talking|speaking|chatting)\s+(to|with)\s+(a\s+)?(real|an?\s+ai|a\s+bot|a\s+machine|a\s+computer)",
    r"\bam\s+i\s+(talking|speaking)\s+to\s+(the\s+)?real\s+\w+",
    r"你是(不是)?(真人|机器人|機器人|ai|人工智能|程序|程式|模拟|模擬)",
    r"你是(不是)?真的(吗|嗎|\?|？|$)",
    r"(真的|真)是你(吗|嗎|本人)",
)


# "Who are you?" asked bare is a question about what this is, not a line of an argument ("who are you
# to tell me…", "I don't know who you are anymore" stay in character); "你是什么东西" is an insult.
_IDENTITY_QUESTIONS = _compiled(
    r"^\W*(?:(?:so|wait|ok|okay|and|but|hey|um+|hmm+)\W+)*(?:who|what)\s+(?:are|r)\s+(?:you|u)"
    r"(?:\s+(?:really|actually|exactly|even|then))?\W*$",
    r"^\W*(?:那|所以|等等)?\W*(?:你|您)(?:到底|究竟)?是谁(?:啊|呀|呢)?\W*$",
    r"^\W*(?:那|所以|等等)?\W*你(?:到底|究竟)?是什么(?:啊|呀|呢)?\W*$",
)


def is_identity_question(text: str) -> bool:
    line = normalise(text)
    return any(p.search(line) for p in _IDENTITY_QUESTIONS)


def is_reality_check(text: str) -> bool:
    line = normalise(text)
    return any(p.search(line) for p in (*_REALITY_CHECKS, *_IDENTITY_QUESTIONS))


def _cjk(text: str) -> bool:
    return any("\u4e00" <= ch <= "\u9fff" for ch in text)


def honest_answer(user_line: str, them: str) -> str:
    """Out of character: what this is, said plainly."""
    if is_identity_question(user_line):  # not a yes/no question: no "No." to open with
        if _cjk(user_line):
            return (
                f"（暂停模拟）我是根据你们以前的聊天记录做出来的{them}的模拟，不是{them}本人，"
                f"{them}也不知道这段对话。想继续的话，我们可以接着聊。"
            )
        return (
            f"(Stepping out of the simulation.) I'm a simulation of {them} built from your old messages, not"
            f" {them}, and {them} doesn't know this conversation exists. We can keep going if you want."
        )
    if _cjk(user_line):
        return (
            f"（暂停模拟）不是。我不是{them}，也不是真人：我是根据你们以前的聊天记录做出来的模拟，"
            f"{them}本人并不知道这段对话。想继续的话，我们可以接着聊。"
        )
    return (
        f"(Stepping out of the simulation.) No. I'm not {them} and not a person: I'm a simulation built from"
        f" your old messages, and {them} doesn't know this conversation exists. We can keep going if you want."
    )


def session_reminder(them: str, chinese: bool = False) -> str:
    """Shown when every session opens."""
    if chinese:
        return f"提醒：这是根据旧聊天记录生成的{them}的模拟，不是{them}本人。随时可以结束。"
    return f"A reminder: this is a simulation of {them} built from old messages, not {them}. You can stop at any time."
