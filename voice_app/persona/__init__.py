"""The persona: what the user remembers, how the ex wrote, and the prompt built from both (pure: its data is passed in).

- `card`: PersonaCard (TOML <-> `personas.card`)
- `style`: StyleProfile measured from their messages (cached in `personas.style`)
- `memory`: BM25 index of real past exchanges (your burst -> their reply)
- `prompt`: compose_prompt(...) -> PersonaPrompt (fixed prefix, per-turn TurnPrompt with memories)
"""
