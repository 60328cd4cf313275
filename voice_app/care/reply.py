"""The reply side of the crisis check: what the model writes is checked before it is shown or spoken.

`ReplyScreen.screen()` wraps a reply's stream. It holds the text back until a clause ends (a mark,
a line break, or enough words), checks that clause with the one before it (patterns and the
semantic layer, ~10 ms), and only then passes it on. The reply's first words, cut at four so the
voice can start (`core.clauses`), are checked by the patterns alone when no mark ended them: the
semantic layer, fit on whole lines, reads a fragment such as "the last night I" as a farewell
(0.65). It reads them joined with the clause that follows, in that clause's check, or alone as the
whole reply when nothing follows. With a voice, clauses after the first are checked when the voice
is about to need them (`due`), not beside the model writing. At the first clause that encourages or
describes self-harm it stops the model and records why; the turn then answers with the care text
instead. A clause that passed is never taken back, so what was shown or spoken stays true."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator, Sequence

from voice_app.care.crisis import CrisisVerdict, assess, resources
from voice_app.core.clauses import clause_cut, ends_at_mark

log = logging.getLogger(__name__)

# A reply is stopped by the semantic layer only at even odds or more: the persona talking about
# leaving, tiredness or the end of the relationship must not break the conversation, and replies
# that truly encourage self-harm score far above this (0.9+ on the training data).
REPLY_MIN_SCORE = 0.5

Check = Callable[[str, Sequence[str]], CrisisVerdict]


def check_reply(text: str, context: Sequence[str]) -> CrisisVerdict:
    """The crisis check for what the model wrote: patterns as for the user, the semantic layer stricter."""
    verdict = assess(text, context)
    if verdict.by == "model" and (verdict.score or 0.0) < REPLY_MIN_SCORE:
        return CrisisVerdict(False, None, verdict.score)
    return verdict


def check_patterns(text: str, context: Sequence[str]) -> CrisisVerdict:
    """The crisis check's patterns alone, for a reply's first words cut before their clause ended."""
    return assess(text, context, use_model=False)


class ReplyScreen:
    """Passes a streamed reply on clause by clause once the crisis check clears it."""

    def __init__(self, check: Check | None = None) -> None:
        self.check: Check = check or check_reply
        self.fragment_check: Check = check or check_patterns  # a given check is used for fragments too
        self.harmful: CrisisVerdict | None = None
        self.passed: list[str] = []
        self._unread = ""  # a fragment the semantic layer has not read yet

    def screen(
        self,
        pieces: Iterable[str],
        stopped: Callable[[], bool] | None = None,
        due: Callable[[], bool] | None = None,
    ) -> Iterator[str]:
        """The clauses that passed; ends early once `stopped()` (a barge-in: nothing more is said,
        so nothing more is checked, and the semantic check's ~10–50 ms is not spent).

        `due()`, when given, says whether the next clause is wanted now (the voice is running short of
        words). Until it is, later clauses are cut and kept unchecked while the stream goes on, so the
        semantic check does not compute beside the model (on two cores a token written beside it took
        ~3× as long); they are checked as they fall due, or all once the stream ends. The first
        clause is always checked at once: the reply's first sound waits for it.
        """
        held = ""
        waiting: list[tuple[str, bool]] = []  # cut, not checked yet: (clause, a first-words fragment)
        cut_any = False
        stream = iter(pieces)

        def halted() -> bool:
            return stopped is not None and stopped()

        def cleared(clause: str, fragment: bool) -> bool:
            return not halted() and self._clear(clause, fragment=fragment)

        try:
            for piece in stream:
                held += piece
                while cut := clause_cut(held, first=not cut_any):
                    clause, held = held[:cut], held[cut:]
                    # The first words cut at the word limit: the reply goes on after them (the
                    # stages before may pass them on alone, so what follows is not here yet).
                    fragment = not cut_any and not ends_at_mark(clause)
                    cut_any = cut_any or bool(clause.strip())
                    waiting.append((clause, fragment))
                while waiting and (due is None or not self.passed or due()):
                    clause, fragment = waiting.pop(0)
                    if not cleared(clause, fragment):
                        return
                    yield clause
            for clause, fragment in waiting:
                if not cleared(clause, fragment):
                    return
                yield clause
            if held and cleared(held, False):
                yield held
            if self._unread and not halted():
                self._read_alone()  # the reply was only its first words: read them whole now
        finally:
            close = getattr(stream, "close", None)
            if close is not None:
                close()  # a reply stopped here releases the model now

    def _clear(self, clause: str, *, fragment: bool = False) -> bool:
        if not clause.strip():
            return True
        if fragment:
            text, context = clause, self.passed[-1:]
            verdict = self.fragment_check(text, context)
        elif self._unread:  # first words passed on the patterns alone: read whole with what follows them
            text, context = self._unread + clause, self.passed[:-1][-1:]
            verdict = self.check(text, context)
        else:
            text, context = clause, self.passed[-1:]
            verdict = self.check(text, context)
        if verdict.flagged:
            self.harmful = verdict
            log.info("reply stopped by the %s (score %s): %r after %r", verdict.by, verdict.score, text, context)
            return False
        self._unread = clause if fragment else ""
        self.passed.append(clause)
        return True

    def _read_alone(self) -> None:
        """First words passed on the patterns with nothing after them: the semantic layer reads them as
        the whole reply. They were passed on already, so a harm found here ends the reply with the care
        text after them."""
        text, self._unread = self._unread, ""
        verdict = self.check(text, self.passed[:-1][-1:])
        if verdict.flagged:
            self.harmful = verdict
            log.info("reply stopped by the %s (score %s): %r, the whole reply", verdict.by, verdict.score, text)


def _is_cjk(text: str) -> bool:
    return any("\u4e00" <= ch <= "\u9fff" for ch in text)


def replaced_reply_text(user_line: str, country: str, them: str) -> str:
    """Said instead of a reply that began to encourage or describe self-harm, out of character."""
    _, lines = resources(country)
    body = " ".join(lines)
    if _is_cjk(user_line):
        return (
            f"（暂停模拟：这不是{them}在说话。）模拟刚才开始说一些可能伤害你的话，所以我把它停下了。"
            f"如果你有伤害自己的念头，现在就可以联系能帮助你的人：{body} 你想现在结束这次对话吗？"
        )
    return (
        f"(Stepping out of the simulation: this is not {them} talking.) The simulation started to say something"
        " that could hurt you, so I stopped it. If you are having thoughts of hurting yourself, you can reach"
        f" someone right now: {body} Would you like to end this session here?"
    )
