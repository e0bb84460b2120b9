"""Limits on what a script, a trace or a keymap may ask for, checked before any work is done.

Code reads them as `limits.NAME` at the moment of use, so a test can lower one.
"""

import re

MAX_STEPS = 500_000  # steps a script, or a trace, may take in all (about 10 s and 450 MB)
MAX_SIM_MS = 600_000  # simulated time a script may wait in all: `run` and `within`
MAX_COMMANDS = 20_000  # lines that do something in a script, actions in a trace
MAX_INPUT_BYTES = 2_000_000  # a script or a trace file
MAX_KEYMAP_BYTES = 64_000
MAX_DEPTH = 16  # nesting of JSON or TOML brackets, dots in one keymap line
MAX_DIGITS = 19  # a number in a trace (2**63 has 19 digits)

_STRINGS = re.compile(r'"(?:[^"\\\n]|\\.)*"|\'[^\'\n]*\'')


class LimitError(ValueError):
    """An input above a limit; str() says which and where."""


def check_size(text: str, limit: int) -> None:
    if len(text) > limit:
        raise LimitError(f"{len(text)} characters is above the limit of {limit}")


def deepest_line(text: str) -> int | None:
    """The first line (from 1) where brackets outside strings nest deeper than MAX_DEPTH,
    or None."""
    depth = 0
    for number, line in enumerate(_STRINGS.sub("", text).split("\n"), start=1):
        for ch in line:
            if ch in "[{":
                depth += 1
                if depth > MAX_DEPTH:
                    return number
            elif ch in "]}":
                depth -= 1
    return None


def check_count(what: str, count: int, limit: int) -> None:
    if count > limit:
        raise LimitError(f"{what} {count} is above the limit of {limit}")
