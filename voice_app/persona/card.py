"""PersonaCard: what the user remembers about the ex, edited as TOML (stored as JSON by the conversation layer)."""

from __future__ import annotations

import json
import tomllib
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from voice_app.core.errors import VoiceAppError


class CardError(VoiceAppError):
    """A persona card could not be read (invalid TOML or a field of the wrong type)."""

    default_fix = "Fix the line shown and save again; `voice-app persona edit NAME` reopens the card."


# (field, TOML comment / guided question, is a list)
FIELD_HELP: dict[str, str] = {
    "them_name": "Their name, as you want it used in the conversation.",
    "me_name": "Your name, as they used it.",
    "they_called_me": "What they called you (pet names, nicknames).",
    "i_called_them": "What you called them.",
    "together_from": "When the relationship started (free text, e.g. 2019-03 or 'spring 2019').",
    "together_until": "When it ended.",
    "how_it_ended": "How it ended, in your words.",
    "shared_memories": "Shared memories: places, trips, jokes, songs, one per entry.",
    "recurring_arguments": "What you argued about, again and again, and how they argued.",
    "triggers_avoid": "Topics to stay away from.",
    "triggers_face": "Topics you want to face in these conversations.",
    "unresolved_questions": "Questions you never got answered.",
    "boundaries": "Things the simulation must never say or do (e.g. 'never say we will get back together').",
    "languages": "Languages you wrote in (e.g. English, 中文).",
    "notes": "Anything else about how they were.",
    "as_they_were": 'How they write here: "end" (as in the last months of the relationship, the default) or "whole".',
}
ERAS = ("end", "whole")
LIST_FIELDS = {
    "they_called_me",
    "i_called_them",
    "shared_memories",
    "recurring_arguments",
    "triggers_avoid",
    "triggers_face",
    "unresolved_questions",
    "boundaries",
    "languages",
}


@dataclass
class PersonaCard:
    """Everything the user adds by hand; every field is optional."""

    them_name: str = ""
    me_name: str = ""
    they_called_me: list[str] = field(default_factory=list)
    i_called_them: list[str] = field(default_factory=list)
    together_from: str = ""
    together_until: str = ""
    how_it_ended: str = ""
    shared_memories: list[str] = field(default_factory=list)
    recurring_arguments: list[str] = field(default_factory=list)
    triggers_avoid: list[str] = field(default_factory=list)
    triggers_face: list[str] = field(default_factory=list)
    unresolved_questions: list[str] = field(default_factory=list)
    boundaries: list[str] = field(default_factory=list)
    languages: list[str] = field(default_factory=list)
    notes: str = ""
    as_they_were: str = "end"  # "end": their habits of the last months; "whole": of the whole relationship
    extra: dict[str, Any] = field(default_factory=dict)  # unknown keys, kept so nothing is lost

    # --- conversions ----------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        extra = data.pop("extra")
        return {**data, **extra}

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> PersonaCard:
        data = dict(data or {})
        known = {f.name for f in fields(cls)} - {"extra"}
        values: dict[str, Any] = {}
        for name in known:
            if name not in data:
                continue
            value = data.pop(name)
            if name in LIST_FIELDS:
                if isinstance(value, str):
                    value = [value] if value.strip() else []
                if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                    raise CardError(f"Card field {name!r} must be a list of strings, got {value!r}.")
                value = [v.strip() for v in value if v.strip()]
            else:
                if not isinstance(value, str):
                    raise CardError(f"Card field {name!r} must be a string, got {value!r}.")
                value = value.strip()
                if name == "as_they_were":
                    value = value.lower() or "end"
                    if value not in ERAS:
                        raise CardError(f'Card field "as_they_were" must be "end" or "whole", got {value!r}.')
            values[name] = value
        return cls(**values, extra=data)

    def to_toml(self) -> str:
        """The card as a commented TOML document (what `persona edit` opens)."""
        lines = [
            "# What you remember about them. Every field is optional; save and close the editor when done.",
            '# Lists look like: boundaries = ["never say X", "never Y"]',
            "",
        ]
        data = asdict(self)
        for name, help_text in FIELD_HELP.items():
            lines.append(f"# {help_text}")
            value = data[name]
            if name in LIST_FIELDS:
                if value:
                    lines.append(f"{name} = [")
                    lines += [f"    {_toml_string(v)}," for v in value]
                    lines.append("]")
                else:
                    lines.append(f"{name} = []")
            else:
                lines.append(f"{name} = {_toml_string(value)}")
            lines.append("")
        if self.extra:
            lines.append("# Other keys (kept as they are)")
            for key, value in self.extra.items():
                lines.append(f"{_toml_key(key)} = {_toml_value(value)}")
        return "\n".join(lines).rstrip() + "\n"

    @classmethod
    def from_toml(cls, text: str) -> PersonaCard:
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise CardError(f"The card is not valid TOML: {exc}.") from None
        return cls.from_dict(data)

    def is_empty(self) -> bool:
        """Nothing remembered yet (the settings, such as `as_they_were`, do not count)."""
        return not any(v for k, v in self.to_dict().items() if k != "as_they_were")


# --- TOML writing (stdlib has a reader only) ------------------------------------------------------


def _toml_string(value: str) -> str:
    # JSON string escapes are valid TOML basic-string escapes; TOML also wants DEL escaped.
    return json.dumps(value, ensure_ascii=False).replace("\x7f", "\\u007f")


def _toml_key(key: str) -> str:
    return key if key.replace("_", "").replace("-", "").isalnum() and key.isascii() else _toml_string(key)


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return _toml_string(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_toml_key(k)} = {_toml_value(v)}" for k, v in value.items()) + "}"
    return _toml_string(str(value))
