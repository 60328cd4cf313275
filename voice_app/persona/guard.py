"""Keeping the model in character: an assistant's refusal is caught as it starts and the reply asked again.

Small instruct models answer ordinary chat lines ("this is true this is true") with their assistant
refusal. The guard holds back the first words only while they could still become one of those
openings, so a normal reply streams with no delay. On a refusal it asks again, with a note that
lets the person decline or change the subject in their own words (so it never pushes the model to
comply with anything), a little warmer each time.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

from voice_app.core.cancel import CancelToken
from voice_app.llm.base import ChatModel, GenerationOptions, Message

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


def retry_note(them: str) -> str:
    return (
        f"\n\n(Answer as {them} would in this chat, in their own words: {them} may answer, joke, disagree,"
        " decline or change the subject, but never as an assistant.)"
    )


def in_character(
    model: ChatModel,
    messages: list[Message],
    options: GenerationOptions,
    cancel: CancelToken | None,
    them: str,
    on_retry: list[str] | None = None,
    retries: int = RETRIES,
) -> Iterator[str]:
    """`model.stream()` with a refusal caught at its first words and asked again (`retries` times).

    `on_retry`, when given, collects the refusals that were replaced (for the eval and the logs).
    The last attempt streams as it comes.
    """
    for attempt in range(retries + 1):
        if attempt:
            last = messages[-1]
            request = [*messages[:-1], {**last, "content": last["content"] + retry_note(them)}]
            seed = None if options.seed is None else options.seed + attempt
            temperature = max(options.temperature, 0.5 + 0.2 * attempt)
            request_options = replace(options, temperature=temperature, seed=seed)
        else:
            request, request_options = messages, options
        stream = model.stream(request, request_options, cancel)
        if attempt == retries:
            yield from stream
            return
        held, passing, refused = "", False, False
        try:
            for piece in stream:
                if passing:
                    yield piece
                    continue
                held += piece
                state = refusal_state(held)
                if state is None:
                    continue
                if state is True:
                    refused = True
                    break
                passing = True
                yield held
            if not passing and not refused and held:
                yield held  # the whole reply was the start of an opening ("I'm sorry")
        finally:
            if hasattr(stream, "close"):
                stream.close()
        if not refused:
            return
        if on_retry is not None:
            on_retry.append(held)
