"""All SQL and every file the app keeps: the SQLite store, encryption at rest, audio files."""
