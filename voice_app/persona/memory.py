"""Memory: the real past exchanges found by words (BM25) and by meaning (sentence embeddings), fused.

BM25 (bm25s) finds an exchange that shares words with what the user just said; a multilingual
sentence embedding finds one that means the same in other words or another language ("你还记得那个
湖吗" → a message about the lake). The two rankings are fused by reciprocal rank. The embeddings
are computed by the caller (at import, stored with the persona) and passed in, with the function
that embeds the user's line: this module stays pure.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from voice_app.core.types import Memory
from voice_app.persona import text as tx

# Per-turn budget for retrieved examples (tokens, approximate) and per-side clipping (characters).
MEMORY_TOKENS = 200
SIDE_CHARS = 160


PASSAGE_CHARS = 240  # what of an exchange is embedded
SEMANTIC_MARGIN = 0.05  # an embedding hit must be this far above the median similarity (e5's are compressed)
CANDIDATES = 20  # from each ranking, before fusion
RRF_K = 60

EmbedQuery = Callable[[str], np.ndarray]  # a line -> its L2-normalised embedding


def exchange_passage(ex: tx.Exchange) -> str:
    """The text of an exchange that is embedded: the user's burst, then the reply."""
    return tx.clip(" ".join(ex.you) + " / " + " ".join(ex.them), PASSAGE_CHARS)


def passage_key(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8")).hexdigest()[:16]


@dataclass(frozen=True)
class MemoryVectors:
    """Embeddings of exchange passages, keyed by the passage's hash (stored with the persona)."""

    model: str
    keys: tuple[str, ...]
    matrix: np.ndarray  # (n, dim) float32, rows L2-normalised

    def to_json(self) -> str:
        data = self.matrix.astype(np.float16).tobytes()
        return json.dumps(
            {
                "model": self.model,
                "dim": int(self.matrix.shape[1]),
                "keys": list(self.keys),
                "f16": base64.b64encode(data).decode(),
            }
        )

    @classmethod
    def from_json(cls, text: str) -> MemoryVectors:
        data = json.loads(text)
        raw = np.frombuffer(base64.b64decode(data["f16"]), dtype=np.float16).astype(np.float32)
        matrix = (
            raw.reshape(len(data["keys"]), int(data["dim"]))
            if data["keys"]
            else np.zeros((0, int(data["dim"])), np.float32)
        )
        return cls(str(data["model"]), tuple(data["keys"]), matrix)

    def rows(self) -> dict[str, np.ndarray]:
        return dict(zip(self.keys, self.matrix, strict=True))


def exchange_tokens(ex: tx.Exchange) -> list[str]:
    """What an exchange is indexed by: the user's words count twice (the query is the user's line)."""
    you = tx.content_tokens(" ".join(ex.you))
    return you + you + tx.content_tokens(" ".join(ex.them))


class MemoryIndex:
    """Retrieves the real exchanges closest to what the user just said."""

    def __init__(
        self,
        exchanges: Sequence[tx.Exchange],
        vectors: MemoryVectors | None = None,
        embed_query: EmbedQuery | None = None,
    ) -> None:
        self.exchanges = list(exchanges)
        self._retriever: Any = None
        self._vocab: dict[str, int] = {}
        docs = [exchange_tokens(ex) for ex in self.exchanges]
        self._keep = [i for i, d in enumerate(docs) if d]
        if self._keep:
            import bm25s

            self._retriever = bm25s.BM25()
            self._retriever.index([docs[i] for i in self._keep], show_progress=False)
            self._vocab = self._retriever.vocab_dict
        # Exchanges with an embedding (a large history may embed only its latest part).
        self._embed_query = embed_query
        self._embedded: list[int] = []
        self._matrix: np.ndarray | None = None
        if vectors is not None and embed_query is not None:
            rows = vectors.rows()
            found = [(i, rows.get(passage_key(exchange_passage(ex)))) for i, ex in enumerate(self.exchanges)]
            kept = [(i, row) for i, row in found if row is not None]
            if kept:
                self._embedded = [i for i, _ in kept]
                self._matrix = np.stack([row for _, row in kept]).astype(np.float32)

    @property
    def semantic(self) -> bool:
        """Whether exchanges are also found by meaning."""
        return self._matrix is not None

    def __len__(self) -> int:
        return len(self.exchanges)

    def search(self, query: str, k: int = 3) -> list[tuple[tx.Exchange, float]]:
        """Up to `k` exchanges found by words or by meaning, best first (fused by reciprocal rank)."""
        lexical = self._lexical(query, CANDIDATES)
        semantic = self._semantic(query, CANDIDATES)
        if not semantic:
            return [(self.exchanges[i], s) for i, s in lexical[:k]]
        fused: dict[int, float] = {}
        for ranking in (lexical, semantic):
            for rank, (i, _) in enumerate(ranking):
                fused[i] = fused.get(i, 0.0) + 1.0 / (RRF_K + rank + 1)
        best = sorted(fused.items(), key=lambda h: (-round(h[1], 9), h[0]))[:k]
        return [(self.exchanges[i], score * RRF_K) for i, score in best]  # ~1 for a top hit of one ranking

    def _lexical(self, query: str, k: int) -> list[tuple[int, float]]:
        """(exchange index, BM25 score) with a positive score, best first (ties: older first)."""
        if self._retriever is None:
            return []
        terms = [t for t in tx.content_tokens(query) if t in self._vocab]
        if not terms:
            return []
        k = min(k, len(self._keep))
        docs, scores = self._retriever.retrieve([terms], k=k, show_progress=False, n_threads=1)
        hits = [(int(d), float(s)) for d, s in zip(np.asarray(docs)[0], np.asarray(scores)[0], strict=True)]
        hits = [(self._keep[d], s) for d, s in hits if s > 0]
        hits.sort(key=lambda h: (-round(h[1], 5), h[0]))
        return hits

    def _semantic(self, query: str, k: int) -> list[tuple[int, float]]:
        """(exchange index, cosine) clearly above the typical similarity, best first."""
        if self._matrix is None or self._embed_query is None or not query.strip():
            return []
        sims = self._matrix @ self._embed_query(query)
        floor = float(np.median(sims)) + SEMANTIC_MARGIN
        order = np.argsort(-sims, kind="stable")[:k]
        return [(self._embedded[int(j)], float(sims[j])) for j in order if sims[j] >= floor]

    def recall(self, query: str, *, k: int = 3, max_tokens: int = MEMORY_TOKENS) -> list[Memory]:
        """The best exchanges, each side clipped, to fit `max_tokens` in all."""
        out: list[Memory] = []
        used = 0
        for ex, score in self.search(query, k=k):
            you = tx.clip("\n".join(ex.you), SIDE_CHARS)
            them = tx.clip("\n".join(ex.them), SIDE_CHARS)
            cost = tx.approx_tokens(you) + tx.approx_tokens(them) + 8
            if out and used + cost > max_tokens:
                break
            used += cost
            out.append(Memory(ex.id, ex.ts, you, them, round(score, 3)))
        return out
