"""The semantic crisis layer: a kernel classifier over two multilingual embeddings of labelled lines.

The pattern lists catch what they spell out; this layer catches what a line *means*. Each line is
embedded twice, by multilingual-e5-small (~10 ms) and by the Universal Sentence Encoder multilingual
v3 (~3 ms): they were trained for different things (retrieval; question answering, translation and
inference), and together they raise a third fewer false alarms than e5 alone at the same recall in
cross-validation. The line is scored by kernel logistic regression against the labelled lines of
`data/care/crisis_train.tsv` (user lines and model replies, en and zh, with hard negatives): in
effect "how close is it to the crisis lines, against how close to the figures of speech and the
ordinary sadness". The decision threshold comes from 5-fold cross-validation on the training data
(the frozen test set is never used), set for recall first: a miss costs far more than a pause.

The fitted model is a cache file keyed by the training data, the method and the two model files:
`voice-app models prepare` fits it once (~1 min); a missing or stale file is refitted on first use.
"""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np

from voice_app.core import config
from voice_app.core.once import load_once
from voice_app.llm.embedding import Embedder
from voice_app.llm.embedding import shared as shared_embedder
from voice_app.llm.use_embedding import SentenceEncoder
from voice_app.llm.use_embedding import shared as shared_encoder

log = logging.getLogger(__name__)

DATA = Path(__file__).resolve().parent.parent / "data" / "care"
TRAIN = DATA / "crisis_train.tsv"
METHOD = "rbf-klr-v2-e5+use"  # bump when the method or its constants change: the cache key follows
# RBF width on standardised embeddings: each dimension scaled to unit variance, /sqrt(dim) within its
# view, and each of the two views /sqrt(2), so each view weighs the same in the distance.
GAMMA = 1.0
L2 = 0.003  # ridge on the kernel weights
CV_FOLDS = 5
CV_RECALL = 0.90  # the threshold keeps this share of the held-out crisis lines in cross-validation


@dataclass(frozen=True)
class LabelledLine:
    """One row of a labelled set: crisis (True) or not, its language and kind, the text."""

    crisis: bool
    lang: str
    kind: str
    text: str


def read_labelled(path: Path) -> list[LabelledLine]:
    """Rows of `label<TAB>lang<TAB>kind<TAB>text`; lines starting with # are comments."""
    rows = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        fields = line.split("\t")
        if len(fields) != 4 or fields[0] not in ("0", "1"):
            raise ValueError(f"{path.name}:{number}: expected label, lang, kind and text separated by tabs")
        rows.append(LabelledLine(fields[0] == "1", fields[1], fields[2], fields[3]))
    return rows


@dataclass(frozen=True)
class CrisisModel:
    """Standardisation, support lines and kernel weights: score(x) = sigmoid(K(x, support) · alpha + bias)."""

    mean: np.ndarray
    scale: np.ndarray
    support: np.ndarray  # standardised training embeddings (e5 then USE, side by side)
    alpha: np.ndarray
    bias: float
    threshold: float
    fingerprint: str

    def scores(self, embeddings: np.ndarray) -> np.ndarray:
        z = self._standardise(embeddings)
        logits = _rbf(z, self.support, self._support_norms) @ self.alpha + self.bias
        return 1.0 / (1.0 + np.exp(-logits))

    @cached_property
    def _support_norms(self) -> np.ndarray:
        return (self.support * self.support).sum(1)  # once, not per line (~3 ms over 4,600 rows)

    def _standardise(self, embeddings: np.ndarray) -> np.ndarray:
        return ((embeddings - self.mean) / self.scale).astype(np.float32)

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.partial")
        with tmp.open("wb") as handle:
            np.savez(
                handle,
                mean=self.mean,
                scale=self.scale,
                support=self.support,
                alpha=self.alpha,
                bias=np.float64(self.bias),
                threshold=np.float64(self.threshold),
                fingerprint=np.array(self.fingerprint),
            )
        os.replace(tmp, path)

    @classmethod
    def load(cls, path: Path) -> CrisisModel:
        with np.load(path) as data:
            return cls(
                data["mean"],
                data["scale"],
                data["support"],
                data["alpha"],
                float(data["bias"]),
                float(data["threshold"]),
                str(data["fingerprint"]),
            )


def _rbf(a: np.ndarray, b: np.ndarray, b_norms: np.ndarray | None = None) -> np.ndarray:
    # A few query rows go through einsum's own loop: OpenBLAS would wake its threads for this small
    # product and fight the embedding engine's for the two cores (25 ms instead of 1, measured).
    cross = a @ b.T if len(a) > 16 else np.einsum("ik,jk->ij", a, b)
    if b_norms is None:
        b_norms = (b * b).sum(1)
    sq = (a * a).sum(1)[:, None] + b_norms[None, :] - 2.0 * cross
    return np.exp(-GAMMA * np.maximum(sq, 0.0))


def _fit_weights(kernel: np.ndarray, labels: np.ndarray, iterations: int = 30) -> tuple[np.ndarray, float]:
    """Kernel logistic regression by iteratively reweighted least squares (Newton steps in the dual)."""
    alpha: np.ndarray = np.zeros(len(labels))
    bias = 0.0
    logits = np.zeros(len(labels))
    for _ in range(iterations):
        p = 1.0 / (1.0 + np.exp(-logits))
        weight = np.clip(p * (1.0 - p), 1e-6, None)
        target = logits + (labels - p) / weight
        bias = float(np.average(target, weights=weight))
        alpha = np.linalg.solve(kernel + L2 * np.diag(1.0 / weight), target - bias)
        previous, logits = logits, kernel @ alpha + bias
        if np.abs(logits - previous).max() < 1e-5:  # converged (in ~10 steps): the rest would change nothing
            break
    return alpha, bias


def fit(lines: Sequence[LabelledLine], views: Sequence[np.ndarray], fingerprint: str = "") -> CrisisModel:
    """Fit on all lines (`views`: one embedding matrix per model, rows in the order of `lines`); the
    threshold is where cross-validation keeps CV_RECALL of the crisis lines."""
    labels = np.array([line.crisis for line in lines], dtype=np.float64)
    embeddings = np.hstack(views)
    mean = embeddings.mean(0)
    scale = np.concatenate([view.std(0) * np.sqrt(view.shape[1] * len(views)) for view in views]) + 1e-9
    z = ((embeddings - mean) / scale).astype(np.float64)
    kernel = _rbf(z, z)
    order = np.random.default_rng(0).permutation(len(labels))
    held_out = np.zeros(len(labels))
    for fold in np.array_split(order, CV_FOLDS):
        train = np.setdiff1d(order, fold)
        alpha, bias = _fit_weights(kernel[np.ix_(train, train)], labels[train])
        held_out[fold] = 1.0 / (1.0 + np.exp(-(kernel[np.ix_(fold, train)] @ alpha + bias)))
    threshold = float(np.quantile(held_out[labels == 1], 1.0 - CV_RECALL))
    alpha, bias = _fit_weights(kernel, labels)
    return CrisisModel(
        mean.astype(np.float32),
        scale.astype(np.float32),
        z.astype(np.float32),
        alpha.astype(np.float32),
        bias,
        threshold,
        fingerprint,
    )


def training_fingerprint(embedder: Embedder, encoder: SentenceEncoder, train: Path = TRAIN) -> str:
    """What the fitted model depends on: the training data, the method and the two model files."""
    digest = hashlib.sha256(train.read_bytes())
    digest.update(METHOD.encode())
    for model_file in (embedder.model_path, encoder.model_path):
        digest.update(f"{model_file.name}:{model_file.stat().st_size}".encode())
    return digest.hexdigest()[:20]


def model_path(fingerprint: str) -> Path:
    return config.cache_dir() / "care" / f"crisis-{fingerprint}.npz"


def embed(embedder: Embedder, encoder: SentenceEncoder, texts: Sequence[str]) -> list[np.ndarray]:
    """The two views of each line, in the order the model was fitted on."""
    return [embedder.query(texts), encoder.encode(texts)]


class SemanticCrisis:
    """The two embedding models and the fitted classifier, loaded once; `score()` is ~15–20 ms a line."""

    def __init__(self, embedder: Embedder, encoder: SentenceEncoder, model: CrisisModel) -> None:
        self.embedder = embedder
        self.encoder = encoder
        self.model = model

    @property
    def threshold(self) -> float:
        return self.model.threshold

    def scores(self, texts: Sequence[str]) -> list[float]:
        if not texts:
            return []
        views = embed(self.embedder, self.encoder, list(texts))
        return [float(s) for s in self.model.scores(np.hstack(views))]

    def score(self, text: str) -> float:
        return self.scores([text])[0]


def load_or_fit(
    embedder: Embedder | None = None, encoder: SentenceEncoder | None = None, train: Path = TRAIN
) -> SemanticCrisis:
    """The fitted model from the cache, fitted now (and cached) when missing or stale."""
    embedder = embedder or shared_embedder()
    encoder = encoder or shared_encoder()
    fingerprint = training_fingerprint(embedder, encoder, train)
    path = model_path(fingerprint)
    if path.exists():
        try:
            model = CrisisModel.load(path)
            if model.fingerprint == fingerprint:
                return SemanticCrisis(embedder, encoder, model)
        except (OSError, ValueError, KeyError):
            log.warning("crisis model cache %s is unreadable; fitting it again", path)
    lines = read_labelled(train)
    model = fit(lines, embed(embedder, encoder, [line.text for line in lines]), fingerprint)
    try:
        model.save(path)
        for stale in path.parent.glob("crisis-*.npz"):
            if stale != path:
                stale.unlink(missing_ok=True)
    except OSError as exc:  # a read-only or full cache costs a refit next time, not the check
        log.warning("could not cache the crisis model in %s: %s", path.parent, exc)
    return SemanticCrisis(embedder, encoder, model)


@load_once
def shared() -> SemanticCrisis:
    """The process-wide semantic layer (raises a typed error when its model cannot load)."""
    return load_or_fit()
