"""Keeping the model in character: a refusal or a confusion of roles is caught before it is shown.

Small instruct models answer ordinary chat lines ("this is true this is true") with their assistant
refusal, and slip out of their role ("you are amazing Alex", said by Alex; the user spoken of as
"he"; "the messages were fake"). The guard passes the reply on clause by clause once the role
check (`persona.roles`) clears it, and recognises a refusal at its first words. On either it asks
again, with a note that lets the person decline or change the subject in their own words (so it
never pushes the model to comply with anything), a little warmer each time. A clause that confuses
the roles is never passed on: after the first clause has been shown, the reply ends before it.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from dataclasses import replace

from voice_app.core.cancel import CancelToken
from voice_app.core.clauses import clause_cut
from voice_app.llm.base import ChatModel, GenerationOptions, Message
from voice_app.persona import roles
from voice_app.persona.lexicon import KEPT_OUT, is_kept_out

log = logging.getLogger(__name__)
# How assistant refusals and "as an AI" asides open, lowercased with straight apostrophes.
OPENINGS = (
    "i'm sorry, but i can",
    "i am sorry, but i can",
    "i'm sorry, but as an",
    "sorry, but i can",
    "sorry, but as an",
    "i can't assist",
    "i cannot assist",
    "i can't help with that",
    "i cannot help with that",
    "i'm unable to assist",
    "i am unable to assist",
    "as an ai",
    "as a language model",
    "i'm an ai",
    "i am an ai",
    "i'm just an ai",
    "sure, i'd be happy to help",
    "i'd be happy to help with that",
    "how can i assist",
    "how may i assist",
    # Openings that are an assistant's and would pass the first four words before the role check
    # sees the rest ("I'm sorry for the" + "inconvenience, but I can't assist with that").
    "i'm sorry for the inconvenience",
    "i am sorry for the inconvenience",
    "sorry for the inconvenience",
    "i apologize for the inconvenience",
    "i apologize, but i",
)


RETRIES = 2  # asked again at most this often, a little warmer each time


def refusal_state(text: str) -> bool | None:
    """True: the text opens like a refusal; False: it cannot; None: too early to say."""
    norm = " ".join(text.lower().replace("’", "'").split())
    if any(norm.startswith(opening) for opening in OPENINGS):
        return True
    if any(opening.startswith(norm) for opening in OPENINGS):
        return None
    return False


def keeps_words_out(model: ChatModel) -> bool:
    """Whether the model applies `GenerationOptions.word_bias` (the embedded one; servers ignore it)."""
    return model.info.backend == "embedded"


def retry_note(them: str) -> str:
    return (
        f"\n\n(Answer as {them} would in this chat, in their own words: {them} may answer, joke, disagree,"
        " decline or change the subject, but never as an assistant.)"
    )


def _normalised(text: str) -> str:
    return " ".join("".join(ch for ch in text.lower() if ch.isalnum() or ch.isspace()).split())


def repeated(reply: str, avoid: Sequence[str], *, final: bool) -> roles.RoleError | None:
    """The reply so far says again one the user marked as not them (the whole of it once `final`)."""
    said = _normalised(reply)
    if not said:
        return None
    for wrong in avoid:
        marked = _normalised(wrong)
        if not marked:
            continue
        if said == marked or (not final and len(said) >= min(len(marked), 12) and marked.startswith(said)):
            return roles.RoleError(roles.CORRECTED, wrong)
    return None


def in_character(
    model: ChatModel,
    messages: list[Message],
    options: GenerationOptions,
    cancel: CancelToken | None,
    them: str,
    on_retry: list[str] | None = None,
    retries: int = RETRIES,
    *,
    me: str = "",
    user_line: str | None = None,
    avoid: Sequence[str] = (),
) -> Iterator[str]:
    """`model.stream()` passed on clause by clause, in character and in role (`retries` retries at most).

    `me` names the user (the role check then also catches them spoken of by name); `user_line` is
    what the user said (default: the last message), which tells whom a "he" or "she" may mean.
    `avoid` holds replies the user marked "they wouldn't say that": saying one again is a slip too.
    `on_retry`, when given, collects the replies that were replaced (for the eval and the logs). On
    the last attempt a refusal streams as it comes, but a clause that confuses the roles still ends
    the reply.
    """
    if user_line is None:
        user_line = messages[-1]["content"].rsplit("\n\n", 1)[-1] if messages else ""
    note = ""
    kept_out: tuple[tuple[str, float], ...] = ()  # words the next attempt may not write
    name_kept_out = False
    # Their first name kept out from the first attempt (`lexicon.own_name_kept_out`): no word they
    # write, so the role check reads it in any case ("ALEX" is another token, not kept out by it).
    any_case = bool(them.split()) and is_kept_out(them.split()[0], options.word_bias)
    for attempt in range(retries + 1):
        if attempt:
            seed = None if options.seed is None else options.seed + attempt
            temperature = max(options.temperature, 0.5 + 0.2 * attempt)
            request_options = replace(options, temperature=temperature, seed=seed)
            if kept_out:  # the prompt stays as the model read it: one token read again, not a note's ~25
                request = messages
                request_options = replace(request_options, word_bias=(*options.word_bias, *kept_out))
            else:
                last = messages[-1]
                request = [*messages[:-1], {**last, "content": last["content"] + note}]
        else:
            request, request_options = messages, options
        stream = model.stream(request, request_options, cancel)
        last_attempt = attempt == retries
        held, passed, opening_clear = "", "", last_attempt
        slip: roles.RoleError | None = None
        refused = False
        try:
            for piece in stream:
                held += piece
                if not opening_clear:
                    state = refusal_state(held)
                    if state is None:
                        continue
                    if state is True:
                        refused = True
                        break
                    opening_clear = True
                while cut := clause_cut(held, first=not passed):
                    # A mark with nothing after it yet waits one token: the space or line break after it
                    # goes with the clause, so the style adapter releases its last word now, not a clause later.
                    if cut == len(held) and not held[-1].isspace():
                        break
                    clause, held = held[:cut], held[cut:]
                    slip = roles.role_error(
                        passed + clause, them=them, me=me, user_line=user_line, name_any_case=any_case
                    ) or repeated(passed + clause, avoid, final=False)
                    if slip is not None:
                        held = clause + held
                        break
                    passed += clause
                    yield clause
                if slip is not None:
                    break
            else:
                if held:
                    slip = roles.role_error(
                        passed + held, them=them, me=me, user_line=user_line, name_any_case=any_case
                    )
                if slip is None:
                    slip = repeated(passed + held, avoid, final=True)
                if slip is None and held:
                    yield held  # the end of the reply (or all of it: "I'm sorry")
        finally:
            if hasattr(stream, "close"):
                stream.close()
        if not refused and slip is None:
            return
        if passed.strip() or last_attempt:
            return  # what was shown stays true: the reply ends before the slip
        if on_retry is not None:
            on_retry.append(held)
        log.info("asked again after %s: %r", "a refusal" if refused else slip.kind if slip else "?", passed + held)
        note = retry_note(them) if refused else roles.retry_note(slip, them, me) if slip else ""
        kept_out = ()
        if slip is not None and slip.kind == roles.OWN_NAME and not name_kept_out and keeps_words_out(model):
            # Their own name said to the user ("i'm sorry Alex, but"): asked again with the name kept out
            # of the reply, no note. Once, and not when it already was (the persona's own word biases):
            # a name the model spells in pieces is not kept out by it.
            name_kept_out = True
            if not is_kept_out(slip.words, options.word_bias):
                kept_out = ((slip.words.lower(), KEPT_OUT),)  # "alex" and "Alex"
