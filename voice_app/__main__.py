"""`python -m voice_app` runs the command line."""

from voice_app.cli import entry

entry()
