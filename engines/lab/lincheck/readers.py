"""Reading histories: our JSON lines and Jepsen's EDN, one event per line (docs/histories.md).

The format is told from the first event: `{"` opens a JSON object, `{:` an EDN map. Either way
an event becomes an Event with plain Python values: EDN keywords become their names (`:ok` is
"ok"), lists and vectors become tuples (so states can be cached), and events of the nemesis
(`:process :nemesis`, faults injected by the test, not client operations) are left out.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import edn_format

from engines.lab.lincheck.history import Event, HistoryError, Operation, operations
from engines.lab.lincheck.models import Model

REQUIRED = ("process", "type", "f")
NEMESIS = "nemesis"


def read_history(path: str | Path, model: Model) -> list[Operation]:
    """The operations of a history file. Raises HistoryError (`FILE:LINE: problem`)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise HistoryError(str(path), 0, f"cannot read history: {exc}") from None
    return parse_history(text, str(path), model)


def parse_history(text: str, file: str, model: Model) -> list[Operation]:
    lines = [(number, line) for number, line in enumerate(text.splitlines(), 1) if line.strip()]
    is_json = bool(lines) and lines[0][1].lstrip().startswith('{"')
    maps = json_maps(lines, file) if is_json else edn_maps(lines, file)
    events = [event(number, fields, file) for number, fields in maps]
    client_events = [e for e in events if e.process != NEMESIS]
    return operations(client_events, file, model.keyed, model.with_cas)


def json_maps(lines: list[tuple[int, str]], file: str) -> list[tuple[int, Any]]:
    maps = []
    for number, line in lines:
        try:
            maps.append((number, json.loads(line, object_pairs_hook=dict)))
        except json.JSONDecodeError as exc:
            raise HistoryError(file, number, f"not valid JSON: {exc.msg}") from None
    return [(number, plain(fields)) for number, fields in maps]


def edn_maps(lines: list[tuple[int, str]], file: str) -> list[tuple[int, Any]]:
    """Parsing the file as one vector is several times faster than line by line (edn-format
    builds its parser on every call); line by line is only for saying where it went wrong."""
    try:
        forms = edn_format.loads("[" + "\n".join(line for _, line in lines) + "]")
    except Exception:  # edn-format raises several kinds; any means some line is bad
        forms = None
    if forms is None or len(forms) != len(lines):
        forms = [one_edn_form(number, line, file) for number, line in lines]
    return [(number, plain(form)) for (number, _), form in zip(lines, forms, strict=True)]


def one_edn_form(number: int, line: str, file: str) -> Any:
    try:
        forms = edn_format.loads_all(line)
    except Exception as exc:
        raise HistoryError(file, number, f"not valid EDN: {exc}") from None
    if len(forms) != 1:
        raise HistoryError(file, number, f"expected one op map, found {len(forms)} forms")
    return forms[0]


def plain(value: Any) -> Any:
    """JSON or EDN data as hashable Python values."""
    if isinstance(value, edn_format.Keyword):
        return value.name
    if isinstance(value, Mapping):  # edn-format's maps are Mappings, not dicts
        return {plain(k): plain(v) for k, v in value.items()}
    if isinstance(value, Sequence) and not isinstance(value, str):
        return tuple(plain(item) for item in value)
    return value


def event(number: int, fields: Any, file: str) -> Event:
    if not isinstance(fields, dict):
        raise HistoryError(file, number, f"expected an op map, not {fields!r}")
    missing = [name for name in REQUIRED if name not in fields]
    if missing:
        raise HistoryError(file, number, f"the op has no {', '.join(missing)}")
    return Event(number, fields["process"], fields["type"], fields["f"], fields.get("value"))
