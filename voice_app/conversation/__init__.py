"""The application layer: one turn for text and voice, the conversation, its services (import, sessions, forget)."""
