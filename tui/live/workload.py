"""Clients of the real cluster: put, get and cas over etcd's JSON gateway, each operation
recorded as our history events (engines/lab/lincheck/history.py) for the checker.

An invocation is recorded before its request is sent and its completion after the answer
arrives, both under one lock, so the order of the events is a real-time order. Outcomes are
Jepsen's: `ok`; `fail` when the operation surely had no effect (the connection was refused, so
nothing was sent, or a cas whose compare did not match: etcd's transaction then does nothing);
`info` when it may have happened (a timeout, an error after sending: etcd may still commit a
proposal it did not confirm). Reads are linearizable (etcd's ReadIndex through the leader) or
serializable (the member answers from its own state, which an isolated member serves stale).
"""

from __future__ import annotations

import base64
import http.client
import json
import random
import threading
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any

from engines.lab.lincheck.history import Event, Operation, operations
from engines.lab.lincheck.search import Result, check

OP_TIMEOUT_S = 1.0
READS = ("linearizable", "serializable")
PROPOSALS = "proposal"  # the key a proposal (the app's `p`, a script's `propose`) is put to


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def _text(b64: str) -> str:
    return base64.b64decode(b64).decode(errors="replace")


class Unsent(Exception):
    """The request never reached the member: the operation surely did not happen."""


def call(url: str, path: str, body: dict, timeout: float = OP_TIMEOUT_S) -> dict:
    """POST a JSON gateway request. Raises Unsent when no connection could be made, OSError
    (or ValueError) for anything after: a timeout, an error answer."""
    request = urllib.request.Request(
        f"{url}{path}", json.dumps(body).encode(), {"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return json.loads(response.read() or b"{}")
    except urllib.error.HTTPError:
        raise  # an answer: the member had the request
    except urllib.error.URLError as exc:
        if isinstance(exc.reason, ConnectionRefusedError):
            raise Unsent(str(exc.reason)) from None
        raise


def put(url: str, key: str, value: str) -> None:
    call(url, "/v3/kv/put", {"key": _b64(key), "value": _b64(value)})


def get(url: str, key: str, serializable: bool) -> str | None:
    answer = call(url, "/v3/kv/range", {"key": _b64(key), "serializable": serializable})
    kvs = answer.get("kvs") or []
    return _text(kvs[0].get("value", "")) if kvs else None


def cas(url: str, key: str, expected: str, new: str) -> bool:
    """Put `new` if `key` holds `expected`, in one transaction; whether it did."""
    answer = call(
        url,
        "/v3/kv/txn",
        {
            "compare": [
                {"key": _b64(key), "target": "VALUE", "result": "EQUAL", "value": _b64(expected)}
            ],
            "success": [{"requestPut": {"key": _b64(key), "value": _b64(new)}}],
        },
    )
    return bool(answer.get("succeeded", False))


class History:
    """The events of every client, in the order they happened (thread-safe)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.events: list[Event] = []

    def record(self, process: Any, type: str, f: str, value: Any) -> None:
        with self.lock:
            self.events.append(Event(len(self.events) + 1, process, type, f, value))

    def operations(self) -> list[Operation]:
        with self.lock:
            events = list(self.events)
        return operations(events, "<live>", keyed=True, with_cas=True)

    def check(self) -> Result:
        return check(self.operations())

    def json_lines(self) -> str:
        """The history in our JSON lines format (docs/histories.md), for `lincheck`."""
        with self.lock:
            events = list(self.events)
        return "".join(
            json.dumps({"process": e.process, "type": e.type, "f": e.f, "value": e.value}) + "\n"
            for e in events
        )


@dataclass
class Client:
    """One client process: its operations are recorded under `process` in `history`."""

    process: Any
    history: History
    returned: Any = None  # what the last read that ended ok returned
    error: str = ""  # why the last operation did not end ok ("" when it did)

    def put(self, url: str, key: str, value: str) -> str:
        return self._run("write", key, value, lambda: put(url, key, value))

    def get(self, url: str, key: str, serializable: bool = False) -> str:
        return self._run("read", key, None, lambda: get(url, key, serializable))

    def cas(self, url: str, key: str, expected: str, new: str) -> str:
        return self._run("cas", key, (expected, new), lambda: cas(url, key, expected, new))

    def _run(self, f: str, key: str, asked: Any, operation) -> str:
        """Run one operation, recording it; its outcome: ok, fail or info."""
        self.history.record(self.process, "invoke", f, (key, asked))
        try:
            returned = operation()
        except Unsent as exc:
            self.error = f"not sent: {exc}"
            self.history.record(self.process, "fail", f, (key, asked))
            return "fail"
        except (OSError, ValueError, http.client.HTTPException) as exc:  # timeouts: OSError
            self.error = str(exc) or type(exc).__name__
            self.history.record(self.process, "info", f, (key, asked))
            return "info"
        if f == "cas" and not returned:
            self.error = "the compare did not match"
            self.history.record(self.process, "fail", f, (key, asked))
            return "fail"
        self.returned, self.error = returned, ""
        self.history.record(self.process, "ok", f, (key, returned if f == "read" else asked))
        return "ok"


@dataclass
class Workload:
    """K clients, each bound to one member, doing put/get/cas on a few keys until stopped.

    Client c talks to member ((c - 1) mod n) + 1, so every member serves someone (an
    isolated member's clients see what it serves). Values are `c.k`, unique per write."""

    urls: dict[int, str]  # node id -> client URL
    history: History
    clients: int = 3
    keys: int = 2
    rate: float = 10.0  # operations per second per client
    reads: str = "linearizable"
    seed: int = 1

    def __post_init__(self) -> None:
        if self.reads not in READS:
            raise ValueError(f"reads must be one of {', '.join(READS)}")
        self.stopped = threading.Event()
        self.threads: list[threading.Thread] = []

    def start(self) -> Workload:
        members = sorted(self.urls)
        for c in range(1, self.clients + 1):
            node = members[(c - 1) % len(members)]
            thread = threading.Thread(
                target=self._client, args=(c, node), name=f"client-{c}", daemon=True
            )
            self.threads.append(thread)
            thread.start()
        return self

    def stop(self) -> None:
        self.stopped.set()
        for thread in self.threads:
            thread.join(OP_TIMEOUT_S * 3)

    def _client(self, c: int, node: int) -> None:
        rng = random.Random(self.seed * 1000 + c)
        client = Client(c, self.history)
        url = self.urls[node]
        seen: dict[str, str] = {}  # the last value this client read or wrote, per key
        written = 0
        while not self.stopped.is_set():
            key = f"k{rng.randint(1, self.keys)}"
            draw = rng.random()
            if draw < 0.5:
                if client.get(url, key, self.reads == "serializable") == "ok" and client.returned:
                    seen[key] = client.returned
            else:
                written += 1
                value = f"{c}.{written}"
                if draw < 0.8 or key not in seen:
                    outcome = client.put(url, key, value)
                else:
                    outcome = client.cas(url, key, seen[key], value)
                if outcome == "ok":
                    seen[key] = value
            self.stopped.wait(rng.uniform(0.5, 1.5) / self.rate)
