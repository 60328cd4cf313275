"""The consent gate: creating a persona needs the user's explicit, dated acknowledgement."""

from __future__ import annotations

import sys
from collections.abc import Callable

from voice_app.core.errors import ConsentRequiredError
from voice_app.core.records import now_iso


def consent_text(persona: str, them: str) -> str:
    return (
        f"You are about to create '{persona}', a simulation of {them}.\n"
        f"  - {them} is a real person who has not agreed to be simulated.\n"
        "  - It is for your own closure only: not to impersonate them, contact them, or share what it says.\n"
        "  - It is a language model imitating old messages, not them; it can be wrong.\n"
        f"  - Everything stays on this machine; `voice-app forget {persona}` deletes all of it.\n"
    )


def obtain_consent(
    persona: str,
    them: str,
    *,
    given: bool,
    ask: Callable[[str], str] | None = None,
    interactive: bool | None = None,
) -> str:
    """The consent timestamp: from --consent, or asked in a terminal; otherwise a clear error."""
    if given:
        return now_iso()
    interactive = sys.stdin.isatty() if interactive is None else interactive
    if not interactive:
        raise ConsentRequiredError(
            f"Creating the persona '{persona}' needs your acknowledgement, and there is no terminal to ask in.",
            fix="Read this, then re-run with --consent to agree:\n" + consent_text(persona, them),
        )
    prompt = consent_text(persona, them) + "Do you understand and agree? [y/N] "
    answer = (ask or input)(prompt).strip().lower()
    if answer not in ("y", "yes"):
        raise ConsentRequiredError("No persona was created: consent was not given.", fix="Nothing was stored.")
    return now_iso()
