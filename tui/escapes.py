"""Escaping for values that may come from a file, apart from the widgets' text helpers so that
the headless commands print them without loading Rich."""

from __future__ import annotations


def visible(value: object) -> str:
    """Control characters (and other unprintables) as escapes, everything else as is."""
    text = str(value)
    if text.isprintable():
        return text
    return "".join(ch if ch.isprintable() else ascii(ch)[1:-1] for ch in text)
