"""The persona: what the user remembers, how the ex wrote, and the prompt built from both."""
