"""The Textual app: home, import, persona, talk and replay screens (the UI renders and sends intents only).

Everything the screens need from the rest of voice_app goes through two seams, so the engine parts
can change without touching a screen: `services.Services` (store, import, card, style, sessions,
machine status) and `engine.TalkEngine` (one conversation: typed lines now, the voice pipeline when a
microphone and the speech package are there).
"""
