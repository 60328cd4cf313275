"""Fidelity evaluation: how close the simulated replies come to what the person really wrote.

Protocol (seeded, reproducible): for each evaluated person, the later 20% of their conversations are
held out. The persona prompt (style, sampled and retrieved exchanges) is built from the earlier 80%
only. For a few held-out contexts (the conversation so far, then the other person's burst) we
generate their reply twice, greedily (temperature 0): with the persona prompt, and with a prompt
that has no persona (the baseline). Then:

1. style distances between generated and real held-out replies (length, bursts, emoji, punctuation,
   capitalisation, vocabulary), with the real held-out replies against the person's own training
   messages as the natural floor;
2. authorship attribution: a character n-gram naive Bayes classifier (numpy, below) trained on the
   training messages of all candidate speakers attributes each reply; the share attributed to the
   right person is reported for the real held-out replies (the ceiling), the simulated replies and
   the no-persona baseline.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import math
import random
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from voice_app.conversation.persona_data import load_card
from voice_app.core.errors import VoiceAppError
from voice_app.core.records import StoredMessage
from voice_app.evaluation.attribution import CharNGramClassifier, mean_dicts, style_distance
from voice_app.llm.base import ChatModel, GenerationOptions
from voice_app.persona import text as tx
from voice_app.persona.adapt import adapt_reply
from voice_app.persona.card import PersonaCard
from voice_app.persona.guard import in_character
from voice_app.persona.memory import exchange_passage
from voice_app.persona.prompt import PersonaPrompt, clean_reply, compose_prompt, neutral_prompt
from voice_app.storage.store import Store

HOLDOUT = 0.2
HISTORY_BURSTS = 2  # bursts of the conversation shown before the line being answered
DEFAULT_CONTEXTS = 4
CONTEXT_CHARS = 300  # each shown burst is clipped, to keep prompt evaluation short on a CPU
REPLY_TOKENS = 40
SAMPLES_PER_SPEAKER = 3
MIN_MESSAGES = 500
TRAIN_DOCS_CAP = 3000  # training bursts per speaker for the classifier (keeps classes balanced)
SESSION_GAP_S = 6 * 3600  # in one long chat export, a 6-hour silence starts a new "conversation"
CHITCHAT_THEM = "Riley"
CHITCHAT_ME = "Sam"
CHITCHAT_RELATIONSHIP = "someone you are chatting with online"  # chitchat pairs are strangers, not exes

Progress = Callable[[str], None]


class EvalError(VoiceAppError):
    """The evaluation cannot run (dataset missing, too few messages...)."""


# --- data --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Context:
    """One held-out moment: the conversation so far, the other person's line, and the real reply."""

    history: list[tuple[str, str]]
    line: str
    real: str
    conversation: int


@dataclass
class Target:
    """One person to simulate: their label, training messages, prompt and held-out contexts."""

    label: str
    prompt: PersonaPrompt
    contexts: list[Context]
    train_texts: list[str]  # their training bursts (newline-joined messages)


def split_conversations(convs: Sequence[Sequence[StoredMessage]]) -> tuple[list, list]:
    """Time-ordered conversations -> (earlier 80%, later 20%); at least one on each side."""
    ordered = sorted(convs, key=lambda c: (c[0].ts, c[0].conversation_id))
    cut = min(len(ordered) - 1, max(1, math.ceil(len(ordered) * (1 - HOLDOUT))))
    return ordered[:cut], ordered[cut:]


def contexts_of(conv: Sequence[StoredMessage], history_bursts: int = HISTORY_BURSTS) -> list[Context]:
    """Every point of `conv` where the person (from_them) answers the other's burst."""
    bs = tx.bursts(conv)
    out = []
    for i in range(1, len(bs)):
        if not bs[i].from_them or bs[i - 1].from_them:
            continue
        window = bs[max(0, i - 1 - history_bursts) : i - 1]
        out.append(
            Context(_pairs(window), tx.clip(bs[i - 1].text, CONTEXT_CHARS), bs[i].text, bs[i].conversation_id),
        )
    return out


def _pairs(window: Sequence[tx.Burst]) -> list[tuple[str, str]]:
    """(other's burst, person's burst) pairs from alternating bursts; a leading reply is dropped."""
    merged: list[list[Any]] = []
    for b in window:
        if merged and merged[-1][0] == b.from_them:
            merged[-1][1] += "\n" + b.text
        else:
            merged.append([b.from_them, b.text])
    while merged and merged[0][0]:
        merged.pop(0)
    pairs = []
    for i in range(0, len(merged) - 1, 2):
        pairs.append((tx.clip(merged[i][1], CONTEXT_CHARS), tx.clip(merged[i + 1][1], CONTEXT_CHARS)))
    return pairs


def pick_contexts(convs: Sequence[Sequence[StoredMessage]], k: int, rng: random.Random) -> list[Context]:
    pool = [c for conv in convs for c in contexts_of(conv)]
    if len(pool) <= k:
        return pool
    chosen = sorted(rng.sample(range(len(pool)), k))
    return [pool[i] for i in chosen]


def burst_texts(convs: Sequence[Sequence[StoredMessage]], them: bool = True) -> list[str]:
    return [b.text for conv in convs for b in tx.bursts(conv) if b.from_them == them]


# --- chitchat --------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=1)
def load_chitchat() -> dict[str, Any]:
    """The chitchat conversations by id (loaded once per process; treat as read-only)."""
    try:
        import chitchat_dataset
    except ImportError:
        raise EvalError(
            "The chitchat dataset is not installed.",
            fix="Install the evaluation extra: .venv/bin/pip install -e '.[eval]'",
        ) from None
    return dict(chitchat_dataset.Dataset())


def chitchat_speakers(data: dict[str, Any], min_messages: int = MIN_MESSAGES) -> dict[str, list[str]]:
    """Speakers with at least `min_messages` messages -> their conversation ids (sorted)."""
    counts: Counter[str] = Counter()
    convs: dict[str, set[str]] = {}
    for cid, conv in data.items():
        for burst in conv["messages"]:
            for u in burst:
                counts[u["sender"]] += 1
                convs.setdefault(u["sender"], set()).add(cid)
    return {s: sorted(convs[s]) for s in sorted(counts) if counts[s] >= min_messages and len(convs[s]) >= 5}


def chitchat_conversation(data: dict[str, Any], cid: str, speaker: str, number: int) -> list[StoredMessage]:
    """One chitchat conversation as stored messages, `speaker` being the person simulated."""
    out: list[StoredMessage] = []
    for burst in data[cid]["messages"]:
        for u in burst:
            text = (u.get("text") or "").strip()
            if text:
                ts = u["timestamp"].replace("Z", "")
                out.append(
                    StoredMessage(number * 10000 + len(out), ts, "", u["sender"] == speaker, "text", text, number)
                )
    return out


def chitchat_targets(
    speakers: int, contexts: int, seed: int, progress: Progress | None = None, by_meaning: bool = True
) -> tuple[list[Target], dict[str, list[str]]]:
    data = load_chitchat()
    eligible = chitchat_speakers(data)
    if speakers > len(eligible):
        raise EvalError(f"Only {len(eligible)} chitchat speakers have {MIN_MESSAGES}+ messages; asked for {speakers}.")
    chosen = sorted(random.Random(seed).sample(sorted(eligible), speakers))
    targets = []
    for speaker in chosen:
        convs = [chitchat_conversation(data, cid, speaker, n) for n, cid in enumerate(eligible[speaker])]
        convs = [c for c in convs if c]
        train, test = split_conversations(convs)
        messages = [m for conv in train for m in conv]
        prompt = compose_prompt(
            speaker,
            PersonaCard(),
            messages,
            them=CHITCHAT_THEM,
            me=CHITCHAT_ME,
            relationship=CHITCHAT_RELATIONSHIP,
            **(memory_by_meaning(messages) if by_meaning else {}),
        )
        rng = random.Random(f"{seed}:{speaker}")
        targets.append(Target(speaker[:8], prompt, pick_contexts(test, contexts, rng), burst_texts(train)))
        if progress:
            progress(f"speaker {speaker[:8]}: {len(train)} train / {len(test)} held-out conversations")
    return targets, {t.label: t.train_texts for t in targets}


def persona_targets(store: Store, name: str, contexts: int, seed: int) -> tuple[list[Target], dict[str, list[str]]]:
    """The stored persona as one target; the user (`me`) is a second candidate author."""
    card = load_card(store, name)
    messages = store.messages(name)
    convs: list[list[StoredMessage]] = []
    for m in messages:
        if m.kind != "text":
            continue
        gap = tx.seconds_between(convs[-1][-1].ts, m.ts) if convs else None
        if not convs or m.conversation_id != convs[-1][-1].conversation_id or (gap is not None and gap > SESSION_GAP_S):
            convs.append([])
        convs[-1].append(m)
    if len(convs) < 2 or sum(m.from_them for m in messages) < 20:
        raise EvalError(
            f"Persona {name!r} has too little history to hold some out ({len(messages)} messages).",
            fix="Import more of the chat history first.",
        )
    train, test = split_conversations(convs)
    them, me = card.them_name or "them", card.me_name or "me"
    kept = [m for c in train for m in c]
    prompt = compose_prompt(name, card, kept, them=them, me=me, **memory_by_meaning(kept))
    target = Target(them, prompt, pick_contexts(test, contexts, random.Random(f"{seed}:{name}")), burst_texts(train))
    return [target], {them: target.train_texts, f"{me} (you)": burst_texts(train, them=False)}


EVAL_EMBED_LIMIT = 800  # latest exchanges embedded per speaker (the app embeds 3,000; this keeps a run short)
_embedded: dict[str, np.ndarray] = {}  # passage key -> embedding, for the runs of one process (public data)


def memory_by_meaning(messages: Sequence[tx.MessageLike]) -> dict[str, Any]:
    """The app's retrieval by meaning for these messages: their exchanges embedded as at import."""
    from voice_app.conversation.persona_data import embed_exchanges, query_function
    from voice_app.llm.embedding import shared

    try:
        embedder = shared()
    except VoiceAppError:
        return {}
    exchanges = tx.exchanges(tx.bursts(messages))[-EVAL_EMBED_LIMIT:]
    vectors = embed_exchanges([exchange_passage(ex) for ex in exchanges], embedder, _embedded)
    _embedded.update(vectors.rows())
    return {"memory_vectors": vectors, "embed_query": query_function(embedder)}


# --- running -----------------------------------------------------------------------------------------


def simulate(
    model: ChatModel,
    prompt: PersonaPrompt,
    ctx: Context,
    options: GenerationOptions,
    refusals: list[str] | None = None,
) -> tuple[str, str, list]:
    """(reply as the app shows it, reply before the style adapter, retrieved exchanges used).

    Refusals the persona path asked again are appended to `refusals`.
    """
    turn = prompt.turn(ctx.history, ctx.line)
    if prompt.persona:  # the app's path: their words nudged, refusals asked again in character, the adapter
        options = dataclasses.replace(options, word_bias=prompt.word_bias)
        text = "".join(
            in_character(model, turn.messages, options, None, prompt.them, refusals, me=prompt.me, user_line=ctx.line)
        )
    else:  # the no-persona baseline: the model as it is
        text = "".join(model.stream(turn.messages, options))
    raw = clean_reply(text, prompt.them, prompt.me)
    return adapt_reply(raw, prompt.style), raw, turn.memories


def evaluate(
    targets: Sequence[Target],
    candidates: Mapping[str, Sequence[str]],
    model: ChatModel,
    *,
    seed: int = 0,
    max_tokens: int = REPLY_TOKENS,
    progress: Progress | None = None,
    baseline: bool = True,
) -> dict[str, Any]:
    """Simulate every target's contexts (persona, then no-persona baseline unless `baseline` is False)
    and score them."""
    started = time.perf_counter()
    options = GenerationOptions(temperature=0.0, max_tokens=max_tokens, seed=seed)
    capped = {k: _cap(v, TRAIN_DOCS_CAP, seed) for k, v in candidates.items()}
    classifier = CharNGramClassifier().fit(capped)
    per_speaker = []
    samples = []
    rows: dict[str, list[bool]] = {"simulated": [], "unadapted": [], "baseline": [], "real": []}
    gen_seconds = 0.0
    for target in targets:
        sims, unadapted, bases, reals = [], [], [], []
        t0 = time.perf_counter()
        _warm(model, target.prompt)
        used = []
        refusals: list[str] = []
        for ctx in target.contexts:
            reply, raw, memories = simulate(model, target.prompt, ctx, options, refusals)
            sims.append(reply)
            unadapted.append(raw)
            reals.append(ctx.real)
            used.append(len(memories))
        if baseline:
            neutral = neutral_prompt(target.prompt.them, target.prompt.me)
            _warm(model, neutral)
            for ctx in target.contexts:
                bases.append(simulate(model, neutral, ctx, options)[1])  # no persona, so no style to adapt to
        else:
            bases = [""] * len(target.contexts)  # not generated (an ablation run): scored as a miss, not reported
        for i, ctx in enumerate(target.contexts[:SAMPLES_PER_SPEAKER]):
            samples.append(
                {
                    "speaker": target.label,
                    "line": ctx.line,
                    "real": ctx.real,
                    "simulated": sims[i],
                    "simulated_unadapted": unadapted[i],
                    "baseline": bases[i],
                    "memories_used": used[i],
                }
            )
        gen_seconds += time.perf_counter() - t0
        result: dict[str, Any] = {
            "speaker": target.label,
            "contexts": len(target.contexts),
            "refusals_asked_again": len(refusals),
        }
        # Every reply, so a result can be re-scored or read without re-generating.
        result["replies"] = [
            {"line": c.line, "real": c.real, "simulated": s, "unadapted": u, "baseline": b}
            for c, s, u, b in zip(target.contexts, sims, unadapted, bases, strict=True)
        ]
        sets = (("simulated", sims), ("unadapted", unadapted), ("baseline", bases), ("real", reals))
        for name, replies in sets:
            hits = [classifier.predict(r) == target.label if r.strip() else False for r in replies]
            ranks = [classifier.rank(r, target.label) for r in replies]
            rows[name] += hits
            result[f"{name}_attributed"] = round(float(np.mean(hits)), 4) if hits else 0.0
            result[f"{name}_mean_rank"] = round(float(np.mean(ranks)), 3) if ranks else None
            result[f"{name}_aggregate_attributed"] = (
                bool(replies) and classifier.predict("\n".join(replies)) == target.label
            )
        result["style_simulated"] = style_distance(sims, reals)
        result["style_unadapted"] = style_distance(unadapted, reals)
        result["style_baseline"] = style_distance(bases, reals)
        result["style_real_vs_train"] = style_distance(reals, target.train_texts)
        per_speaker.append(result)
        if progress:
            progress(
                f"{target.label}: simulated {result['simulated_attributed']:.2f}, real {result['real_attributed']:.2f},"
                f" baseline {result['baseline_attributed']:.2f} ({time.perf_counter() - t0:.0f}s)"
            )

    def rate(name: str) -> float:
        return round(float(np.mean(rows[name])), 4) if rows[name] else 0.0

    def agg(name: str) -> float:
        return round(float(np.mean([r[f"{name}_aggregate_attributed"] for r in per_speaker])), 4)

    sim, real, base = rate("simulated"), rate("real"), rate("baseline") if baseline else None
    return {
        "attribution": {
            "simulated": sim,
            "simulated_without_style_adapter": rate("unadapted"),
            "ceiling_real": real,
            "baseline_no_persona": base,
            "chance": round(1 / max(1, len(classifier.labels)), 4),
            "ratio_to_ceiling": round(sim / real, 4) if real else None,
            "ratio_to_baseline": round(sim / base, 4) if base else None,  # None: no baseline generated
            "replies_per_set": len(rows["real"]),
            "per_speaker_aggregate": {
                "simulated": agg("simulated"),
                "simulated_without_style_adapter": agg("unadapted"),
                "ceiling_real": agg("real"),
                "baseline_no_persona": agg("baseline"),
            },
            "candidates": len(classifier.labels),
            "classifier": "multinomial naive Bayes on character 1-4-grams, uniform prior (numpy)",
        },
        "style_distance": {
            "simulated_vs_real": mean_dicts([r["style_simulated"] for r in per_speaker]),
            "unadapted_vs_real": mean_dicts([r["style_unadapted"] for r in per_speaker]),
            "baseline_vs_real": mean_dicts([r["style_baseline"] for r in per_speaker]),
            "real_heldout_vs_train": mean_dicts([r["style_real_vs_train"] for r in per_speaker]),
        },
        "per_speaker": per_speaker,
        "samples": samples,
        "generation": {
            "backend": model.info.backend,
            "model": model.info.model,
            "temperature": 0.0,
            "max_tokens": max_tokens,
            "seed": seed,
        },
        "seconds": {"generation": round(gen_seconds, 1), "total": round(time.perf_counter() - started, 1)},
    }


def _warm(model: ChatModel, prompt: PersonaPrompt) -> None:
    """Start each phase from the same KV-cache state (reset + prefix), so reruns give identical replies."""
    model.warm_up(prompt.prefix)


def _cap(docs: Sequence[str], cap: int, seed: int) -> list[str]:
    if len(docs) <= cap:
        return list(docs)
    picks = sorted(random.Random(seed).sample(range(len(docs)), cap))
    return [docs[i] for i in picks]


# What an ablation run takes out of the persona, to measure what it adds (no baseline is generated).
ABLATIONS = {
    "retrieval": "no real exchanges recalled for the line (neither by words nor by meaning)",
    "meaning": "recall by words only (BM25), not by meaning (e5 embeddings)",
    "examples": "no stable sample of real exchanges replayed as the first turns",
    "words": "their own words not nudged up (persona.lexicon's logit bias)",
}


def ablated(prompt: PersonaPrompt, ablation: str) -> PersonaPrompt:
    if ablation == "retrieval":
        return dataclasses.replace(prompt, memory=None)
    if ablation == "examples":
        return dataclasses.replace(prompt, examples=())
    if ablation == "words" and prompt.style is not None:
        return dataclasses.replace(prompt, style=dataclasses.replace(prompt.style, lexicon=[]))
    raise EvalError(f"Unknown ablation {ablation!r}: one of {', '.join(ABLATIONS)}.")


def run_chitchat(
    model: ChatModel,
    *,
    speakers: int = 10,
    contexts: int = DEFAULT_CONTEXTS,
    seed: int = 0,
    max_tokens: int = REPLY_TOKENS,
    progress: Progress | None = None,
    ablation: str | None = None,
) -> dict[str, Any]:
    """The chitchat evaluation; with `ablation` (one of ABLATIONS) that part of the persona is left out."""
    if ablation is not None and ablation not in ABLATIONS:
        raise EvalError(f"Unknown ablation {ablation!r}: one of {', '.join(ABLATIONS)}.")
    targets, candidates = chitchat_targets(speakers, contexts, seed, progress, by_meaning=ablation != "meaning")
    if ablation in ("retrieval", "examples", "words"):
        targets = [dataclasses.replace(t, prompt=ablated(t.prompt, ablation)) for t in targets]
    result = evaluate(
        targets, candidates, model, seed=seed, max_tokens=max_tokens, progress=progress, baseline=ablation is None
    )
    meta: dict[str, Any] = {"ablation": ablation, "ablation_means": ABLATIONS.get(ablation or "")}
    return {
        "dataset": "chitchat",
        "speakers": speakers,
        "contexts_per_speaker": contexts,
        "holdout": HOLDOUT,
        **(meta if ablation else {}),
        **result,
    }


def run_persona(
    store: Store,
    name: str,
    model: ChatModel,
    *,
    contexts: int = DEFAULT_CONTEXTS,
    seed: int = 0,
    distractors: int = 8,
    max_tokens: int = REPLY_TOKENS,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Evaluate a stored persona; candidates: them, you, and `distractors` chitchat speakers when installed."""
    targets, candidates = persona_targets(store, name, contexts, seed)
    if distractors:
        try:
            data = load_chitchat()
        except EvalError:
            data = {}
        if data:
            eligible = chitchat_speakers(data)
            for speaker in sorted(random.Random(seed).sample(sorted(eligible), min(distractors, len(eligible)))):
                convs = [chitchat_conversation(data, cid, speaker, n) for n, cid in enumerate(eligible[speaker])]
                candidates[f"chitchat:{speaker[:8]}"] = burst_texts(split_conversations([c for c in convs if c])[0])
    result = evaluate(targets, candidates, model, seed=seed, max_tokens=max_tokens, progress=progress)
    return {"persona": name, "contexts_per_speaker": contexts, "holdout": HOLDOUT, **result}


def write_result(result: dict[str, Any], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")


def open_eval_model() -> ChatModel:
    """The embedded model with the settings' context size (evaluation is always local and greedy)."""
    from voice_app.core import assets, config
    from voice_app.llm.embedded import EmbeddedChat

    settings = config.load()
    found = assets.resolve_configured("llm", settings)
    return EmbeddedChat(
        found.path,
        model_name=found.id if found.id != "custom" else found.path.name,
        context_size=settings.llm.context_size,
        threads=settings.llm.threads,
        repack_weights=settings.llm.repacks(),
        cpu_variant=settings.llm.cpu_variant,
    )


__all__ = [
    "CharNGramClassifier",
    "Context",
    "EvalError",
    "Target",
    "evaluate",
    "run_chitchat",
    "run_persona",
    "style_distance",
    "write_result",
]
