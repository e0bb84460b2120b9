"""Helpers for the TUI tests: the screen as plain text, and waiting on a condition."""

from __future__ import annotations

import asyncio
import functools
import io

from rich.console import Console


def screen_text(app) -> str:
    """What the terminal shows right now, as plain text (modal screens included)."""
    width, height = app.size
    console = Console(
        width=width, height=height, file=io.StringIO(), record=True, legacy_windows=False
    )
    update = app.screen._compositor.render_update(full=True, screen_stack=app._background_screens)
    console.print(update)
    return console.export_text()


async def wait_for(pilot, predicate, tries: int = 200) -> None:
    """Let the app run until predicate() holds (a condition, not a fixed sleep)."""
    for _ in range(tries):
        if predicate():
            return
        await pilot.pause(0.01)
    raise AssertionError("condition not reached")


def pilot_test(test):
    """Run an async test function with asyncio (the suite has no async pytest plugin)."""

    @functools.wraps(test)
    def run(*args, **kwargs):
        return asyncio.run(test(*args, **kwargs))

    return run


async def burst(pilot, *keys: str) -> None:
    """Keys arriving together, as a held key or a paste without bracketed paste sends them:
    all are queued before the app handles the first (pilot.press waits after each)."""
    from textual import events

    app = pilot.app
    for key in keys:
        char = key if len(key) == 1 else {"enter": "\r", "tab": "\t"}.get(key)
        event = events.Key(key, char)
        event.set_sender(app)
        app._driver.send_message(event)
    await pilot.pause()
    await pilot.pause()


async def paste(pilot, text: str) -> None:
    """A bracketed paste: one Paste event with the whole text, newlines included."""
    from textual import events

    event = events.Paste(text)
    event.set_sender(pilot.app)
    pilot.app._driver.send_message(event)
    await pilot.pause()


def notifications(app) -> str:
    """The messages of the toasts on screen, whole (a toast wraps long lines)."""
    return "\n".join(n.message for n in app._notifications)
