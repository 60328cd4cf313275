"""Both embedding models remember the lines they embedded lately: the same rows, without computing them again."""

from __future__ import annotations

import numpy as np
import pytest

from voice_app.llm import embedding, use_embedding
from voice_app.llm.remembered import RememberedRows


def test_rows_are_computed_once_and_the_oldest_are_dropped() -> None:
    calls: list[list[str]] = []

    def compute(keys: list[str]) -> np.ndarray:
        calls.append(keys)
        return np.array([[float(len(k))] for k in keys], dtype=np.float32)

    memo: RememberedRows[str] = RememberedRows(size=2)
    first = memo.rows(["a", "bb", "a"], compute)
    assert calls == [["a", "bb"]] and first[:, 0].tolist() == [1.0, 2.0, 1.0]
    first[0, 0] = 99.0  # a copy: the caller changing it changes nothing remembered
    assert memo.rows(["a"], compute)[0, 0] == 1.0 and len(calls) == 1
    memo.rows(["ccc"], compute)  # "bb" was used least lately: it goes
    memo.rows(["bb"], compute)
    assert calls[-1] == ["bb"]


@pytest.mark.parametrize("embed", [lambda t: embedding.shared().query(t), lambda t: use_embedding.shared().encode(t)])
def test_a_remembered_line_embeds_as_it_did(embed) -> None:  # type: ignore[no-untyped-def]
    lines = ["do you remember the lake house?", "我不想活了", "ok then"]
    alone = np.stack([embed([line])[0] for line in lines])
    together = embed(lines)  # all remembered now: the same rows
    assert np.allclose(alone, together, atol=1e-6)
    mixed = embed(["a line never seen before", lines[1]])
    assert np.allclose(mixed[1], alone[1], atol=1e-6) and not np.allclose(mixed[0], alone[1], atol=1e-3)
