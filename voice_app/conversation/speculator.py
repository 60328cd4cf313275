"""Prefilling the next reply's prompt into the model's KV cache while the user is still speaking."""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING

from voice_app.care import check_turn
from voice_app.core.types import Memory
from voice_app.llm.base import PrefillingModel
from voice_app.persona.text import approx_tokens

if TYPE_CHECKING:
    from voice_app.conversation.conversation import Conversation

PREFILL_CHUNK = 16  # tokens per prefill step; a reply aborts the one in progress and reads its tokens itself
# A typed line may add real exchanges the cache does not hold yet, up to this many prompt tokens
# (~0.5 s of reading on two cores): found, they must not cost seconds before the first word.
TYPED_UNCACHED_TOKENS = 32


class Speculator:
    """Prefills the next reply's prompt into the model's KV cache while the user is still speaking.

    Each partial transcript recalls the real past exchanges for the words so far and evaluates the
    prompt (history, those exchanges, the words) in the background, so at the end of speech only
    what is new is left to read: at ~35 prompt tokens/s on two cores, the retrieved exchanges alone
    would cost seconds. After each turn it evaluates the finished exchange the same way.

    With `llm.voice_examples = "ready"` (the default), a voice turn keeps the exchanges that are
    already in the cache when the user stops and does not wait for the rest; "all" waits for all.
    While someone speaks, the exchanges are recalled until the words that follow them are being
    read, then kept: an exchange a later partial recalls would be read again with every word after
    it, on one core, and the reply would start before that ends (measured: 13–20 tokens left to read
    at the release instead of 7). A typed line is recalled again as each keystroke changes it.
    Backends without a local KV cache (Ollama) get every exchange, as typed turns do.
    """

    def __init__(self, conversation: Conversation) -> None:
        self.conversation = conversation
        model = conversation.model
        self.model: PrefillingModel | None = model if isinstance(model, PrefillingModel) else None
        self.enabled = self.model is not None
        self.policy = conversation.settings.llm.voice_examples
        self.carried: list[Memory] = []  # recalled on the previous exchange
        self.memories: list[Memory] | None = None  # carried + recalled on the latest partial transcript
        self.prefilled = 0  # tokens the cache held after the latest prefill
        self._cond = threading.Condition()
        self._pending: str | None = None
        self._pending_spoken = False
        self._words_read = False  # this utterance's words follow its exchanges in the cache: keep them
        self._generation = 0
        self._closed = False
        self._busy = False
        self._thread: threading.Thread | None = None
        if self.enabled:
            self._thread = threading.Thread(target=self._run, name="llm-prefill", daemon=True)
            self._thread.start()

    def feed(self, partial: str, *, spoken: bool = False) -> None:
        """A new partial transcript (StreamingTranscriber.on_partial, `spoken`) or typed line; only the
        latest one is worked on."""
        if self.enabled:
            self._submit(partial, spoken)

    def after_turn(self, said: str = "", reply: str = "") -> None:
        """The turn is stored: evaluate the finished exchange while the user listens and thinks.

        The real exchanges closest to it (`said` and `reply`) go into the cache too, ahead of the
        next line: the conversation usually stays on its topic, and these are ready however short
        the next utterance is. What the next line recalls is added after them.
        """
        self.carried = self.conversation.prompt.recall(f"{said} {reply}") if said.strip() else []
        self.memories = list(self.carried)
        self._words_read = False
        if self.enabled:
            self._submit("")

    def ready_memories(self, *, held: bool = False) -> list[Memory] | None:
        """The recalled exchanges to use now; None = recall on the final transcript (no prefill here).

        `held`: for a reply started in a pause, which the user may talk on from: the line's words stay
        read after these exchanges, so a later partial keeps them (recalling others re-read an
        exchange and the words, ~0.8 s: the reply then read 23 tokens instead of ~8)."""
        with self._cond:
            self._generation += 1  # a running prefill stops at its next chunk
            self._pending = None
            if not held:
                self._words_read = False
        if self.model is None or self.policy == "all":
            return None
        spec = self.memories or []
        conv = self.conversation
        for k in range(len(spec), 0, -1):
            if self.model.is_cached(conv.open_messages(spec[:k]), max_tokens=conv.options.max_tokens):
                return spec[:k]
        return []

    def typed_memories(self, line: str) -> list[Memory] | None:
        """A typed turn's exchanges: those already read (carried from the last exchange), then the
        line's own within TYPED_UNCACHED_TOKENS; None = recall them all (no prefill, or policy "all")."""
        ready = self.ready_memories()
        if ready is None:
            return None
        prompt = self.conversation.prompt
        out, budget = list(ready), TYPED_UNCACHED_TOKENS
        for memory in prompt.recall(line):
            if memory in out:
                continue
            cost = approx_tokens(memory.you) + approx_tokens(memory.them) + 8
            if cost > budget or len(out) > prompt.memory_k:
                break
            out.append(memory)
            budget -= cost
        return out

    def wait_idle(self, timeout: float = 60.0) -> bool:
        """Block until no prefill is queued or running (benchmarks and tests); False on timeout."""
        deadline = time.perf_counter() + timeout
        with self._cond:
            while self._pending is not None or self._busy:
                left = deadline - time.perf_counter()
                if left <= 0:
                    return False
                self._cond.wait(min(left, 0.05))
        return True

    def close(self, timeout: float = 10.0) -> None:
        """Stop: a prefill in progress gives way at its next chunk, and this waits for it."""
        with self._cond:
            self._closed = True
            self._generation += 1
            self._cond.notify()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout)

    def _submit(self, partial: str, spoken: bool = False) -> None:
        with self._cond:
            self._pending = partial
            self._pending_spoken = spoken
            self._generation += 1
            self._cond.notify()

    def _run(self) -> None:
        while True:
            with self._cond:
                while self._pending is None and not self._closed:
                    self._cond.wait()
                if self._closed:
                    return
                partial, self._pending = self._pending, None
                assert partial is not None
                spoken = self._pending_spoken
                keep_memories = spoken and self._words_read  # read now: a turn starting resets it
                generation = self._generation
                self._busy = True
            try:
                self._prefill(partial, generation, spoken, keep_memories)
            except Exception:  # noqa: BLE001 - a failed guess costs nothing: the reply evaluates its own prompt
                self.memories = None
            finally:
                with self._cond:
                    self._busy = False
                    self._cond.notify_all()

    def _prefill(self, partial: str, generation: int, spoken: bool = False, keep_memories: bool = False) -> None:
        conv = self.conversation  # while a reply is generated the model is busy and prefill() returns at once
        assert self.model is not None
        words = _stable_words(partial)
        if partial:
            if check_turn(partial, them=conv.prompt.them, country=conv.settings.care.country) is not None:
                return  # this turn will be answered out of character, without the model
            if self._generation != generation:
                return  # a turn started (its exchanges are chosen) or a newer guess came: this one is stale
            if not keep_memories:
                new = [m for m in conv.prompt.recall(partial) if m not in self.carried]
                self.memories = (self.carried + new)[: conv.prompt.memory_k + 1]
        messages = conv.open_messages(self.memories or [], words)
        self.prefilled = self.model.prefill(
            messages,
            lambda: self._generation != generation,
            max_tokens=conv.options.max_tokens,
            chunk=PREFILL_CHUNK,
        )
        if spoken and words and self._generation == generation:
            self._words_read = self.model.is_cached(conv.open_messages(self.memories or [], words.split()[0]))


def _stable_words(partial: str) -> str:
    """The partial transcript without its last word, which the next pass may still change."""
    text = partial.strip()
    if " " in text:
        return text.rsplit(" ", 1)[0]
    return text[:-1] if any(ord(ch) > 0x2E80 for ch in text) else ""
