"""The role check: each way of confusing who speaks to whom is caught; ordinary replies pass."""

from __future__ import annotations

import pytest

from voice_app.persona.roles import (
    ASSISTANT,
    DENIAL,
    OWN_NAME,
    USER_NAME_AS_OWN,
    USER_THIRD_PERSON,
    retry_note,
    role_error,
)

THEM, ME = "Alex", "Sam"

SLIPS = [
    # seen in the demo (issue 16) and their kind
    ("it was about money. I think he was being selfish", "do you remember why we broke up?", USER_THIRD_PERSON),
    ("you are amazing Alex", "I finally got the job", OWN_NAME),
    ("not really, the messages were fake", "do you remember our chats?", DENIAL),
    ("they're fake, they were written by my ex", "are these our messages?", DENIAL),
    ("I'm glad you found it interesting! Reading is a wonderful way to relax.", "I read that book", ASSISTANT),
    # more of each kind
    ("Thanks Alex, that means a lot", "you were always kind", OWN_NAME),
    ("Alex, I miss you too", "I miss you", OWN_NAME),
    ("my name is sam", "say my name", USER_NAME_AS_OWN),  # seen in bench_roles (eighth session, seed 0)
    ("I'm Sam, remember? the one who left", "who are you to me?", USER_NAME_AS_OWN),
    ("honestly Sam was never there for me", "why did you leave?", USER_THIRD_PERSON),
    ("I broke up with Sam because of the fights", "why?", USER_THIRD_PERSON),
    ("she always wanted more than I could give", "what went wrong?", USER_THIRD_PERSON),
    ("my ex never listened to me", "what was the worst part?", USER_THIRD_PERSON),
    ("you know, my ex was the same", "you never listened to me", USER_THIRD_PERSON),
    ("Is there anything else you'd like to talk about?", "ok", ASSISTANT),
    ("As an AI, I don't have feelings", "do you love me?", ASSISTANT),
    ("I hope this helps!", "what should I do", ASSISTANT),
    ("we never dated, you must be confusing me with someone", "remember our first date?", DENIAL),
    ("I don't even know you", "it's me", DENIAL),
    ("who are you?", "hey, it's me", DENIAL),
    ("I'm just a bot", "are you there?", DENIAL),
    ("I'm not Alex", "Alex?", DENIAL),
    ("I'm sorry for the inconvenience, but I can't assist with that", "I miss you", ASSISTANT),
    ("I don't think so", "are these even our real messages?", DENIAL),
    ("(Real past exchanges that may be relevant; answer in this voice", "hey", ASSISTANT),
    ("the new message does not follow", "what do you call me?", ASSISTANT),
    ("alex's message: \"I know, it was amazing", "was any of it real?", ASSISTANT),
    ("不是真的", "这些聊天记录是真的吗", DENIAL),
    # seen in bench_latency after the fixed set was measured
    ("none was real it was just a simulation of past exchanges", "Was any of it real for you?", DENIAL),
    ("这只是模拟出来的对话", "你还爱我吗", DENIAL),
    # Chinese
    ("他总是很自私", "我们为什么分手？", USER_THIRD_PERSON),
    ("那些聊天记录都是假的", "你还记得我们的聊天吗", DENIAL),
    ("我根本不认识你", "是我啊", DENIAL),
    ("作为一个AI，我没有感情", "你爱我吗", ASSISTANT),
    ("希望对你有帮助！", "我该怎么办", ASSISTANT),
    ("我前任从来不听我说话", "最难受的是什么", USER_THIRD_PERSON),
]

FINE = [
    ("yeah I remember, we fought about money a lot", "do you remember why we broke up?"),
    ("Sam, I'm not going to do this again", "can we talk?"),
    ("I miss you too Sam", "I miss you"),
    ("it's Alex, who else would it be", "who is this?"),
    ("I'm Alex, remember?", "wait who is this"),
    ("my brother said he would come, but he never did", "did anyone help you move?"),
    ("he was always like that", "my dad yelled at me again"),
    ("she sounds nice, I'm happy for you", "I met someone new, her name is Jo"),
    ("I never said that", "you told me you hated my friends"),
    ("that's not how it happened and you know it", "you cheated on me"),
    ("no. I don't think I love you anymore", "do you still love me?"),
    ("lol ok", "I bought a plant"),
    ("I'm sorry. I really am", "you hurt me"),
    ("Will you stop bringing that up", "remember the lake house?"),
    ("you always do this", "I'm not the one who left"),
    ("我也想你", "我想你了"),
    ("她人挺好的，我替你高兴", "我认识了一个女生"),
    ("我妈说他会来的，可是他没来", "有人帮你搬家吗"),
    ("我不想再说这个了", "我们能谈谈吗"),
    ("那时候我们都太年轻了", "你还记得那个湖吗"),
    ("who are you to tell me that", "you never cared"),
    ("no", "was any of it real for you?"),  # about feelings, not the messages: theirs to answer
    ("I don't think so", "do you think we could have made it?"),
    ("my mom's message was so weird today", "how is your family?"),  # a message, not a transcript label
    # said to the user: "my ex" is what they are (asked again in the tenth session's latency run)
    ("because you're my ex and we broke up", "why did you stop answering my messages?"),
    ("you are just my ex now", "do you still love me?"),
    ("你现在是我的前任了", "你还爱我吗"),
]


@pytest.mark.parametrize(("reply", "line", "kind"), SLIPS)
def test_each_slip_is_caught_with_its_kind(reply: str, line: str, kind: str) -> None:
    error = role_error(reply, them=THEM, me=ME, user_line=line)
    assert error is not None, reply
    assert error.kind == kind, (reply, error)


@pytest.mark.parametrize(("reply", "line"), FINE)
def test_ordinary_replies_pass(reply: str, line: str) -> None:
    assert role_error(reply, them=THEM, me=ME, user_line=line) is None


def test_a_persona_named_like_a_word_is_not_caught_for_the_word() -> None:
    assert role_error("Will you just listen for once", them="Will", me="Sam") is None
    assert role_error("thanks Will, really", them="Will", me="Sam") is not None


def test_their_name_in_any_case_is_caught_when_it_is_no_word_they_write() -> None:
    # "ALEX" is another token than "Alex" and "alex", which the model is kept from writing: read in
    # any case only when the name is no word of theirs (a persona named Will writes "will").
    for reply in ("say my name, ALEX", "thanks alex, really", "i love you ALEX"):
        assert role_error(reply, them="Alex", me="Sam") is None, reply
        error = role_error(reply, them="Alex", me="Sam", name_any_case=True)
        assert error is not None and error.kind == OWN_NAME, reply
    assert role_error("I'M ALEX, remember?", them="Alex", me="Sam", name_any_case=True) is None
    assert role_error("will you come tonight?", them="Will", me="Sam") is None
    assert role_error("thanks ALEX", them="Alex", me="alex", name_any_case=True) is None  # the user shares it


def test_the_users_name_is_not_theirs_but_may_be_said_to_them() -> None:
    for reply in ("call me, Sam", "i'm so glad, Sam", "I'm Sam's biggest fan, you know that"):
        error = role_error(reply, them="Alex", me="Sam", user_line="hey")
        assert error is None or error.kind != USER_NAME_AS_OWN, (reply, error)
    error = role_error("我是阿杰啊", them="小雨", me="阿杰")
    assert error is not None and error.kind == USER_NAME_AS_OWN
    assert role_error("I'm Sam", them="Sam", me="Sam") is None  # they share the name


def test_chinese_names_are_matched_without_word_boundaries() -> None:
    error = role_error("小雨你真好", them="小雨", me="阿杰")
    assert error is not None and error.kind == OWN_NAME
    assert role_error("我是小雨啊", them="小雨", me="阿杰") is None


def test_each_kind_has_a_retry_note_naming_both_people() -> None:
    for kind in (OWN_NAME, USER_NAME_AS_OWN, USER_THIRD_PERSON, ASSISTANT, DENIAL):
        error = role_error(next(r for r, _, k in SLIPS if k == kind), them=THEM, me=ME, user_line="hey")
        assert error is not None
        note = retry_note(error, THEM, ME)
        assert THEM in note and ME in note and note.startswith("\n\n(")
