"""Their words: the words they use more than the user does, as a gentle nudge on the model's choices."""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable, Sequence

from voice_app.persona import text as tx

MIN_COUNT = 3  # a word they wrote fewer times is not a habit
MIN_Z = 2.0  # one-sided ~98%: clearly theirs rather than the user's
MAX_WORDS = 40
PRIOR = 500.0  # pseudo-counts of the shared distribution that shrink rare words' log-odds toward zero
BIAS_PER_Z = 0.25  # logits per standard error, chosen before measuring (a nudge, not a rewrite)
MAX_BIAS = 1.0  # at most e¹ ≈ 2.7× as likely
_LATIN = re.compile(r"[a-z]")
KEPT_OUT = -30.0  # a word's bias that keeps it out of a reply (whole-word tokens; the embedded model)


def distinctive_words(theirs: Iterable[str], mine: Iterable[str]) -> list[tuple[str, float]]:
    """Words of their messages against the user's, by z-scored log-odds with an informative
    Dirichlet prior (Monroe, Colaresi & Quinn 2008, "Fightin' Words"), best first.

    Contrasting the two sides of the same conversations leaves out what both talked about (the topics)
    and keeps how they say things: "lol" beside "haha", "u" beside "you", "ya", "哈哈" beside "嗯".
    """
    a = Counter(w for t in theirs for w in tx.tokens(t) if _is_word(w))
    b = Counter(w for t in mine for w in tx.tokens(t) if _is_word(w))
    n_a, n_b = sum(a.values()), sum(b.values())
    if not n_a or not n_b:
        return []
    total = n_a + n_b
    scored = []
    for word, count in a.items():
        if count < MIN_COUNT:
            continue
        prior = PRIOR * (count + b[word]) / total
        log_odds_a = math.log((count + prior) / (n_a + PRIOR - count - prior))
        log_odds_b = math.log((b[word] + prior) / (n_b + PRIOR - b[word] - prior))
        z = (log_odds_a - log_odds_b) / math.sqrt(1 / (count + prior) + 1 / (b[word] + prior))
        if z >= MIN_Z:
            scored.append((word, round(z, 2)))
    scored.sort(key=lambda item: (-item[1], item[0]))
    return scored[:MAX_WORDS]


def word_bias(lexicon: Sequence[tuple[str, float]], exclude: Iterable[str] = ()) -> tuple[tuple[str, float], ...]:
    """Logit nudges for their distinctive words; names are left out (a nudge toward a name invites the
    model to address itself or talk about the user)."""
    names = {w for name in exclude for w in tx.tokens(name)}
    return tuple(
        (word, round(min(MAX_BIAS, BIAS_PER_Z * z), 3)) for word, z in lexicon if word not in names and z >= MIN_Z
    )


def is_kept_out(word: str, word_bias: Iterable[tuple[str, float]]) -> bool:
    """Whether `word_bias` keeps `word` out of a reply (in any case: the biases are lower case)."""
    return any(biased.lower() == word.lower() and bias <= KEPT_OUT for biased, bias in word_bias)


def own_name_kept_out(them: str, me: str, their_messages: Iterable[str]) -> tuple[tuple[str, float], ...]:
    """Their own first name, kept out of a reply: an ex hardly ever writes their own name to you, and a
    model that does has mostly called the user by it ("i'm sorry Alex, but") or spoken of itself
    ("alex knows"), slips the role check then asks again, ~0.4 s later. Not a name they wrote in their
    own messages (a name that is also a word they use, "will", or how they sign), nor one the user
    shares. Latin names only: a CJK name is several tokens, which a bias would not keep out whole."""
    names = them.split()
    first = names[0] if names else ""
    if len(first) < 2 or not _LATIN.match(first.lower()) or not first.isalpha():
        return ()
    name = first.lower()
    if name in {w.lower() for w in me.split()}:
        return ()
    # Read on a reply's first turn: a substring test first, so a long history is not tokenized whole.
    if any(name in message.lower() and name in tx.tokens(message, bigrams=False) for message in their_messages):
        return ()
    return ((name, KEPT_OUT),)  # lower case: "alex" and "Alex", each with and without a space before it


def _is_word(token: str) -> bool:
    """Latin words of two letters or more, and CJK characters and pairs; digits are left out."""
    if token.isdigit():
        return False
    if _LATIN.match(token):
        return len(token) >= 2
    return True
