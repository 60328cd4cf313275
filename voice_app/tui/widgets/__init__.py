"""Widgets shared by the screens."""

from voice_app.tui.widgets.memories import MemoriesPanel
from voice_app.tui.widgets.meters import LevelMeter, StageBar, StateIndicator
from voice_app.tui.widgets.transcript import Bubble, Transcript

__all__ = ["Bubble", "LevelMeter", "MemoriesPanel", "StageBar", "StateIndicator", "Transcript"]
