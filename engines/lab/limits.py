"""Limits on what a script or a trace may ask for, checked before any work is done."""

MAX_STEPS = 10_000_000  # steps one script line, or one trace, may take
