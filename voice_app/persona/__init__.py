"""The persona: what the user remembers, how the ex wrote, and the prompt built from both.

- `card`: PersonaCard (TOML <-> `personas.card`)
- `style`: StyleProfile measured from their messages (cached in `personas.style`)
- `memory`: BM25 index of real past exchanges (your burst -> their reply)
- `prompt`: build_prompt(store, name) -> PersonaPrompt (fixed prefix, per-turn TurnPrompt with memories)
- `fidelity`: held-out evaluation with style distances and authorship attribution
- `cli`: register(sub) adds `voice-app persona edit | show | eval`
"""
