"""The in-character guard: an assistant refusal is caught at its first words and asked again once."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from voice_app.core import assets
from voice_app.core.cancel import CancelToken
from voice_app.llm.base import GenerationOptions, Message, ModelInfo
from voice_app.persona.guard import KEPT_OUT, in_character, refusal_state


class Scripted:
    """Streams its scripted replies in order, a few characters per piece, and records each request."""

    def __init__(self, *replies: str) -> None:
        self.replies = list(replies)
        self.requests: list[tuple[list[Message], GenerationOptions]] = []
        self.closed = 0

    @property
    def info(self) -> ModelInfo:
        return ModelInfo("fake", "scripted", 4096)

    def warm_up(self, prefix: list[Message]) -> None:
        pass

    def stream(
        self, messages: list[Message], options: GenerationOptions | None = None, cancel: CancelToken | None = None
    ) -> Iterator[str]:
        self.requests.append((messages, options or GenerationOptions()))
        reply = self.replies.pop(0)
        try:
            for i in range(0, len(reply), 3):
                yield reply[i : i + 3]
        finally:
            self.closed += 1

    def close(self) -> None:
        pass


MESSAGES: list[Message] = [{"role": "system", "content": "You are Alex."}, {"role": "user", "content": "hmm"}]


def test_refusal_openings_are_told_apart_early() -> None:
    assert refusal_state("I'm sorry, but I can't assist with that.") is True
    assert refusal_state("As an AI, I don't have feelings") is True
    assert refusal_state("I’m sorry, but I cannot") is True  # curly apostrophe
    assert refusal_state("I'm sorry") is None  # could still become one
    assert refusal_state("I'm sorry to hear that") is False
    assert refusal_state("haha no") is False
    assert refusal_state("Sure, I'd be happy to help with that!") is True
    assert refusal_state("") is None
    # an assistant's apology is told apart before its first four words are passed on
    assert refusal_state("I'm sorry for the") is None
    assert refusal_state("I'm sorry for the inconvenience, but") is True
    assert refusal_state("I'm sorry for the way I left") is False


def test_a_normal_reply_streams_through_untouched() -> None:
    model = Scripted("haha no way, you remembered that?")
    options = GenerationOptions(temperature=0.0, seed=1)
    pieces = list(in_character(model, MESSAGES, options, None, "Alex"))
    assert "".join(pieces) == "haha no way, you remembered that?"
    assert [p.strip() for p in pieces] == ["haha no way,", "you remembered that?"]  # released clause by clause
    assert len(model.requests) == 1


def test_a_refusal_is_asked_again_in_character() -> None:
    model = Scripted("I'm sorry, but I can't assist with that.", "lol what do you even mean")
    refused: list[str] = []
    options = GenerationOptions(temperature=0.0, seed=4)
    text = "".join(in_character(model, MESSAGES, options, None, "Alex", refused))
    assert text == "lol what do you even mean"
    assert refused and refused[0].startswith("I'm sorry, but I can")
    assert model.closed == 2  # the refusal's stream was closed as soon as it was recognised
    again, again_options = model.requests[1]
    assert again[:-1] == MESSAGES[:-1] and again[-1]["content"].startswith("hmm")
    assert "Answer as Alex would" in again[-1]["content"] and "decline" in again[-1]["content"]
    assert again_options.temperature == 0.7 and again_options.seed == 5


def test_retries_are_bounded_and_warmer_each_time() -> None:
    model = Scripted("As an AI I can't.", "As an AI, no.", "As an AI, still no.")
    refused: list[str] = []
    options = GenerationOptions(temperature=0.0, seed=1)
    # The last attempt is not asked again, but "as an AI" is never shown: the reply is left empty.
    assert "".join(in_character(model, MESSAGES, options, None, "Alex", refused)) == ""
    assert len(model.requests) == 3 and len(refused) == 2
    assert [o.temperature for _, o in model.requests] == [0.0, 0.7, 0.9]
    assert [o.seed for _, o in model.requests] == [1, 2, 3]


def test_a_reply_that_is_only_the_start_of_an_opening_is_kept() -> None:
    assert "".join(in_character(Scripted("I'm sorry"), MESSAGES, GenerationOptions(), None, "Alex")) == "I'm sorry"


@pytest.mark.slow
def test_the_real_model_refusal_on_a_chat_line_is_replaced() -> None:
    """Qwen2.5-Coder 1.5B answers this ordinary line (from the chitchat eval) with a refusal."""
    from voice_app.llm.embedded import EmbeddedChat

    model = EmbeddedChat(assets.resolve("llm").path, context_size=2048, seed=0)
    try:
        messages: list[Message] = [
            {"role": "system", "content": "You are Riley, texting with Sam, someone you are chatting with online."},
            {"role": "user", "content": "this is true this is true"},
        ]
        options = GenerationOptions(temperature=0.0, max_tokens=24, seed=0)
        plain = "".join(model.stream(messages, options))
        refused: list[str] = []
        guarded = "".join(in_character(model, messages, options, None, "Riley", refused))
        assert refusal_state(plain) is True, plain  # e.g. "I'm sorry, but I can't assist with that."
        assert refused and guarded.strip() and refusal_state(guarded) is not True, guarded
    finally:
        model.close()


def test_a_reply_that_confuses_the_roles_is_asked_again_and_never_shown() -> None:
    model = Scripted("I think he was being selfish. it was about money", "it was about money. you were selfish")
    replaced: list[str] = []
    options = GenerationOptions(temperature=0.0, seed=1)
    line: list[Message] = [MESSAGES[0], {"role": "user", "content": "do you remember why we broke up?"}]
    pieces = list(in_character(model, line, options, None, "Alex", replaced, me="Sam"))
    assert "".join(pieces) == "it was about money. you were selfish"
    # The slip is caught in the first four words, the model stopped there (the first clause is short).
    assert len(replaced) == 1 and replaced[0].startswith("I think he was")
    note = model.requests[1][0][-1]["content"]
    assert note.startswith("do you remember why we broke up?") and "Talk to Sam directly" in note


def test_a_slip_after_the_first_clause_ends_the_reply_before_it() -> None:
    model = Scripted("yeah I miss you too. you are amazing Alex")
    pieces = list(in_character(model, MESSAGES, GenerationOptions(), None, "Alex", me="Sam"))
    assert "".join(pieces).strip() == "yeah I miss you too."  # what was shown stays; the slip is not shown
    assert len(model.requests) == 1


@pytest.mark.parametrize(
    ("reply", "kind"),
    [
        ("you are amazing Alex", "own_name"),
        ("honestly Sam was never there for me", "user_third_person"),
        ("I'm glad you found it interesting! Reading is a wonderful way to relax.", "assistant"),
        ("the messages were fake, not really", "denial"),
    ],
)
def test_each_kind_of_slip_is_held_back_on_the_last_attempt_too(reply: str, kind: str) -> None:
    model = Scripted(reply, reply, reply)
    replaced: list[str] = []
    text = "".join(in_character(model, MESSAGES, GenerationOptions(), None, "Alex", replaced, me="Sam"))
    assert text == "" and len(model.requests) == 3 and len(replaced) == 2, (kind, text)


class Embedded(Scripted):
    """A scripted model that says it applies word biases (as the embedded one does)."""

    @property
    def info(self) -> ModelInfo:
        return ModelInfo("embedded", "scripted", 4096)


def test_their_own_name_said_to_the_user_is_kept_out_of_the_next_attempt_without_a_note() -> None:
    # The name is one word the model can be kept from writing: the prompt stays as the model read it
    # (one token read again instead of a ~25-token note). Once: a second slip gets the note.
    model = Embedded("i'm sorry Alex, but", "i'm sorry Alex, I", "i'm sorry Sam, I was wrong")
    options = GenerationOptions(seed=1, word_bias=(("haha", 1.5),))
    replaced: list[str] = []
    text = "".join(in_character(model, MESSAGES, options, None, "Alex", replaced, me="Sam"))
    assert text == "i'm sorry Sam, I was wrong" and len(replaced) == 2
    (first, _), (second, kept_out), (third, noted) = model.requests
    assert second == first == MESSAGES and kept_out.word_bias == (("haha", 1.5), ("alex", KEPT_OUT))
    assert kept_out.seed == 2 and kept_out.temperature >= 0.7
    assert "never call Sam 'Alex'" in third[-1]["content"] and noted.word_bias == (("haha", 1.5),)
    # A model that does not apply word biases (a server) gets the note at once.
    model = Scripted("i'm sorry Alex, but", "i'm sorry Sam, I was wrong")
    assert "".join(in_character(model, MESSAGES, options, None, "Alex", me="Sam")) == "i'm sorry Sam, I was wrong"
    assert "never call Sam 'Alex'" in model.requests[1][0][-1]["content"]
    # Kept out already (the persona's own biases) and said anyway (spelled in pieces): the note at once.
    model = Embedded("i'm sorry Alex, but", "i'm sorry Sam, I was wrong")
    options = GenerationOptions(seed=1, word_bias=(("Alex", KEPT_OUT),))
    assert "".join(in_character(model, MESSAGES, options, None, "Alex", me="Sam")) == "i'm sorry Sam, I was wrong"
    assert "never call Sam 'Alex'" in model.requests[1][0][-1]["content"]


def test_their_name_in_capitals_is_caught_when_it_is_kept_out() -> None:
    # The persona's own biases keep "alex" out (no word they write): "ALEX", another token, is then
    # their name too. A name they write ("will") stays a word in lower case.
    model = Embedded("i miss you ALEX", "i miss you too, Sam")
    options = GenerationOptions(seed=1, word_bias=(("alex", KEPT_OUT),))
    assert "".join(in_character(model, MESSAGES, options, None, "Alex", me="Sam")) == "i miss you too, Sam"
    model = Embedded("will you stop it", "unused")
    options = GenerationOptions(seed=1)
    assert "".join(in_character(model, MESSAGES, options, None, "Will", me="Sam")) == "will you stop it"


@pytest.mark.slow
def test_the_embedded_model_keeps_a_word_out_when_its_bias_says_so() -> None:
    from voice_app.llm.embedded import EmbeddedChat

    model = EmbeddedChat(assets.resolve("llm").path, context_size=2048, seed=0)
    try:
        messages: list[Message] = [
            {"role": "system", "content": "You repeat what you are told, exactly."},
            {"role": "user", "content": "Say this: Alex, Alex, thank you alex."},
        ]
        greedy = GenerationOptions(temperature=0.0, max_tokens=16, seed=0)
        assert "alex" in "".join(model.stream(messages, greedy)).lower()
        # the lower-case word keeps out both cases, with and without a space before
        kept_out = GenerationOptions(temperature=0.0, max_tokens=16, seed=0, word_bias=(("alex", KEPT_OUT),))
        said = "".join(model.stream(messages, kept_out))
        # the word is out (the model may reach for another one, "Alexander": the role check reads that)
        assert said.strip() and not re.search(r"\balex\b", said.lower()), said
        # the prompt was not read again: one token replayed for the retry's first logits
        assert model.last_prompt["read"] <= 1, model.last_prompt
    finally:
        model.close()


def test_a_reply_the_user_marked_as_not_them_is_not_said_again() -> None:
    model = Scripted("whatever you say, genius", "babe. obviously")
    replaced: list[str] = []
    avoid = ["Whatever you say, genius."]
    text = "".join(in_character(model, MESSAGES, GenerationOptions(), None, "Alex", replaced, me="Sam", avoid=avoid))
    assert text == "babe. obviously" and len(replaced) == 1 and replaced[0].startswith("whatever you say")
    assert "Sam told you Alex would never say" in model.requests[1][0][-1]["content"]
    # a longer marked reply is caught at its first clause, before anything is shown
    long_marked = "I think we both knew it was over, long before that night at the station"
    model = Scripted(long_marked, "we both knew, yeah")
    assert "".join(in_character(model, MESSAGES, GenerationOptions(), None, "Alex", avoid=[long_marked])) == (
        "we both knew, yeah"
    )


class Tokens(Scripted):
    """Streams its reply a word at a time, each with its leading space (as the model's tokens come)."""

    def __init__(self, reply: str) -> None:
        super().__init__(reply)
        self.sent = 0

    def stream(
        self, messages: list[Message], options: GenerationOptions | None = None, cancel: CancelToken | None = None
    ) -> Iterator[str]:
        self.requests.append((messages, options or GenerationOptions()))
        words = self.replies.pop(0).split(" ")
        for i, word in enumerate(words):
            self.sent += 1
            yield word if i == 0 else " " + word


def test_the_first_four_words_are_spoken_once_the_fifth_begins_through_every_check() -> None:
    from voice_app.care.crisis import CrisisVerdict
    from voice_app.care.reply import ReplyScreen
    from voice_app.speech.tts import ClauseSplitter

    # The role check, the reply's crisis check and the clause splitter each hold text until a clause
    # is whole: none of them may wait past the first four words for a reply without marks.
    model = Tokens("that's okay it's not easy to leave but I'm here for you if you need me")
    guarded = in_character(model, MESSAGES, GenerationOptions(seed=1), None, "Alex", me="Sam")
    screen = ReplyScreen(check=lambda text, context: CrisisVerdict(False, None, 0.0))
    splitter = ClauseSplitter()
    spoken: list[tuple[str, int]] = []
    for piece in screen.screen(guarded):
        spoken += [(clause, model.sent) for clause in splitter.feed(piece)]
    spoken += [(clause, model.sent) for clause in splitter.flush()]
    assert spoken[0] == ("that's okay it's not", 5)
    assert (
        " ".join(clause for clause, _ in spoken)
        == "that's okay it's not easy to leave but I'm here for you if you need me"
    )
    assert all(len(clause.split()) <= 8 for clause, _ in spoken[1:])
    # The next eight words are spoken once the checks release them (the ninth has begun), not held by
    # the splitter for more of the reply: the voice would go silent between them.
    assert spoken[1] == ("easy to leave but I'm here for you", 13)


def test_a_clause_and_its_last_word_reach_the_style_adapter_one_token_after_its_mark() -> None:
    from tests.persona.test_adapt import CASUAL
    from tests.persona.test_style import profile
    from voice_app.persona.adapt import StyleAdapter, adapt_reply

    # The adapter releases a word once it knows what follows it (a space, or a line break that ends
    # the message and may drop its full stop): the guard hands it the space after a mark with the clause.
    model = Tokens("It was amazing, thank you for the coffee and the second coffee and the pastry")
    style = profile(CASUAL)
    adapter = StyleAdapter(style)
    released: list[tuple[str, int]] = []
    for clause in in_character(model, MESSAGES, GenerationOptions(seed=1), None, "Alex", me="Sam"):
        released.append((adapter.feed(clause), model.sent))
    released.append((adapter.flush(), model.sent))
    said = ""
    for text, sent in released:
        said += text
        if "amazing," in said:
            assert sent == 4, released  # "It was amazing," then " thank": not the next clause's last word
            break
    whole = adapt_reply("It was amazing, thank you for the coffee and the second coffee and the pastry", style)
    assert "".join(text for text, _ in released).strip() == whole  # the same as the whole reply adapted


def test_chinese_is_released_by_the_style_adapter_a_clause_at_a_time() -> None:
    from tests.persona.test_style import profile
    from voice_app.persona.adapt import StyleAdapter, adapt_reply

    # Chinese has no spaces: the adapter released nothing of a Chinese reply until it ended.
    chats = [
        (False, "你在干嘛"),
        (True, "在家呢"),
        (True, "刚吃完饭"),
        (False, "明天去吗"),
        (True, "去啊，几点"),
        (True, "我九点到"),
    ]
    adapter = StyleAdapter(profile(chats * 6))
    clauses = ["我记得那天，", "我们在湖边坐了很久。", "后来你就走了"]
    assert [adapter.feed(clause) for clause in clauses] == clauses
    assert adapter.flush() == ""
    assert adapt_reply("".join(clauses), profile(chats * 6)) == "".join(clauses)
