"""voice_app: talk aloud with a local, honest simulation of an ex, built from your own chat history."""

__version__ = "0.1.0"
