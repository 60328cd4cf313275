"""Their words: what they say more than the user does, and the nudges made of it."""

from __future__ import annotations

from tests.persona.test_style import messages
from voice_app.persona import lexicon
from voice_app.persona.adapt import adapt_reply
from voice_app.persona.style import StyleProfile, compute_style
from voice_app.persona.text import bursts


def test_their_habits_stand_out_and_shared_topics_do_not() -> None:
    theirs = ["lol ya the lake was nice", "lol u coming?", "ya ya the lake again lol", "nah lol", "ya sure"] * 6
    mine = ["haha the lake was lovely", "haha are you coming?", "the lake again!", "no haha", "sure"] * 6
    words = dict(lexicon.distinctive_words(theirs, mine))
    assert {"lol", "ya"} <= set(words)
    assert "lake" not in words and "the" not in words and "haha" not in words
    assert list(words) == sorted(words, key=lambda w: -words[w])  # best first


def test_a_word_said_once_or_by_both_alike_is_not_a_habit() -> None:
    assert lexicon.distinctive_words(["splendid idea", "ok", "ok"] * 1, ["ok", "ok"]) == []
    assert lexicon.distinctive_words([], ["hello"]) == []


def test_nudges_are_capped_and_leave_names_out() -> None:
    bias = dict(lexicon.word_bias([("sam", 9.0), ("lol", 9.0), ("ya", 2.4)], exclude=["Sam", "Alex"]))
    assert "sam" not in bias
    assert bias["lol"] == lexicon.MAX_BIAS
    assert 0 < bias["ya"] < lexicon.MAX_BIAS


def test_their_own_name_is_kept_out_unless_they_write_it_or_the_user_shares_it() -> None:
    theirs = ["hey you", "i miss the lake", "ok see you saturday"]
    assert lexicon.own_name_kept_out("Alex Moreau", "Sam", theirs) == (("alex", lexicon.KEPT_OUT),)
    # a name that is a word they use ("i will"), or how they sign, stays theirs to write
    assert lexicon.own_name_kept_out("Will", "Sam", ["i will call you", "ok"]) == ()
    assert lexicon.own_name_kept_out("Alex", "Sam", ["love, alex"]) == ()
    assert lexicon.own_name_kept_out("Alex", "Alex", theirs) == ()  # two Alexes: a slip cannot be told
    # a CJK name is several tokens: a bias would not keep it out whole
    assert lexicon.own_name_kept_out("阿杰", "小雨", theirs) == ()
    assert lexicon.own_name_kept_out("", "Sam", theirs) == ()


def test_the_style_profile_keeps_their_words() -> None:
    lines = [(False, "haha how are you doing today"), (True, "lol im ok ya")] * 60
    profile = compute_style(bursts(messages(lines)))
    assert {"lol", "ya"} <= {w for w, _ in profile.lexicon}
    assert StyleProfile.from_dict(profile.to_dict()).lexicon == profile.lexicon


def test_dropped_apostrophes_are_measured_and_applied_only_where_they_are_a_habit() -> None:
    skips = compute_style(bursts(_alex(["im here", "dont worry", "thats fine", "i didnt know", "youre right"] * 6)))
    keeps = compute_style(bursts(_alex(["i'm here", "don't worry", "that's fine", "i didn't know", "ok"] * 6)))
    assert skips.apostrophe_drop_share == 1.0 and keeps.apostrophe_drop_share == 0.0
    assert skips.contractions == 30
    assert adapt_reply("I'm fine, don't worry", skips).lower() == "im fine, dont worry"
    assert adapt_reply("it's its own", skips).lower() == "it's its own"  # "its" is a word of its own
    assert adapt_reply("I'm fine, don't worry", keeps).lower() == "i'm fine, don't worry"
    assert 'skips apostrophes ("im", "dont")' in skips.summary("Alex")


def _alex(lines: list[str]) -> list:  # type: ignore[type-arg]
    return messages([pair for line in lines for pair in ((False, "so?"), (True, line))])
