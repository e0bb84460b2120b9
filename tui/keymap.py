"""Keymap files: TOML mapping binding ids to keys, validated before the app starts.

A keymap file maps binding ids (see tui.commands) to Textual key names, either flat with
quoted ids or grouped in tables by scope:

    [sim]
    step = "l,right"        # a comma-separated string ...
    back = ["h", "left"]    # ... or a list

Ids left out keep their default keys. Errors raise KeymapError with a one-line message naming
the file, the line when it can be found, and the problem.
"""

from __future__ import annotations

import difflib
import re
import tomllib
from importlib import resources
from pathlib import Path

from textual.keys import Keys, _character_to_key

from engines.lab import limits
from tui.commands import BY_ID, default_keymap

BUILT_IN = ("default", "vim")
MODIFIERS = {"ctrl", "shift", "alt", "meta", "super", "hyper"}
# Textual's names for keys: named keys (escape, pageup, f1) and the names of the printable
# ASCII characters (comma, plus, space). Other Unicode names (`banana`) are no keyboard's.
NAMED_KEYS = {k.value.rpartition("+")[2] for k in Keys if not k.value.startswith("<")}
CHARACTER_NAMES = {_character_to_key(chr(c)) for c in range(32, 127)}
KEY_NAMES = {name for name in NAMED_KEYS | CHARACTER_NAMES if len(name) > 1}


class KeymapError(Exception):
    """A keymap that cannot be used; str() is a one-line message for the user."""


def load_keymap(spec: str | Path | None) -> dict[str, str]:
    """The full keymap (every binding id -> its keys) for a built-in name or a file path."""
    name, text = _read(spec)
    _check_limits(name, text)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise KeymapError(f"{name}:{_toml_line(text, str(e))}: invalid TOML: {e}") from None
    keymap = default_keymap()
    for binding_id, value in _flatten(data):
        where = _where(name, text, binding_id)
        if binding_id not in BY_ID:
            raise KeymapError(f"{where}: unknown binding id {binding_id!r}")
        keymap[binding_id] = ",".join(_keys(where, binding_id, value))
    _check_clashes(name, text, keymap)
    return keymap


def _check_limits(name: str, text: str) -> None:
    """Refuse a keymap too large or nested too deep before TOML reads it (deep nesting
    overflows the parser's recursion, long dotted keys take minutes)."""
    if len(text) > limits.MAX_KEYMAP_BYTES:
        raise KeymapError(
            f"{name}: {len(text)} characters is above the keymap limit of {limits.MAX_KEYMAP_BYTES}"
        )
    deep = limits.deepest_line(text)
    if deep is None:
        deep = next(
            (i for i, line in enumerate(text.split("\n"), 1) if line.count(".") > limits.MAX_DEPTH),
            None,
        )
    if deep is not None:
        raise KeymapError(f"{name}:{deep}: nested deeper than {limits.MAX_DEPTH} levels")


def _toml_line(text: str, error: str) -> int:
    """The line a TOML error is at: tomllib says `(at line N, ...)` or `(at end of document)`."""
    found = re.search(r"\(at line ([0-9]+),", error)
    return int(found[1]) if found else text.count("\n") + 1


def _read(spec: str | Path | None) -> tuple[str, str]:
    """(display name, text) of the keymap file."""
    spec = "default" if spec is None else spec
    if spec in BUILT_IN:
        name = f"keymaps/{spec}.toml"
        return name, resources.files("keymaps").joinpath(f"{spec}.toml").read_text("utf-8")
    path = Path(spec)
    try:
        return str(path), path.read_text("utf-8")
    except FileNotFoundError:
        raise KeymapError(
            f"{path}: no such keymap file (built-in keymaps: {', '.join(BUILT_IN)})"
        ) from None
    except (OSError, UnicodeDecodeError) as e:
        raise KeymapError(f"{path}: cannot read keymap: {e}") from None


def _flatten(data: dict, prefix: str = "") -> list[tuple[str, object]]:
    """Tables become dotted ids: [sim] step = "n" gives ("sim.step", "n")."""
    out = []
    for key, value in data.items():
        if isinstance(value, dict):
            out += _flatten(value, f"{prefix}{key}.")
        else:
            out.append((f"{prefix}{key}", value))
    return out


def _where(name: str, text: str, binding_id: str) -> str:
    """`file:line` for the line that sets this id (its key, under the table it sits in), or
    just the file when it is not found."""
    table = ""
    for number, line in enumerate(text.split("\n"), 1):
        header = _TABLE.match(line)
        if header:
            table = _plain_key(header[1]) + "."
            continue
        setting = _SETTING.match(line)
        if setting and table + _plain_key(setting[1]) == binding_id:
            return f"{name}:{number}"
    return name


_TABLE = re.compile(r"^\s*\[([^\[\]]+)\]")
_SETTING = re.compile(r'^\s*((?:"[^"]*"|[\w.\- ]+?))\s*=')


def _plain_key(key: str) -> str:
    """A TOML key as a dotted id: `sim . step` and `"sim.step"` both give sim.step."""
    key = key.strip()
    if key.startswith('"') and key.endswith('"'):
        return key[1:-1]
    return ".".join(part.strip() for part in key.split("."))


def _keys(where: str, binding_id: str, value: object) -> list[str]:
    if isinstance(value, str):
        keys = value.split(",")
    elif isinstance(value, list) and all(isinstance(v, str) for v in value):
        keys = list(value)
    else:
        raise KeymapError(f"{where}: keys for {binding_id!r} must be a string or list of strings")
    keys = [k.strip() for k in keys]
    if len(keys) > 1 and not all(keys):
        raise KeymapError(
            f"{where}: ',' separates keys for {binding_id!r}: write the comma key as 'comma'"
        )
    if not all(keys):
        raise KeymapError(f"{where}: empty key for {binding_id!r}")
    for key in keys:
        if not is_valid_key(key):
            hint = nearest_key(key)
            also = f"; did you mean {hint!r}?" if hint else ""
            raise KeymapError(f"{where}: invalid key {key!r} for {binding_id!r}{also}")
    return [_character_to_key(k) if len(k) == 1 else k for k in keys]


def is_valid_key(key: str) -> bool:
    """A Textual key name: optional modifiers, then one character or a named key."""
    *mods, base = key.split("+") if key != "+" else [key]
    if not base or any(m not in MODIFIERS for m in mods):
        return False
    return (len(base) == 1 and base.isprintable()) or base in KEY_NAMES


def nearest_key(key: str) -> str:
    """The valid key name closest to an invalid one (`Space` -> `space`), or ""."""
    *mods, base = key.lower().split("+")
    if len(base) > 1 and base not in KEY_NAMES:
        base = next(iter(difflib.get_close_matches(base, KEY_NAMES, n=1, cutoff=0.6)), "")
    candidate = "+".join([*mods, base])
    return candidate if base and is_valid_key(candidate) else ""


def _check_clashes(name: str, text: str, keymap: dict[str, str]) -> None:
    owner: dict[str, str] = {}
    for binding_id, keys in keymap.items():
        for key in keys.split(","):
            if key in owner:
                where = _where(name, text, binding_id)
                if where == name:
                    where = _where(name, text, owner[key])
                raise KeymapError(
                    f"{where}: key {key!r} is bound to both {owner[key]!r} and {binding_id!r}"
                )
            owner[key] = binding_id
