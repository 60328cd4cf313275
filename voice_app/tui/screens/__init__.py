"""The app's screens."""

from voice_app.tui.screens.doctor import DoctorScreen
from voice_app.tui.screens.home import HomeScreen
from voice_app.tui.screens.importer import ImportScreen
from voice_app.tui.screens.persona import PersonaScreen
from voice_app.tui.screens.replay import ReplayScreen
from voice_app.tui.screens.talk import TalkScreen

__all__ = ["DoctorScreen", "HomeScreen", "ImportScreen", "PersonaScreen", "ReplayScreen", "TalkScreen"]
