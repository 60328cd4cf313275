"""The embedded backend with the real Qwen2.5 1.5B GGUF: streaming, cancel, trimming, prefix reuse."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from voice_app.core import assets
from voice_app.core.cancel import CancelToken
from voice_app.core.compute import LOAD
from voice_app.core.cpu import physical_cores
from voice_app.core.errors import LLMError
from voice_app.llm.base import ChatModel, GenerationOptions, Message
from voice_app.llm.embedded import EmbeddedChat

pytestmark = pytest.mark.slow

PERSONA = (
    "You are Alex, texting your ex Sam. Write like Alex: short lowercase messages, 'haha', no emoji"
    " overload, direct when annoyed. Some of Alex's real messages:\n"
    + "\n".join(
        f"- {line}"
        for line in [
            "haha you're ridiculous",
            "im at the gym, call you later?",
            "ugh not this again sam",
            "ok fine. but you're picking the movie",
            "miss your face tbh",
            "can we not do this over text",
            "i told you i'd be late, i was late. that's it",
            "babe the cat knocked over the plant AGAIN",
        ]
        * 7
    )
)


@pytest.fixture(scope="module")
def model() -> Iterator[EmbeddedChat]:
    chat = EmbeddedChat(assets.resolve("llm").path, context_size=2048, seed=0)
    yield chat
    chat.close()


def conversation(line: str) -> list[Message]:
    return [{"role": "system", "content": PERSONA}, {"role": "user", "content": line}]


def test_streams_a_reply_token_by_token(model: EmbeddedChat) -> None:
    assert isinstance(model, ChatModel)
    assert model.info.backend == "embedded" and model.info.context_size == 2048
    pieces = list(model.stream(conversation("hey, are you there?"), GenerationOptions(max_tokens=40, seed=1)))
    text = "".join(pieces)
    assert len(pieces) >= 2 and text.strip()
    assert "<|im_end|>" not in text and "<|im_start|>" not in text


@pytest.mark.timing
def test_cancel_stops_within_a_token(model: EmbeddedChat) -> None:
    cancel = CancelToken()
    received: list[str] = []
    # Seeded: unseeded, the model once answered this with "ok" and its end token (one piece in all).
    options = GenerationOptions(max_tokens=120, seed=3)
    for piece in model.stream(conversation("tell me a long story about us"), options, cancel):
        received.append(piece)
        if len(received) == 3:
            cancel.cancel()
    assert len(received) == 3


@pytest.mark.timing
def test_cancel_from_another_thread_is_prompt(model: EmbeddedChat) -> None:
    cancel = CancelToken()
    arrivals: list[float] = []

    ended: list[float] = []

    def consume() -> None:
        for _ in model.stream(conversation("why did you leave?"), GenerationOptions(max_tokens=200), cancel):
            arrivals.append(time.perf_counter())
        ended.append(time.perf_counter())

    worker = threading.Thread(target=consume)
    worker.start()
    while len(arrivals) < 2:
        time.sleep(0.005)
    time.sleep(0.04)  # into the next token's computation (~0.1 s a token here)
    cancel.cancel()
    worker.join(timeout=5)
    assert not worker.is_alive()
    assert cancel.cancelled_at is not None
    late = [t for t in arrivals if t > cancel.cancelled_at]
    assert len(late) <= 1  # at most a token handed over as the cancel came
    assert ended and ended[0] - cancel.cancelled_at < 0.5


@pytest.mark.timing
def test_cancel_aborts_the_computation_in_progress(model: EmbeddedChat) -> None:
    # A cancel while a long new prompt is being read (~300 tokens in batches of 256: seconds here)
    # stops llama.cpp between two operations of its graph, instead of after the batch.
    cancel = CancelToken()
    ended: list[float] = []
    long_line = " ".join(f"memory {i}: the lake, the boat, the rain." for i in range(40))

    def consume() -> None:
        for _ in model.stream(conversation(long_line), GenerationOptions(max_tokens=20), cancel):
            pass
        ended.append(time.perf_counter())

    worker = threading.Thread(target=consume)
    worker.start()
    time.sleep(0.8)
    assert not ended, "the prompt was read before the cancel; nothing to test"
    cancel.cancel()
    worker.join(timeout=30)
    assert ended and cancel.cancelled_at is not None
    assert ended[0] - cancel.cancelled_at < 0.2, ended[0] - cancel.cancelled_at
    # ... and leaves nothing behind: the next greedy reply is the one a clean cache gives.
    greedy = GenerationOptions(max_tokens=8, temperature=0.0, seed=1)
    after = "".join(model.stream(conversation("hey"), greedy))
    model.warm_up(conversation("hey")[:1])
    assert after.strip() and after == "".join(model.stream(conversation("hey"), greedy))


@pytest.mark.timing
def test_a_reply_gives_way_while_a_stage_takes_every_core_and_goes_on_unchanged(model: EmbeddedChat) -> None:
    # A reply's first sound is computed on every core (`LOAD.alone`): the model stops the token it is
    # computing, computes nothing until the stage is done, then goes on from the KV cache it had.
    greedy = GenerationOptions(max_tokens=24, temperature=0.0, seed=1)
    line = conversation("tell me what you did last weekend, all of it")
    model.warm_up(line[:1])  # both replies read the line from the same cache
    plain = "".join(model.stream(line, greedy))
    assert model.last_prompt["gave_way"] == 0
    held: list[float] = []

    def take_every_core() -> None:
        with LOAD.alone("tts"):
            held.append(time.perf_counter())
            time.sleep(0.5)  # ~6 tokens' time here
            held.append(time.perf_counter())

    pieces: list[str] = []
    arrivals: list[float] = []
    holder = threading.Thread(target=take_every_core)
    model.warm_up(line[:1])
    for piece in model.stream(line, greedy):
        pieces.append(piece)
        arrivals.append(time.perf_counter())
        if len(pieces) == 2:
            holder.start()
    holder.join()
    assert len(held) == 2 and len(pieces) > 4, pieces
    # The same greedy reply: the token stopped mid-computation left nothing behind in the cache.
    assert "".join(pieces) == plain
    assert model.last_prompt["gave_way"] == 1
    # It stood aside about as long as the cores were held (counted from the give-way to going on).
    assert held[1] - held[0] - 0.02 <= model.last_prompt["gave_way_s"] <= held[1] - held[0] + 0.5
    # Nothing was computed while the stage held the cores (a piece already computed may still arrive).
    assert sum(held[0] + 0.05 < t < held[1] for t in arrivals) <= 1, (held, arrivals)
    assert any(t > held[1] for t in arrivals)


@pytest.mark.timing
def test_a_reply_waits_for_a_first_sound_only_so_long_and_a_late_give_way_stops_nothing(
    model: EmbeddedChat, monkeypatch: pytest.MonkeyPatch
) -> None:
    from voice_app.llm import embedded as embedded_module

    monkeypatch.setattr(embedded_module, "GIVE_WAY_MAX_S", 0.3)
    release = threading.Event()
    held: list[float] = []

    def take_every_core() -> None:
        with LOAD.alone("tts"):
            held.append(time.perf_counter())
            release.wait(30)

    holder = threading.Thread(target=take_every_core)
    pieces: list[str] = []
    for piece in model.stream(conversation("tell me what you did last weekend"), GenerationOptions(max_tokens=16)):
        pieces.append(piece)
        if len(pieces) == 2:
            holder.start()
    still_held = holder.is_alive()
    release.set()
    holder.join()
    assert still_held and len(pieces) > 4, pieces  # it went on while the stage still held the cores
    assert model.last_prompt["gave_way"] == 1 and 0.3 <= model.last_prompt["gave_way_s"] < 5
    # A give-way asked once the reply is over stops nothing: the next prefill reads.
    model._give_way()
    assert not model._abort.is_set
    assert model.prefill(conversation("hey, how are you?")) > 0


def test_context_trimming_drops_oldest_turns_never_the_prefix() -> None:
    small = EmbeddedChat(assets.resolve("llm").path, context_size=512)
    try:
        system: Message = {"role": "system", "content": "You are Alex. Keep it short."}
        history: list[Message] = []
        for i in range(20):
            history.append({"role": "user", "content": f"message number {i}: do you remember the lake trip?"})
            history.append({"role": "assistant", "content": f"reply {i}: yeah of course i remember the lake"})
        messages = [system, *history, {"role": "user", "content": "last line: goodbye"}]
        assert small.count_tokens(messages) > 512
        kept = small.fit(messages, max_tokens=100)
        assert kept[0] == system and kept[-1]["content"] == "last line: goodbye"
        assert small.count_tokens(kept) <= 512 - 100
        assert "message number 0:" not in str(kept) and "message number 19:" in str(kept)
        assert [m["role"] for m in kept[1:]] == ["user", "assistant"] * ((len(kept) - 2) // 2) + ["user"]
        reply = "".join(small.stream(messages, GenerationOptions(max_tokens=20, seed=3)))
        assert reply.strip()
        # A prefix of several messages (system + replayed real exchanges) is kept whole once warmed up.
        prefix: list[Message] = [system, {"role": "user", "content": "hey"}, {"role": "assistant", "content": "hi you"}]
        small.warm_up(prefix)
        kept = small.fit([*prefix, *history, {"role": "user", "content": "bye"}], max_tokens=100)
        assert kept[:3] == prefix and "message number 0:" not in str(kept) and kept[-1]["content"] == "bye"
        assert kept[3]["role"] == "user"
        huge = [{"role": "system", "content": "word " * 1000}, {"role": "user", "content": "hi"}]
        with pytest.raises(LLMError) as exc:
            small.fit(huge, max_tokens=100)
        assert "llm.context_size" in (exc.value.fix or "")
    finally:
        small.close()


def _ttft(model: EmbeddedChat, messages: list[Message]) -> float:
    start = time.perf_counter()
    stream = model.stream(messages, GenerationOptions(max_tokens=8, seed=2))
    next(stream)
    elapsed = time.perf_counter() - start
    stream.close()
    return elapsed


def test_prefix_is_reused_across_turns(model: EmbeddedChat) -> None:
    prefix = conversation("x")[:1]
    prefix_tokens = len(model.tokenize(model.render(prefix, add_generation_prompt=False)[0]))
    assert prefix_tokens > 500
    model.warm_up([{"role": "system", "content": "unrelated short prompt"}])  # a cold cache for our prefix
    first = _ttft(model, conversation("hey, are you there?"))
    second = _ttft(model, conversation("do you still think about the lake trip?"))
    assert first >= 5 * second, (first, second)
    # warm_up puts the prefix in the cache before the first turn, so even turn one starts fast.
    model.warm_up([{"role": "system", "content": "unrelated short prompt"}])
    model.warm_up(prefix)
    assert model.cached_tokens() == prefix_tokens
    warmed = _ttft(model, conversation("hey, are you there?"))
    assert first >= 5 * warmed, (first, warmed)


def test_physical_cores_is_sane() -> None:
    assert 1 <= physical_cores() <= (len(__import__("os").sched_getaffinity(0)))


def test_prefix_state_is_restored_from_disk_by_a_new_process_model(model: EmbeddedChat, tmp_path: Path) -> None:
    from voice_app.llm.prefix_cache import PrefixStateCache

    prefix: list[Message] = [{"role": "system", "content": "You are Alex, texting Sam. Short lowercase replies. " * 8}]
    line = [*prefix, {"role": "user", "content": "hey you"}]
    greedy = GenerationOptions(max_tokens=10, temperature=0.0, seed=5)
    model._prefix_cache = PrefixStateCache(tmp_path, assets.resolve("llm").path, model.info.context_size)
    try:
        start = time.perf_counter()
        model.warm_up(prefix)
        evaluated = time.perf_counter() - start
        expected = "".join(model.stream(line, greedy))
    finally:
        model._prefix_cache = None
    (saved,) = tmp_path.glob("*.kv")
    assert saved.stat().st_mode & 0o777 == 0o600
    fresh = EmbeddedChat(assets.resolve("llm").path, context_size=model.info.context_size, prefix_cache_dir=tmp_path)
    try:
        start = time.perf_counter()
        fresh.warm_up(prefix)
        restored = time.perf_counter() - start
        assert fresh.cached_tokens() == len(fresh.tokenize(fresh.render(prefix, add_generation_prompt=False)[0]))
        assert "".join(fresh.stream(line, greedy)) == expected
        assert restored * 5 < evaluated, (restored, evaluated)
        saved.write_bytes(saved.read_bytes()[:1000])  # a torn write is detected and rebuilt
        fresh.warm_up(prefix)
        assert saved.stat().st_size > 1000 and "".join(fresh.stream(line, greedy)) == expected
    finally:
        fresh.close()


def _prompt_tokens(model: EmbeddedChat, messages: list[Message]) -> list[int]:
    return model.tokenize(model.render(messages)[0])


def test_prefill_reads_the_known_part_ahead_so_the_reply_reads_only_the_tail(model: EmbeddedChat) -> None:
    prefix = conversation("x")[:1]
    final = [*prefix, {"role": "user", "content": "do you remember the lake house we rented that summer?"}]
    options = GenerationOptions(max_tokens=12, temperature=0.0, seed=3)

    def prefilled_reply() -> str:
        model.warm_up(prefix)
        partial = [*prefix, {"role": "user", "content": "do you remember the lake house"}]  # heard so far
        assert not model.is_cached(partial)
        held = model.prefill(partial, max_tokens=12)
        assert model.is_cached(partial) and held == model.cached_tokens()
        open_tokens = model._open_tokens(partial)
        assert held == len(open_tokens)
        # The reply's prompt continues what was prefilled: only its tail (the rest of the line and the
        # assistant header, ~12 tokens) is left to read.
        full = _prompt_tokens(model, final)
        assert full[: len(open_tokens)] == open_tokens and model._common_prefix(full) == held
        assert 0 < len(full) - held < 20
        return "".join(model.stream(final, options))

    first = prefilled_reply()
    assert first.strip() and "<|im" not in first
    # Deterministic for the same split (llama.cpp's sums depend on how a prompt is split into batches,
    # so a greedy reply may differ from the unsplit prompt's at a near tie; both are the model's).
    assert prefilled_reply() == first


@pytest.mark.timing
def test_prefill_stops_when_asked_and_when_a_reply_starts(model: EmbeddedChat) -> None:
    prefix = conversation("x")[:1]
    model.warm_up([{"role": "system", "content": "unrelated short prompt"}])
    calls = {"n": 0}

    def stop_after_two() -> bool:
        calls["n"] += 1
        return calls["n"] > 2

    held = model.prefill(prefix, stop_after_two, chunk=8)
    assert 0 < held <= 8 * 2 + 10 and not model.is_cached(prefix)

    # A reply wanting the model makes a long prefill give way at once, in the middle of a chunk
    # (256 tokens: ~7 s here): llama.cpp's abort callback stops its evaluation.
    model.warm_up([{"role": "system", "content": "unrelated short prompt"}])
    done = threading.Event()
    result: dict[str, int] = {}
    returned: dict[str, float] = {}

    def prefill() -> None:
        result["held"] = model.prefill(prefix, chunk=256)
        returned["at"] = time.perf_counter()
        done.set()

    thread = threading.Thread(target=prefill)
    thread.start()
    time.sleep(0.5)
    started = time.perf_counter()
    short = [{"role": "system", "content": "unrelated short prompt"}, {"role": "user", "content": "hey"}]
    stream = model.stream(short, GenerationOptions(max_tokens=2, seed=1))
    next(stream)
    waited = time.perf_counter() - started
    stream.close()
    thread.join(30)
    assert done.is_set() and result["held"] < len(model._open_tokens(prefix))
    # The prefill gave way within a fraction of a second of the reply asking (not at the end of its
    # ~7 s chunk); the reply waited for that and its own short prompt, not the ~600-token prefix (~15 s).
    assert returned["at"] - started < 0.5, returned["at"] - started
    assert waited < 5, waited
    # The aborted chunk left nothing behind: the reply after it is the one a clean cache gives.
    greedy = GenerationOptions(max_tokens=8, temperature=0.0, seed=1)
    after_abort = "".join(model.stream(short, greedy))
    model.warm_up([{"role": "system", "content": "unrelated short prompt"}])
    assert after_abort.strip() and after_abort == "".join(model.stream(short, greedy))


def prefill_in_background(
    model: EmbeddedChat, messages: list[Message], *, threads: int
) -> tuple[threading.Thread, dict[str, int]]:
    """Prefill `messages` as one chunk on `threads` in a thread; returns once that chunk is being read."""
    result: dict[str, int] = {}
    total = len(model._open_tokens(messages))
    thread = threading.Thread(
        target=lambda: result.setdefault("held", model.prefill(messages, chunk=total, threads=threads))
    )
    thread.start()
    deadline = time.monotonic() + 60
    while model._chunk is None and time.monotonic() < deadline:
        time.sleep(0.002)
    return thread, result


def test_a_turn_starting_mid_chunk_counts_the_chunk_and_the_reply_goes_on_from_it(model: EmbeddedChat) -> None:
    # A chunk read on all threads (typing): as a turn starts, the speculator asks what the cache holds;
    # the answer counts the chunk being read (without waiting for it), and a reply whose prompt goes
    # on from that chunk lets it finish instead of aborting it and reading it again.
    prefix = conversation("x")[:1]
    total = len(model._open_tokens(prefix))
    full = model._llm.n_threads
    model.warm_up([{"role": "system", "content": "unrelated short prompt"}])
    thread, result = prefill_in_background(model, prefix, threads=full)
    cached = model.is_cached(prefix)
    still_reading = thread.is_alive()  # one chunk of ~600 tokens: seconds, busy machine or not
    assert cached and still_reading
    reply = [*prefix, {"role": "user", "content": "hey"}]
    text = "".join(model.stream(reply, GenerationOptions(max_tokens=4, temperature=0.0, seed=1)))
    thread.join(60)
    assert result["held"] == total and text.strip()
    assert model.last_prompt["read"] < 20, model.last_prompt  # the user's line, not the prefix again


def test_a_reply_aborts_a_chunk_read_on_one_thread_even_one_it_shares(model: EmbeddedChat) -> None:
    # Beside speech recognition a chunk is read on one thread: waiting for the rest of one the reply
    # shares cost 0.4-1.6 s a turn, more than reading its tokens again on all threads. The cache
    # counts only what it holds, and the reply stops the chunk and reads the prefix itself.
    if model._llm.n_threads < 2:
        pytest.skip("one thread is all this machine has: every chunk is read on all of them")
    prefix = conversation("x")[:1]
    total = len(model._open_tokens(prefix))
    model.warm_up([{"role": "system", "content": "unrelated short prompt"}])
    thread, result = prefill_in_background(model, prefix, threads=1)
    assert model._chunk is not None and not model.is_cached(prefix)  # one chunk of ~600 tokens: seconds
    reply = [*prefix, {"role": "user", "content": "hey"}]
    text = "".join(model.stream(reply, GenerationOptions(max_tokens=4, temperature=0.0, seed=1)))
    thread.join(60)
    assert result["held"] < total and text.strip()
    assert model.last_prompt["read"] > total - 20, model.last_prompt  # the prefix, read by the reply
    # and the reply is the one a clean cache gives
    model.warm_up([{"role": "system", "content": "unrelated short prompt"}])
    assert text == "".join(model.stream(reply, GenerationOptions(max_tokens=4, temperature=0.0, seed=1)))


def test_a_prefill_told_to_give_way_leaves_the_cache_as_it_was(model: EmbeddedChat) -> None:
    # A turn starts while the speculator picks up a guess with other exchanges: that guess must not
    # cut the cache back to what it shares with it (the turn would read those tokens again: 20-60 of
    # them were measured, 0.3-0.6 s), it must give way untouched.
    prefix = conversation("x")[:1]
    model.warm_up(prefix)
    heard = [*prefix, {"role": "user", "content": "i found the letters you wrote me last week"}]
    held = model.prefill(heard)
    assert model.is_cached(heard) and held == model.cached_tokens()
    other = [*prefix, {"role": "assistant", "content": "an exchange recalled later"}, heard[-1]]
    assert model.prefill(other, lambda: True) == held
    assert model.cached_tokens() == held and model.is_cached(heard)


def test_a_turn_starting_mid_chunk_on_one_thread_keeps_what_was_read_before_it(model: EmbeddedChat) -> None:
    # A reply aborts a chunk read on one thread, and the cache keeps what was read before that chunk:
    # a turn starting then must count it (it had been told "nothing is cached" and dropped the
    # recalled exchanges the cache held).
    if model._llm.n_threads < 2:
        pytest.skip("one thread is all this machine has: every chunk is read on all of them")
    prefix = conversation("x")[:1]
    model.warm_up(prefix)
    exchanges = [*prefix, {"role": "user", "content": "the lake house"}, {"role": "assistant", "content": "yes"}]
    read = model.prefill(exchanges)
    going_on = [*exchanges, {"role": "user", "content": " ".join(["we talked about the lake house all night"] * 30)}]
    total = len(model._open_tokens(going_on))
    thread, result = prefill_in_background(model, going_on, threads=1)
    assert model._chunk is not None and thread.is_alive()  # ~270 tokens on one thread: seconds
    assert model.is_cached(exchanges) and not model.is_cached(going_on)
    reply = [*exchanges, {"role": "user", "content": "hey"}]
    text = "".join(model.stream(reply, GenerationOptions(max_tokens=4, temperature=0.0, seed=1)))
    thread.join(60)
    assert result["held"] < total and text.strip()
    assert model.last_prompt["read"] < 15, (model.last_prompt, read)  # "hey" and the header, not the exchanges


def test_prefill_does_nothing_while_a_reply_is_generated(model: EmbeddedChat) -> None:
    stream = model.stream(conversation("tell me a long story"), GenerationOptions(max_tokens=30, seed=1))
    next(stream)  # the reply holds the model
    assert model.prefill(conversation("other")) == 0
    stream.close()


def test_word_bias_nudges_whole_word_tokens_and_leaves_split_words_alone(model: EmbeddedChat) -> None:
    """The persona's words (`GenerationOptions.word_bias`) reach the sampler: a strong nudge puts the word
    in a greedy reply that did not have it; a word the tokenizer splits is not nudged at all."""
    line = conversation("how was your weekend?")
    plain = "".join(model.stream(line, GenerationOptions(temperature=0.0, max_tokens=24, seed=0))).lower()
    assert "awesome" not in plain
    nudged = GenerationOptions(temperature=0.0, max_tokens=24, seed=0, word_bias=(("awesome", 8.0),))
    assert "awesome" in "".join(model.stream(line, nudged)).lower()
    assert model._word_bias((("zqxjkv", 8.0),)) is None  # no single token spells it: nothing to nudge


def test_weights_are_not_repacked_at_load_unless_asked(model: EmbeddedChat) -> None:
    import llama_cpp

    # The default: llama.cpp reads the GGUF's weights as they are (no load-time copy for its kernels).
    assert model._llm.model_params.use_extra_bufts is False
    assert llama_cpp.llama_model_default_params().use_extra_bufts is True, "the library's default is restored"
    repacked = EmbeddedChat(assets.resolve("llm").path, context_size=1024, seed=0, repack_weights=True)
    try:
        assert repacked._llm.model_params.use_extra_bufts is True
        reply = "".join(repacked.stream(conversation("hey"), GenerationOptions(max_tokens=8, seed=1)))
        assert reply.strip()
    finally:
        repacked.close()
