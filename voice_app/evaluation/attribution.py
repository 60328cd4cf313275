"""Whose style is a text? A character n-gram authorship classifier and style distances."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping, Sequence

import numpy as np

from voice_app.persona import text as tx
from voice_app.persona.style import END_CLASSES, message_stats


def char_ngrams(text: str, n_min: int = 1, n_max: int = 4) -> Counter[str]:
    padded = " " + " ".join(part.strip() for part in text.splitlines() if part.strip()) + " "
    grams: Counter[str] = Counter()
    for n in range(n_min, n_max + 1):
        grams.update(padded[i : i + n] for i in range(len(padded) - n + 1))
    return grams


class CharNGramClassifier:
    """Multinomial naive Bayes over character 1-4-grams (case and punctuation kept: they are style)."""

    def __init__(self, alpha: float = 0.3, max_features: int = 60000, n_max: int = 4) -> None:
        self.alpha = alpha
        self.max_features = max_features
        self.n_max = n_max
        self.labels: list[str] = []
        self.vocab: dict[str, int] = {}
        self.log_prob = np.zeros((0, 0))

    def fit(self, docs: Mapping[str, Sequence[str]]) -> CharNGramClassifier:
        self.labels = sorted(docs)
        per_label: list[Counter[str]] = [Counter() for _ in self.labels]
        total: Counter[str] = Counter()
        for i, label in enumerate(self.labels):
            for doc in docs[label]:
                per_label[i].update(char_ngrams(doc, n_max=self.n_max))
            total.update(per_label[i])
        kept = sorted((g for g, c in total.items() if c >= 2), key=lambda g: (-total[g], g))[: self.max_features]
        self.vocab = {g: j for j, g in enumerate(kept)}
        counts = np.zeros((len(self.labels), len(kept)))
        for i, grams in enumerate(per_label):
            for g, c in grams.items():
                j = self.vocab.get(g)
                if j is not None:
                    counts[i, j] = c
        smoothed = counts + self.alpha
        self.log_prob = np.log(smoothed) - np.log(smoothed.sum(axis=1, keepdims=True))
        return self

    def scores(self, text: str) -> np.ndarray:
        grams = char_ngrams(text, n_max=self.n_max)
        idx = [self.vocab[g] for g in grams if g in self.vocab]
        if not idx:
            return np.zeros(len(self.labels))
        cnt = np.array([grams[g] for g in grams if g in self.vocab], dtype=float)
        return self.log_prob[:, idx] @ cnt

    def predict(self, text: str) -> str:
        s = self.scores(text)
        return self.labels[int(np.argmax(s))]  # uniform prior: ties go to the first label

    def rank(self, text: str, label: str) -> int:
        """1 when `label` scores best."""
        s = self.scores(text)
        mine = s[self.labels.index(label)]
        return 1 + int(np.sum(s > mine))


# --- style distances -----------------------------------------------------------------------------------


def _lines(bursts_: Sequence[str]) -> list[str]:
    return [line for b in bursts_ for line in b.splitlines() if line.strip()]


def _cosine(a: Counter[str], b: Counter[str]) -> float:
    keys = set(a) | set(b)
    if not keys:
        return 0.0
    va = np.array([a[k] for k in keys], dtype=float)
    vb = np.array([b[k] for k in keys], dtype=float)
    denom = float(np.linalg.norm(va) * np.linalg.norm(vb))
    return float(va @ vb / denom) if denom else 0.0


def style_distance(candidate: Sequence[str], reference: Sequence[str]) -> dict[str, float]:
    """Distances between two sets of bursts; 0 means the same habits."""
    cand, ref = _lines(candidate), _lines(reference)
    a, b = message_stats(cand), message_stats(ref)
    per_burst_a = len(cand) / max(1, len(candidate))
    per_burst_b = len(ref) / max(1, len(reference))
    words_a = Counter(w for t in cand for w in tx.words(t))
    words_b = Counter(w for t in ref for w in tx.words(t))
    return {
        "length_log_ratio": round(abs(math.log((a["chars_mean"] + 1) / (b["chars_mean"] + 1))), 4),
        "burst_size": round(abs(per_burst_a - per_burst_b), 4),
        "emoji_rate": round(abs(a["emoji_rate"] - b["emoji_rate"]), 4),
        "punctuation_tv": round(0.5 * sum(abs(a[f"end_{k}"] - b[f"end_{k}"]) for k in END_CLASSES), 4),
        "exclaim_question": round(
            abs(a["exclaim_rate"] - b["exclaim_rate"]) + abs(a["question_rate"] - b["question_rate"]), 4
        ),
        "lowercase_start": round(abs(a["lowercase_start_share"] - b["lowercase_start_share"]), 4),
        "laughter_rate": round(abs(a["laughter_rate"] - b["laughter_rate"]), 4),
        "vocabulary_cosine_distance": round(1 - _cosine(words_a, words_b), 4),
    }


def mean_dicts(rows: Sequence[dict[str, float]]) -> dict[str, float]:
    if not rows:
        return {}
    return {k: round(float(np.mean([r[k] for r in rows])), 4) for k in rows[0]}
