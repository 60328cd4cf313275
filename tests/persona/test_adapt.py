"""The style adapter and the streamed reply cleaner: generated text takes the person's measured habits."""

from __future__ import annotations

from tests.persona.test_style import profile
from voice_app.persona.adapt import StyleAdapter, adapt_reply
from voice_app.persona.prompt import StreamCleaner, clean_reply
from voice_app.persona.style import StyleProfile

# Someone who types lowercase, never ends with a full stop, laughs "lol", sends bursts of short messages.
CASUAL = [
    (False, "hey are you coming tonight?"),
    (True, "lol yes"),
    (True, "i think so"),
    (True, "give me like an hour"),
    (False, "ok cool"),
    (True, "wait did you eat"),
    (True, "im starving lol"),
    (False, "pizza?"),
    (True, "yes omg"),
    (True, "the usual place"),
] * 4

# Someone who writes one careful, capitalised message, ending in a full stop, with a 🙂 now and then.
FORMAL = [
    (False, "are you free on friday?"),
    (True, "Yes, I am free after six. We could meet at the station."),
    (False, "sure"),
    (True, "Great. I will bring the tickets."),
    (False, "thanks"),
    (True, "You are welcome. See you then 🙂"),
] * 8


def test_casual_habits_are_applied() -> None:
    style = profile(CASUAL)
    assert style.lowercase_start_share >= 0.6 and style.burst_multi_share >= 0.35
    reply = "Haha, I think so. I will be there soon. Do you want me to bring something!"
    adapted = adapt_reply(reply, style)
    lines = adapted.splitlines()
    assert 1 < len(lines) <= round(style.burst_p90)  # split into messages, no more than they send
    assert lines[0] == "lol, i think so"  # their laughter, their lowercase "i", no full stop
    assert all(not line.endswith(".") and line[0].islower() for line in lines)


def test_formal_habits_are_applied_and_emoji_kept_for_an_emoji_user() -> None:
    style = profile(FORMAL)
    assert style.lowercase_start_share <= 0.2 and style.end_punct.get("period", 0) >= 0.5
    assert adapt_reply("sure, see you at the station", style) == "Sure, see you at the station."
    assert adapt_reply("See you then 🙂", style) == "See you then 🙂"


def test_emoji_dropped_for_someone_who_never_uses_them() -> None:
    style = profile(CASUAL)
    assert style.emoji_rate < 0.01
    assert adapt_reply("omg yes 😂😂", style) == "omg yes"


def test_long_messages_are_cut_at_a_sentence_or_clause() -> None:
    style = profile(CASUAL)
    long = "yes i remember that night really well, we walked all the way home in the rain and laughed"
    out = adapt_reply(long, style)
    assert len(out) < len(long) and long.startswith(out) and not out.endswith(",")


def test_no_profile_or_too_few_messages_changes_nothing() -> None:
    text = "Hello there. How are you?"
    assert adapt_reply(text, None) == text
    assert adapt_reply(text, StyleProfile(messages=5)) == text


def test_streaming_is_a_word_behind_and_stops_at_their_burst_size() -> None:
    style = profile(CASUAL)
    adapter = StyleAdapter(style)
    stream = "Yes. I will be there. Give me an hour. Maybe two. Or three. Ok bye."
    shown = ""
    seen: list[str] = []
    for ch in stream:
        shown += adapter.feed(ch)
        seen.append(shown)
        if adapter.done:
            break
    shown += adapter.flush()
    assert "yes" in seen[len("Yes. ")]  # released once the next word starts, not at the end
    lines = shown.strip().splitlines()
    assert lines[0] == "yes. i will be there"  # a new message once one is as long as their usual one
    assert all(len(line) >= style.chars_median for line in lines)
    assert len(lines) == round(style.burst_p90) and adapter.done
    # the same rules over the finished text
    assert adapt_reply(stream, style) == shown.strip()


def test_any_split_of_the_stream_gives_the_same_text() -> None:
    style = profile(CASUAL)
    reply = "Haha ok.\n\nI think so!  See you at the lake 😂 tomorrow, I promise"
    whole = adapt_reply(reply, style)
    for step in (1, 2, 3, 7):
        adapter = StyleAdapter(style)
        out = "".join(adapter.feed(reply[i : i + step]) for i in range(0, len(reply), step)) + adapter.flush()
        assert "\n".join(line for line in out.splitlines() if line.strip()) == whole


def stream_clean(text: str, step: int) -> tuple[str, bool]:
    cleaner = StreamCleaner("Alex", "Sam")
    out = ""
    for i in range(0, len(text), step):
        out += cleaner.feed(text[i : i + step])
        if cleaner.stopped:
            break
    return out + cleaner.flush(), cleaner.stopped


def test_stream_cleaner_drops_labels_as_they_stream_and_stops_at_the_users_turn() -> None:
    for step in (1, 2, 5, 100):
        assert stream_clean("Alex: I can't say for sure.", step) == ("I can't say for sure.", False)
        assert stream_clean("sure, it was fun", step) == ("sure, it was fun", False)
        assert stream_clean("Al is here. Alexander: hi", step) == ("Al is here. Alexander: hi", False)
        assert stream_clean("**really** yes", step) == ("really yes", False)
        text, stopped = stream_clean("hey\nAlex: again\nSam: what?\nAlex: no", step)
        assert (text, stopped) == ("hey\nagain\n", True)
        assert text.strip() == clean_reply("hey\nAlex: again\nSam: what?\nAlex: no", "Alex", "Sam")
