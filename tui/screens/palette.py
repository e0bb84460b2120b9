"""Textual's command palette, made safe against keys that arrive together.

Textual 8 delays screen switches, so a second Enter (a double press, a paste, a held key) still
reaches the palette after the first one chose a command: it would dismiss the palette again,
which raises ScreenStackError, and run the command twice. This palette closes once and drops
what arrives while it is closing.
"""

from __future__ import annotations

from typing import Any

from textual import on
from textual.command import CommandPalette
from textual.message import Message
from textual.widgets import Input, OptionList


class Palette(CommandPalette):
    closing = False

    @on(Input.Submitted)
    @on(OptionList.OptionSelected)
    def drop_when_closing(self, event: Message) -> None:
        """Runs before CommandPalette's own handlers, which it stops once closing."""
        if self.closing:
            event.stop()
            event.prevent_default()

    def dismiss(self, result: Any = None):
        if self.closing:
            return None
        self.closing = True
        return super().dismiss(result)
