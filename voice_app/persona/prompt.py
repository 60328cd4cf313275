"""Prompt assembly: a fixed persona prefix (byte-identical every turn), then history and the new line.

The prefix is one system message: the card, the style summary and a stable sample of real exchanges.
Everything that changes per turn (retrieved real exchanges, the user's line) goes in the last user
message, after the session's history, so llama.cpp reuses the prefix's KV cache on every turn.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import cached_property

from voice_app.core.records import Correction
from voice_app.core.types import Memory
from voice_app.llm.base import Message
from voice_app.persona import text as tx
from voice_app.persona.adapt import StyleAdapter
from voice_app.persona.card import PersonaCard
from voice_app.persona.lexicon import own_name_kept_out, word_bias
from voice_app.persona.memory import MEMORY_TOKENS, EmbedQuery, MemoryIndex, MemoryVectors
from voice_app.persona.style import StyleProfile, compute_style, recent_part

MAX_CORRECTIONS = 8  # the latest corrections shown in the prefix (as counter-examples)
MAX_CORRECTED_EXAMPLES = 4  # …and those with what they would have said, replayed as real turns
SAMPLE_SIZE = 10  # typical real exchanges in the prefix (replayed as earlier turns: the strongest style signal)
SAMPLE_SIDE_CHARS = 120
MEMORY_K = 3


@dataclass(frozen=True)
class TurnPrompt:
    """What one turn sends to the model, and which real past exchanges it drew on (shown in the UI)."""

    messages: list[Message]
    memories: list[Memory] = field(default_factory=list)


@dataclass(frozen=True)
class PersonaPrompt:
    """The fixed part of a persona's prompt; `prefix` must not change during a session."""

    persona: str
    them: str
    me: str
    system: str
    examples: tuple[tuple[str, str], ...] = ()  # real (you, them) exchanges replayed as the first turns
    memory: MemoryIndex | None = field(default=None, compare=False, repr=False)
    style: StyleProfile | None = field(default=None, compare=False, repr=False)  # for adapt_reply
    memory_k: int = MEMORY_K
    memory_tokens: int = MEMORY_TOKENS
    corrections: tuple[Correction, ...] = field(default=(), compare=False, repr=False)  # read into the prefix

    @property
    def prefix(self) -> list[Message]:
        """The system message, then the stable sample of real exchanges as earlier chat turns."""
        out: list[Message] = [{"role": "system", "content": self.system}]
        for you, them in self.examples:
            out.append({"role": "user", "content": you})
            out.append({"role": "assistant", "content": them})
        return out

    @property
    def word_bias(self) -> tuple[tuple[str, float], ...]:
        """Nudges toward the words they use more than the user does, and their own name kept out
        (`persona.lexicon`)."""
        nudges = word_bias(self.style.lexicon, exclude=(self.them, self.me)) if self.style is not None else ()
        return (*nudges, *self.own_name_kept_out)

    @cached_property
    def own_name_kept_out(self) -> tuple[tuple[str, float], ...]:
        """Their first name with the bias that keeps it out of a reply, unless they write it themselves."""
        exchanges = self.memory.exchanges if self.memory is not None else []
        theirs = [them for _, them in self.examples] + [m for ex in exchanges for m in ex.them]
        return own_name_kept_out(self.them, self.me, theirs)

    def recall(self, user_line: str) -> list[Memory]:
        if self.memory is None:
            return []
        return self.memory.recall(user_line, k=self.memory_k, max_tokens=self.memory_tokens)

    def turn(
        self,
        history: Sequence[tuple[str, str]],
        user_line: str,
        memories: list[Memory] | None = None,
    ) -> TurnPrompt:
        """prefix + this session's earlier turns + (retrieved real exchanges and the user's new line).

        `memories` overrides retrieval (a voice turn passes the ones recalled while the user spoke).
        """
        if memories is None:
            memories = self.recall(user_line)
        out = self.with_history(history)
        out.append({"role": "user", "content": self.final_user_message(user_line, memories)})
        return TurnPrompt(out, memories)

    def with_history(self, history: Sequence[tuple[str, str]]) -> list[Message]:
        out = list(self.prefix)
        for said, heard in history:
            out.append({"role": "user", "content": said})
            out.append({"role": "assistant", "content": heard})
        return out

    def memory_text(self, memories: list[Memory]) -> str:
        """The retrieved exchanges as they open the new user message; with fewer items, a text prefix of it."""
        if not memories:
            return ""
        lines = ["(Real past exchanges that may be relevant; answer in this voice, do not copy them:"]
        for item in memories:
            lines.append(f"{self.me}: {_one_line(item.you)}")
            lines.append(f"{self.them}: {_one_line(item.them, keep_lines=True)}")
        return "\n".join(lines) + "\n"

    def final_user_message(self, user_line: str, memories: list[Memory]) -> str:
        if not memories:
            return user_line
        return f"{self.memory_text(memories)}{self.me}'s new message follows.)\n\n{user_line}"


def correction_line(correction: Correction, them: str) -> str:
    """One counter-example: the line, the reply that was not them, and what they would have said."""
    line = f'- to "{tx.clip(_one_line(correction.user_line), 100)}": not "{tx.clip(_one_line(correction.reply), 140)}"'
    if correction.better.strip():
        line += f'; {them} would say: "{tx.clip(_one_line(correction.better), 140)}"'
    return line


def correction_note(corrections: Sequence[Correction], them: str) -> str:
    """Corrections made during this session, said after the next line (the prefix stays as it was)."""
    if not corrections:
        return ""
    lines = [correction_line(c, them) for c in corrections[-MAX_CORRECTIONS:]]
    return f"\n\n(Replies marked as not {them}, never answer like these:\n" + "\n".join(lines) + ")"


def _one_line(text: str, *, keep_lines: bool = False) -> str:
    parts = [p.strip() for p in text.splitlines() if p.strip()]
    return " / ".join(parts) if keep_lines else " ".join(parts)


# --- the fixed prefix --------------------------------------------------------------------------------


def stable_sample(exchanges: Sequence[tx.Exchange], size: int = SAMPLE_SIZE) -> list[tx.Exchange]:
    """Evenly spaced short exchanges, the same every time for the same history (keeps the prefix identical)."""
    short = [ex for ex in exchanges if sum(map(len, ex.you)) <= 160 and sum(map(len, ex.them)) <= 200]
    pool = short if len(short) >= size else list(exchanges)
    if len(pool) <= size:
        return list(pool)
    step = len(pool) / size
    return [pool[int(i * step + step / 2)] for i in range(size)]


def card_lines(card: PersonaCard, them: str, me: str) -> list[str]:
    lines: list[str] = []

    def add(label: str, values: Sequence[str] | str) -> None:
        if isinstance(values, str):
            values = [values] if values else []
        if values:
            lines.append(f"- {label}: " + "; ".join(tx.clip(v, 200) for v in values[:6]))

    add(f"{them} called {me}", card.they_called_me)
    add(f"{me} called {them}", card.i_called_them)
    if card.together_from or card.together_until:
        add("Together", f"{card.together_from or '?'} to {card.together_until or '?'}")
    add("How it ended", card.how_it_ended)
    add("Shared memories", card.shared_memories)
    add("What you argued about", card.recurring_arguments)
    add("Stay away from", card.triggers_avoid)
    add(f"{me} wants to talk about", card.triggers_face)
    add(f"Questions {me} never got answered", card.unresolved_questions)
    add("Never", card.boundaries)
    add("Languages", card.languages)
    add("Also", card.notes)
    return lines


def compose_system(
    card: PersonaCard,
    style: StyleProfile,
    sample: Sequence[tx.Exchange],
    *,
    them: str,
    me: str,
    relationship: str = "your ex",
    corrections: Sequence[Correction] = (),
) -> str:
    purpose = f" so {me} can find closure" if relationship == "your ex" else f" to talk with {me}"
    parts = [
        f"You are {them}, texting with {me}, {relationship}. This is a simulation built from {them}'s real"
        f" messages,{purpose}. Be {them} as they really were, not an idealised version: their opinions,"
        f" moods, humour, bluntness and flaws; not a therapist, not automatically agreeable or apologetic."
        f" If {me} asks whether you are real, say honestly that you are a simulation made from old messages.",
    ]
    if relationship == "your ex":
        parts[0] += (
            f" The relationship is over. Asked about your feelings or getting back together, answer as {them}"
            f" would now, honestly, not with what {me} hopes to hear."
        )
    facts = card_lines(card, them, me)
    if facts:
        parts += ["", f"What {me} remembers:", *facts]
    parts += ["", f"How {them} writes (measured from their real messages):", style.summary(them)]
    if corrections:
        parts += ["", f"Replies {me} marked as not {them} (never answer like these):"]
        parts += [correction_line(c, them) for c in corrections[-MAX_CORRECTIONS:]]
    if sample:
        parts += ["", f"The first messages of this chat are real past exchanges between {me} and {them}."]
        if any(c.better.strip() for c in corrections):
            parts[-1] += f" The last of them are answers {me} remembers {them} would give."
    burst = " one message per line," if style.burst_multi_share >= 0.2 else ""
    parts += [
        "",
        f"Reply only as {them}, in plain text the way {them} types:{burst} same length, spelling and"
        f" punctuation habits. No markdown, no name labels, no quotes, no actions in asterisks.",
    ]
    return "\n".join(parts)


def compose_prompt(
    persona_name: str,
    card: PersonaCard,
    messages: Sequence[tx.MessageLike],
    *,
    them: str,
    me: str,
    style: StyleProfile | None = None,
    sample_size: int = SAMPLE_SIZE,
    relationship: str = "your ex",
    memory_vectors: MemoryVectors | None = None,
    embed_query: EmbedQuery | None = None,
    corrections: Sequence[Correction] = (),
) -> PersonaPrompt:
    """A persona prompt from a card and time-ordered messages (the store and the evaluation both use it)."""
    burst_list = tx.bursts(messages)
    exchanges = tx.exchanges(burst_list)
    if style is None:
        style = compute_style(burst_list, pet_names=card.they_called_me, era=card.as_they_were)
    # The replayed sample, like the style, is how they wrote at the end (unless the card says otherwise).
    recent = tx.exchanges(recent_part(burst_list)) if card.as_they_were == "end" else exchanges
    sample = stable_sample(recent or exchanges, sample_size)
    system = compose_system(card, style, sample, them=them, me=me, relationship=relationship, corrections=corrections)
    examples = tuple(
        (tx.clip(_one_line("\n".join(ex.you)), SAMPLE_SIDE_CHARS), tx.clip("\n".join(ex.them), SAMPLE_SIDE_CHARS))
        for ex in sample
    ) + tuple(
        (tx.clip(_one_line(c.user_line), SAMPLE_SIDE_CHARS), tx.clip(c.better, SAMPLE_SIDE_CHARS))
        for c in [c for c in corrections if c.better.strip()][-MAX_CORRECTED_EXAMPLES:]
    )
    return PersonaPrompt(
        persona=persona_name,
        them=them,
        me=me,
        system=system,
        examples=examples,
        memory=MemoryIndex(exchanges, memory_vectors, embed_query),
        style=style,
        corrections=tuple(corrections),
    )


def neutral_prompt(them: str = "them", me: str = "me") -> PersonaPrompt:
    """A prompt with no persona at all: the baseline of the fidelity evaluation."""
    system = f"You are chatting by text with {me}. Reply with a plain text message, no markdown."
    return PersonaPrompt(persona="", them=them, me=me, system=system, memory=None)


_LABEL = re.compile(r"^\s*[\"'“]?([\w .-]{1,30}):\s+")
_MARKDOWN = re.compile(r"(\*\*|__|^#+\s+|^\s*[-*•]\s+)", re.MULTILINE)


def clean_reply(text: str, them: str, me: str = "") -> str:
    """A generated reply as plain text: drops 'Name:' labels, markdown marks, wrapping quotes, empty lines.

    Stops at a line the model wrote for the user (a `me:` label), which would be a hallucinated turn.
    """
    out: list[str] = []
    for raw in text.splitlines():
        line = raw.strip()
        label = _LABEL.match(line)
        if label:
            who = label.group(1).strip().lower()
            if me and who == me.lower():
                break
            if who == them.lower():
                line = line[label.end() :]
        line = _MARKDOWN.sub("", line).strip()
        if len(line) >= 2 and line[0] == line[-1] and line[0] in "\"'":
            line = line[1:-1].strip()
        if line:
            out.append(line)
    return "\n".join(out)


class StreamCleaner:
    """`clean_reply` for a token stream: holds back the start of each line until it cannot be a name label.

    "Alex: hey" loses its label as it streams, so the label is neither shown nor spoken; a line that
    opens with the user's name (the model writing the user's next turn) sets `stopped`, and the
    caller ends the reply there. Markdown emphasis marks are dropped.
    """

    def __init__(self, them: str, me: str = "") -> None:
        self.them = them.strip().lower()
        self.me = me.strip().lower()
        self.stopped = False
        self._head = ""  # undecided text at the start of the current line
        self._line_start = True

    def feed(self, piece: str) -> str:
        out: list[str] = []
        for ch in piece.replace("*", ""):
            if self.stopped:
                break
            if not self._line_start:
                out.append(ch)
                self._line_start = ch == "\n"
                continue
            self._head += ch
            out.append(self._decide(final=False))
        return "".join(out)

    def flush(self) -> str:
        if self.stopped or not self._line_start:
            return ""
        return self._decide(final=True)

    def _decide(self, *, final: bool) -> str:
        head = self._head
        body = head.lstrip(" \t\"'“")
        if "\n" in head and not body.strip():  # an empty line
            return self._release(head)
        low = body.lower()
        for name, is_me in ((self.them, False), (self.me, True)):
            if not name:
                continue
            label = name + ":"
            if low.startswith(label):
                if len(low) == len(label) and not final:
                    return ""  # the next character says whether it is a label
                if len(low) > len(label) and not low[len(label)].isspace():
                    continue
                if is_me:  # the model started writing the user's turn
                    self.stopped = True
                    self._head = ""
                    return ""
                return self._release(body[len(label) :].lstrip(" \t"))
            if label.startswith(low) and not final:
                return ""  # may still become the label
        return self._release(head)

    def _release(self, text: str) -> str:
        self._head = ""
        self._line_start = text.endswith("\n")
        return text


def in_their_words(pieces: Iterable[str], prompt: PersonaPrompt) -> Iterator[str]:
    """A model's streamed reply as it is shown and spoken: no name labels, in their typing habits.

    One item for each model piece (possibly empty, so callers can time the model), then the tail the
    cleaner and the style adapter held back. It ends where the model began the user's next line or
    where they would have stopped typing, and closes `pieces` when it ends or is left early.
    """
    cleaner = StreamCleaner(prompt.them, prompt.me)
    adapter = StyleAdapter(prompt.style)
    try:
        for piece in pieces:
            yield adapter.feed(cleaner.feed(piece))
            if cleaner.stopped or adapter.done:
                break
        if not adapter.done:
            yield adapter.feed(cleaner.flush()) + adapter.flush()
    finally:
        if hasattr(pieces, "close"):
            pieces.close()  # a stream left early releases the model now
