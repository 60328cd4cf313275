"""EmbeddedChat: llama.cpp in process, one warm `Llama`, the persona prefix's KV cache kept across turns."""

from __future__ import annotations

import codecs
import logging
import queue
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

from voice_app.core.cancel import CancelToken
from voice_app.core.compute import LOAD
from voice_app.core.cpu import physical_cores
from voice_app.core.errors import DataDirError, LLMError, ModelLoadError
from voice_app.llm.base import GenerationOptions, Message, ModelInfo
from voice_app.llm.model_thread import ModelThread
from voice_app.llm.prefix_cache import PrefixStateCache

log = logging.getLogger(__name__)

PREFIX_CHUNK = 128  # the persona prefix is read in chunks, threads fitted to the machine's load before each
GIVE_WAY_MAX_S = 2.0  # a reply stopped for a first sound (~0.06 s) goes on after this long at most


_log_callback = None  # kept alive: llama.cpp holds a pointer to it


def _quiet_llama_log() -> None:
    """llama.cpp's log, less the line it prints for every prefill a reply cut short (an expected abort)
    and the one naming the CPU code it loaded (`doctor` says which)."""
    global _log_callback
    if _log_callback is not None:
        return
    import llama_cpp
    from llama_cpp import _logger

    def forward(level: int, text: bytes, user_data: object) -> None:
        if b"removing memory module entries" not in text and not text.startswith(b"load_backend: loaded CPU"):
            _logger.llama_log_callback(level, text, user_data)

    _log_callback = llama_cpp.llama_log_callback(forward)
    llama_cpp.llama_log_set(_log_callback, None)


_params_lock = threading.Lock()
Loaded = TypeVar("Loaded")


def _loaded(load: Callable[[], Loaded], *, repack: bool) -> Loaded:
    """Run `load` (a `Llama(...)`) with llama.cpp's weight repacking on or off.

    As it loads, llama.cpp copies Q4_K weights into a layout for its AVX2/AVX-512 matrix kernels. On
    a 2-vCPU AMD EPYC (AVX2) that copy adds ~0.8 s to the load (0.5 -> 1.3 s); long prompts are read
    no faster with it (~54 tokens/s both) nor replies written (~19 tokens/s), but the 9-20 new tokens
    a turn reads before its first token take 0.28-0.38 s instead of 0.38-0.64 s. So a conversation
    repacks (`llm.repack_weights = auto`) and one line that exits (`chat --once`) does not.
    llama-cpp-python has no argument for it, so its default model parameters are swapped for the
    duration of the load.
    """
    if repack:
        return load()
    import llama_cpp.llama as llama_module

    with _params_lock:
        original = llama_module.llama_cpp.llama_model_default_params

        def without_repack() -> Any:
            params = original()
            params.use_extra_bufts = False
            return params

        llama_module.llama_cpp.llama_model_default_params = without_repack
        try:
            return load()
        finally:
            llama_module.llama_cpp.llama_model_default_params = original


class AbortFlag:
    """A byte that llama.cpp's abort callback reads between the operations of a graph, without Python.

    The callback is libc's `strlen` on a two-byte buffer: it returns 0 while the flag is clear and 1
    once set, which the C ABI hands back as false/true. A Python callback would take the GIL at every
    graph operation (~900 per token here), stalling the model whenever another thread runs Python.
    """

    def __init__(self) -> None:
        import ctypes

        import llama_cpp

        self._byte = ctypes.create_string_buffer(2)
        strlen = ctypes.cast(ctypes.CDLL(None).strlen, ctypes.c_void_p).value
        assert strlen is not None
        self.callback = llama_cpp.ggml_abort_callback(strlen)
        self.data = ctypes.cast(self._byte, ctypes.c_void_p)

    def set(self) -> None:
        self._byte[0] = b"\x01"

    def clear(self) -> None:
        self._byte[0] = b"\x00"

    @property
    def is_set(self) -> bool:
        return self._byte[0] != b"\x00"


class EmbeddedChat:
    """A GGUF chat model run by llama-cpp-python, with prefix reuse, trimming and cancellation."""

    def __init__(
        self,
        model_path: Path,
        *,
        model_name: str | None = None,
        context_size: int = 4096,
        threads: int = 0,
        batch_size: int = 256,
        seed: int = 0,
        prefix_cache_dir: Path | None = None,
        repack_weights: bool = False,
        cpu_variant: str = "auto",
    ) -> None:
        try:
            from llama_cpp import Llama, llama_vocab_is_eog
            from llama_cpp.llama_chat_format import Jinja2ChatFormatter
        except Exception as exc:  # noqa: BLE001 - a broken native build raises many kinds
            raise ModelLoadError(
                f"llama-cpp-python cannot be imported: {exc}", fix="Re-run scripts/setup.sh."
            ) from None
        _quiet_llama_log()
        from voice_app.llm.cpu_backend import ensure_loaded

        self.cpu = ensure_loaded(cpu_variant, Path(model_path))
        self._bias_cache: dict[tuple[tuple[str, float], ...], tuple[Any, Any]] = {}
        # Every llama.cpp computation of this model runs on one thread (see llm.model_thread).
        self._worker = ModelThread(name=f"llama-{Path(model_path).stem[:20]}", on_exit=self._abort_at_exit)

        def load() -> Llama:
            return Llama(
                model_path=str(model_path),
                n_ctx=context_size,
                n_threads=threads or physical_cores(),
                n_batch=batch_size,
                seed=seed,
                verbose=False,
            )

        try:
            self._llm = self._worker.call(lambda: _loaded(load, repack=repack_weights))
        except (ValueError, RuntimeError, OSError) as exc:
            self._worker.stop()
            raise ModelLoadError(
                f"llama.cpp could not load {model_path}: {exc}",
                fix="Check the file is a complete GGUF chat model, or reset `llm.gguf_path` to the default.",
            ) from None
        template = self._llm.metadata.get("tokenizer.chat_template")
        if not template:
            self.close()
            raise ModelLoadError(
                f"{model_path} carries no chat template.",
                fix="Use an instruct/chat GGUF (base models only echo the prompt).",
            )
        eos = self._token_text(self._llm.token_eos())
        bos = self._token_text(self._llm.token_bos())
        self._formatters = {
            flag: Jinja2ChatFormatter(template=template, eos_token=eos, bos_token=bos, add_generation_prompt=flag)
            for flag in (True, False)
        }
        self._lock = threading.Lock()
        self._info = ModelInfo("embedded", model_name or Path(model_path).stem, context_size)
        self._prefix: list[Message] = []
        self._prefix_messages = 1
        self._model_path = Path(model_path)
        self._prefix_cache: PrefixStateCache | None = None
        self.use_prefix_cache(prefix_cache_dir)
        self._stop_ids = {self._llm.token_eos()}
        self._is_eog = llama_vocab_is_eog
        self._reply_waiting = threading.Event()  # a stream() wants the model: a running prefill yields
        self._abort = AbortFlag()  # set: the graph being evaluated stops at its next operation
        self._prefilling = False
        # The prefill's target tokens, the end of the chunk being read and its threads (None between
        # chunks): a turn starting counts what that chunk will hold when a reply would wait for it.
        self._chunk: tuple[list[int], int, int] | None = None
        import llama_cpp

        llama_cpp.llama_set_abort_callback(self._llm._ctx.ctx, self._abort.callback, self._abort.data)
        # The latest reply: prompt tokens, how many were read (not cached), seconds to read them and to
        # the first token, tokens generated after it and their seconds, tokens computed on one thread.
        self.last_prompt: dict[str, float] = {"tokens": 0, "read": 0}
        self.stream_calls = 0  # replies asked for (a benchmark counts the retries of a turn)
        self._threads_now = self._llm.n_threads
        self.contended_tokens = 0  # tokens of the latest reply computed on one thread (another stage was busy)
        self._reply_stop: CancelToken | None = None  # the latest reply's own stop (see _reply_stopping)
        self._generating = False
        self._gave_way = False  # a stage took every core (`LOAD.alone`): the token in progress was stopped
        self._way = threading.Lock()  # a give-way never lands on the reply after the one it stopped
        self.gave_way = 0  # times the latest reply gave way
        self.gave_way_s = 0.0  # …and the seconds it stood aside (from the give-way to going on)
        self._gave_way_at = 0.0
        LOAD.on_alone(self._give_way)

    @property
    def info(self) -> ModelInfo:
        return self._info

    def use_prefix_cache(self, folder: Path | None) -> None:
        """Where evaluated prefixes are kept between processes (None: nowhere)."""
        if folder is None:
            self._prefix_cache = None
        elif self._prefix_cache is None or self._prefix_cache.folder != folder:
            self._prefix_cache = PrefixStateCache(folder, self._model_path, self._info.context_size)

    # --- prompt ------------------------------------------------------------------------------

    def _token_text(self, token: int) -> str:
        if token < 0:
            return ""
        return self._llm.detokenize([token], special=True).decode("utf-8", errors="ignore")

    def render(self, messages: list[Message], add_generation_prompt: bool = True) -> tuple[str, list[str]]:
        """The chat template applied to `messages`; returns (prompt text, stop strings)."""
        response = self._formatters[add_generation_prompt](messages=messages)  # type: ignore[arg-type]
        stops = response.stop if isinstance(response.stop, list) else [response.stop] if response.stop else []
        return response.prompt, stops

    def tokenize(self, text: str) -> list[int]:
        return self._llm.tokenize(text.encode("utf-8"), add_bos=False, special=True)

    def count_tokens(self, messages: list[Message]) -> int:
        return len(self.tokenize(self.render(messages)[0]))

    def fit(self, messages: list[Message], max_tokens: int) -> list[Message]:
        """Drop the oldest turns after the fixed prefix until prompt + reply fit the context.

        The prefix is what warm_up() evaluated (at least messages[0]); it is never trimmed, so its
        KV cache stays valid.
        """
        budget = self._info.context_size - max_tokens
        keep = self._prefix_messages if messages[: self._prefix_messages] == self._prefix else 1
        kept = list(messages)
        while self.count_tokens(kept) > budget:
            if len(kept) <= keep + 1:
                raise LLMError(
                    f"The persona prompt alone ({self.count_tokens(kept)} tokens) does not fit the"
                    f" {self._info.context_size}-token context with room for a reply.",
                    fix="Raise it: `voice-app config set llm.context_size 8192`, or shorten the persona card.",
                )
            # Remove the oldest message after the prefix; drop its partner so roles keep alternating.
            del kept[keep]
            if len(kept) > keep + 1 and kept[keep]["role"] == "assistant":
                del kept[keep]
        return kept

    # --- ChatModel ---------------------------------------------------------------------------

    def warm_up(self, prefix: list[Message]) -> None:
        """Evaluate the fixed prefix into the KV cache; the next stream() reuses it."""
        prompt, _ = self.render(prefix, add_generation_prompt=False)
        tokens = self.tokenize(prompt)

        def evaluate() -> None:
            with self._lock:
                self._prefix, self._prefix_messages = list(prefix), len(prefix)
                if self._prefix_cache is not None and self._prefix_cache.restore(self._llm, tokens):
                    return  # a later session with the same persona: its prefix state comes from disk
                self._llm.reset()  # type: ignore[no-untyped-call]
                try:
                    for start in range(0, len(tokens), PREFIX_CHUNK):
                        self._fit_threads()  # another program busy on a core: one thread reads faster
                        self._llm.eval(tokens[start : start + PREFIX_CHUNK])
                finally:
                    self._set_threads(self._llm.n_threads)
                if self._prefix_cache is not None:
                    try:
                        self._prefix_cache.save(self._llm, tokens)
                    except DataDirError as exc:  # a full disk costs the next start its head start, not this chat
                        log.warning("the persona prefix was not cached: %s", exc.message)

        self._worker.call(evaluate)

    def cached_tokens(self) -> int:
        """How many tokens the KV cache holds (the prefix after warm_up)."""
        return int(self._llm.n_tokens)

    def stream(
        self,
        messages: list[Message],
        options: GenerationOptions | None = None,
        cancel: CancelToken | None = None,
    ) -> Iterator[str]:
        options = options or GenerationOptions()
        messages = self.fit(messages, options.max_tokens)
        prompt, stops = self.render(messages)
        tokens = self.tokenize(prompt)
        stop = CancelToken()  # the caller's cancel, or the caller leaving the stream early
        unhook = cancel.on_cancel(stop.cancel) if cancel is not None else None
        pieces: queue.SimpleQueue[str | BaseException | None] = queue.SimpleQueue()
        finished = threading.Event()

        def produce() -> None:
            """On the model's thread: the reply's pieces go to the caller as they are decoded."""
            try:
                with self._lock:
                    self._reply_waiting.clear()
                    self._abort.clear()
                    self.last_prompt = {"tokens": len(tokens), "read": len(tokens) - self._common_prefix(tokens)}
                    for piece in self._generate(tokens, stops, options, stop):
                        pieces.put(piece)
            except BaseException as exc:  # noqa: BLE001 - raised in the caller's thread
                pieces.put(exc)
            finally:
                finished.set()
                pieces.put(None)

        self.stream_calls += 1
        self._reply_stop = stop
        self._reply_waiting.set()
        if self._prefilling and not self._after_chunk(tokens):
            self._abort.set()  # the prefill in progress stops mid-chunk (see _after_chunk)
        self._worker.submit(produce)
        try:
            while (item := pieces.get()) is not None:
                if isinstance(item, BaseException):
                    raise item
                yield item
        finally:
            if unhook is not None:
                unhook()
            if not finished.is_set():
                stop.cancel()  # left early (a check stopped the reply): the model stops at once
                finished.wait(30)

    # --- speculative prefill -----------------------------------------------------------------

    def _open_tokens(self, messages: list[Message]) -> list[int]:
        """Tokens of `messages` rendered up to the end of the last message's text (its turn left open)."""
        marked = [*messages[:-1], {**messages[-1], "content": messages[-1]["content"] + _CUT}]
        prompt, _ = self.render(marked, add_generation_prompt=False)
        return self.tokenize(prompt[: prompt.rfind(_CUT)])

    def _common_prefix(self, tokens: list[int]) -> int:
        held = self._llm.input_ids[: self._llm.n_tokens]
        n = min(len(held), len(tokens))
        same = 0
        while same < n and held[same] == tokens[same]:
            same += 1
        return same

    def prefill(
        self,
        messages: list[Message],
        should_stop: Callable[[], bool] | None = None,
        *,
        max_tokens: int = 160,
        chunk: int = 32,
        threads: int = 0,
    ) -> int:
        """Evaluate `messages` (the last one left open) into the KV cache ahead of the reply.

        Called while the user is still speaking, with the prompt as far as it is known. Runs in
        chunks and gives way at once to a reply (or, between chunks, when `should_stop()`): the reply
        sets the abort flag, which stops the chunk being evaluated between two operations of its
        graph, so a reply never waits for it; what earlier chunks evaluated stays, and the reply's own
        evaluation starts from it. It runs on `threads` (default: all of the model's, one while
        another stage such as the speech recognizer computes). Returns how many tokens the cache holds.
        """
        try:
            tokens = self._open_tokens(self.fit(messages, max_tokens))  # trimmed as stream() will trim it
        except LLMError:
            return 0
        if (self._lock.locked() or self._reply_waiting.is_set()) and not self._reply_stopping():
            return 0  # a reply is being generated, or is about to be
        # A reply being stopped (one started in a pause, dropped as the user goes on) ends within an
        # operation: this prefill runs right after it, with the words heard since, not a pass later.
        return self._worker.call(lambda: self._prefill(tokens, should_stop, chunk, threads))

    def _reply_stopping(self) -> bool:
        """The latest reply was told to stop (cancelled, or its caller left): it frees the model at once."""
        stop = self._reply_stop
        return stop is not None and stop.cancelled

    def _prefill(self, tokens: list[int], should_stop: Callable[[], bool] | None, chunk: int, threads: int) -> int:
        """On the model's thread: evaluate `tokens` chunk by chunk until done or told to give way."""
        if not self._lock.acquire(blocking=False):
            return 0

        def give_way() -> bool:
            return self._reply_waiting.is_set() or (should_stop is not None and should_stop())

        try:
            if give_way():
                # A reply is starting (or a newer guess came): the cache holds what it may go on from.
                # Cutting it back to this guess first would make that reply read those tokens again.
                return int(self._llm.n_tokens)
            same = self._common_prefix(tokens)
            if same < self._llm.n_tokens:
                self._llm.n_tokens = same  # eval() drops the KV entries past it
            self._prefilling = True
            while self._llm.n_tokens < len(tokens) and not give_way():
                # All cores between turns; one while the speech recognizer runs beside it.
                full = self._llm.n_threads
                self._set_threads(threads or (1 if LOAD.others_busy(full) else full))
                start = self._llm.n_tokens
                self._chunk = (tokens, min(start + chunk, len(tokens)), self._threads_now)
                try:
                    self._llm.eval(tokens[start : start + chunk])
                except RuntimeError:  # aborted mid-chunk: its entries are dropped by the next eval()
                    break
                finally:
                    self._chunk = None
            return int(self._llm.n_tokens)
        finally:
            self._prefilling = False
            self._set_threads(self._llm.n_threads)
            self._lock.release()

    def is_cached(self, messages: list[Message], *, max_tokens: int = 160) -> bool:
        """Whether `messages` (the last one left open) are wholly in the KV cache, or will be when the
        prefill's chunk in progress ends and a reply would wait for it: asked as a turn starts, it
        does not wait for that chunk."""
        try:
            tokens = self._open_tokens(self.fit(messages, max_tokens))
        except LLMError:
            return False
        after_chunk = self._after_chunk(tokens)
        if after_chunk:  # a chunk the reply would wait for: what the cache holds once it ends
            return after_chunk == len(tokens)
        # No chunk, or one the reply aborts: the cache keeps what was read before that chunk.
        return self._common_prefix(tokens) == len(tokens)  # without the lock: it can only undercount

    def _after_chunk(self, tokens: list[int]) -> int | None:
        """How many leading `tokens` the cache will hold when the chunk being prefilled ends, if a reply
        with these tokens would wait for it; 0 when that reply aborts it; None when no chunk is read.

        A reply that goes on from the chunk waits for it when it is read on all threads (typing: the
        rest of a chunk is quicker than reading it again). Read on one thread, beside speech
        recognition, a chunk of 16 tokens takes 0.4-1 s on two slow cores (32 tokens: up to 2 s were
        seen): the reply stops it and reads those tokens itself, on all of them.
        """
        chunk = self._chunk  # read once: the prefill's thread replaces it
        if chunk is None:
            return None
        target, end, threads = chunk
        if threads < self._llm.n_threads:
            return 0
        n = min(end, len(tokens))
        return n if target[:n] == tokens[:n] else 0

    def _set_threads(self, n: int) -> None:
        if n != self._threads_now:
            import llama_cpp

            llama_cpp.llama_set_n_threads(self._llm._ctx.ctx, n, n)
            self._threads_now = n

    def _fit_threads(self) -> None:
        """All threads when the model computes alone; one while another stage (STT, TTS) computes.

        llama.cpp's threads meet at every operation, so one slowed thread stalls the others: with a
        core taken, one thread is ~2x faster than two. Read before each token; costs nothing.
        """
        full = self._llm.n_threads
        contended = full > 1 and LOAD.others_busy(full)
        self._set_threads(1 if contended else full)
        self.contended_tokens += contended

    def _give_way(self) -> None:
        """A stage takes every core for a moment (a reply's first sound): the token being computed stops
        between two operations and is computed again once that stage is done."""
        with self._way:  # not after the reply ended: its abort flag would stop the next prefill at once
            if self._generating:
                self._gave_way = True
                self._gave_way_at = time.perf_counter()
                self._abort.set()

    def _wait_to_go_on(self, cancel: CancelToken | None) -> None:
        """After giving way: wait until no stage holds every core, the reply is cancelled, or
        GIVE_WAY_MAX_S passed (a first sound computed that slowly must not stall the reply too)."""
        deadline = time.perf_counter() + GIVE_WAY_MAX_S
        while not LOAD.wait_alone(0.05) and time.perf_counter() < deadline:
            if cancel is not None and cancel.cancelled:
                return
        self._gave_way = False
        self.gave_way += 1
        self.gave_way_s += time.perf_counter() - self._gave_way_at
        self._abort.clear()
        if cancel is not None and cancel.cancelled:
            self._abort.set()
        self._fit_threads()

    def _word_bias(self, word_bias: tuple[tuple[str, float], ...]) -> Any:
        """A logits processor adding each word's bias to the tokens that spell it whole (with and without
        a leading space, lower case and capitalised); a word split over tokens is left alone, since
        nudging its first piece would nudge every word that starts the same way."""
        if not word_bias:
            return None
        if word_bias not in self._bias_cache:
            import numpy as np

            by_id: dict[int, float] = {}
            for word, bias in word_bias:
                for form in dict.fromkeys([word, f" {word}", word.capitalize(), f" {word.capitalize()}"]):
                    ids = self._llm.tokenize(form.encode(), add_bos=False, special=False)
                    if len(ids) == 1:
                        by_id[ids[0]] = max(bias, by_id.get(ids[0], bias))
            self._bias_cache[word_bias] = (np.array(list(by_id), np.intc), np.array(list(by_id.values()), np.single))
        ids, values = self._bias_cache[word_bias]

        def add_bias(_input_ids: object, logits: Any) -> Any:
            logits[ids] += values  # the sampler's first stage: logits still in token-id order
            return logits

        from llama_cpp import LogitsProcessorList

        return LogitsProcessorList([add_bias]) if len(ids) else None

    def _generate(
        self, tokens: list[int], stops: list[str], options: GenerationOptions, cancel: CancelToken | None
    ) -> Iterator[str]:
        if options.seed is not None:
            self._llm.set_seed(options.seed)
        self.contended_tokens = self.gave_way = 0
        self.gave_way_s = 0.0
        self._fit_threads()
        logits_processor = self._word_bias(options.word_bias)

        def reply_tokens() -> Iterator[int]:
            """The reply's tokens; a token stopped to give way is computed again, the KV cache kept."""
            generated: list[int] = []
            while True:
                try:
                    # generate() reuses the longest common token prefix with what the KV cache holds.
                    for token in self._llm.generate(
                        tokens + generated,
                        temp=options.temperature,
                        top_p=options.top_p,
                        repeat_penalty=options.repeat_penalty,
                        reset=True,
                        logits_processor=logits_processor,
                    ):
                        generated.append(token)
                        yield token
                    return
                except RuntimeError:
                    if not self._gave_way or (cancel is not None and cancel.cancelled):
                        raise
                    self._wait_to_go_on(cancel)

        started = time.perf_counter()
        first_at = last_at = 0.0
        produced = 0
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        held = ""  # text that might be the start of a stop string
        # A barge-in stops the token being computed, not only the next one (~0.1 s each here).
        unhook = cancel.on_cancel(self._abort.set) if cancel is not None else None
        self._generating = True
        try:
            for produced, token in enumerate(reply_tokens(), start=1):
                last_at = time.perf_counter()
                first_at = first_at or last_at
                if cancel is not None and cancel.cancelled:
                    return
                self._fit_threads()  # for the next token
                if token in self._stop_ids or self._is_eog(self._llm._model.vocab, token):
                    break
                held += decoder.decode(self._llm.detokenize([token], special=False))
                cut = _stop_index(held, stops)
                if cut is not None:
                    held = held[:cut]
                    break
                safe = _safe_prefix(held, stops)
                if safe:
                    yield safe
                    held = held[len(safe) :]
                if produced >= options.max_tokens:
                    break
        except RuntimeError:  # llama_decode aborted mid-token: cancelled (its entries go at the next eval)
            if cancel is None or not cancel.cancelled:
                raise
            return
        finally:
            with self._way:
                self._generating = self._gave_way = False
            if unhook is not None:
                unhook()
            self._abort.clear()
            self._set_threads(self._llm.n_threads)
            self.last_prompt.update(
                started_at=started,  # perf_counter() stamps, for benchmarks that line them up with a turn
                first_token_at=first_at,
                first_token_s=round(first_at - started, 4) if first_at else 0.0,
                generated=max(0, produced - 1),  # tokens after the first, over the seconds after it
                generate_s=round(last_at - first_at, 4) if first_at else 0.0,
                contended_tokens=self.contended_tokens,
                gave_way=self.gave_way,
                gave_way_s=round(self.gave_way_s, 4),  # inside generate_s: the voice's time, not the model's
                ended_at=time.perf_counter(),  # the model stopped computing (a barge-in: within an operation)
            )
        held += decoder.decode(b"", final=True)
        if held and not (cancel is not None and cancel.cancelled):
            yield held

    def _abort_at_exit(self) -> None:
        """The process is ending: a prefill or reply in progress stops between two operations."""
        if hasattr(self, "_abort"):  # loaded: a prefill gives way, and no new one starts
            self._reply_waiting.set()
            self._abort.set()

    def close(self) -> None:
        def release() -> None:
            with self._lock:
                self._llm.close()

        if hasattr(self, "_llm"):
            self._worker.call(release)
        self._worker.stop()


_CUT = "\x00prefill-cut\x00"  # marks where an open message's text ends in the rendered template


def _stop_index(text: str, stops: list[str]) -> int | None:
    found = [text.find(s) for s in stops if s and s in text]
    return min(found) if found else None


def _safe_prefix(text: str, stops: list[str]) -> str:
    """The part of `text` that cannot be the beginning of a stop string."""
    for size in range(min(len(text), max((len(s) for s in stops), default=0)), 0, -1):
        tail = text[-size:]
        if any(s.startswith(tail) for s in stops):
            return text[:-size]
    return text
