"""Memory: a BM25 index (bm25s) over the real past exchanges, the user's burst and the ex's reply."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from voice_app.core.types import Memory
from voice_app.persona import text as tx

# Per-turn budget for retrieved examples (tokens, approximate) and per-side clipping (characters).
MEMORY_TOKENS = 200
SIDE_CHARS = 160


def exchange_tokens(ex: tx.Exchange) -> list[str]:
    """What an exchange is indexed by: the user's words count twice (the query is the user's line)."""
    you = tx.content_tokens(" ".join(ex.you))
    return you + you + tx.content_tokens(" ".join(ex.them))


class MemoryIndex:
    """Retrieves the real exchanges closest to what the user just said."""

    def __init__(self, exchanges: Sequence[tx.Exchange]) -> None:
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

    def __len__(self) -> int:
        return len(self.exchanges)

    def search(self, query: str, k: int = 3) -> list[tuple[tx.Exchange, float]]:
        """Up to `k` exchanges with a positive BM25 score, best first (ties: older first)."""
        if self._retriever is None:
            return []
        terms = [t for t in tx.content_tokens(query) if t in self._vocab]
        if not terms:
            return []
        k = min(k, len(self._keep))
        docs, scores = self._retriever.retrieve([terms], k=k, show_progress=False, n_threads=1)
        hits = [(int(d), float(s)) for d, s in zip(np.asarray(docs)[0], np.asarray(scores)[0], strict=True)]
        hits = [(d, s) for d, s in hits if s > 0]
        hits.sort(key=lambda h: (-round(h[1], 5), h[0]))
        return [(self.exchanges[self._keep[d]], s) for d, s in hits]

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
