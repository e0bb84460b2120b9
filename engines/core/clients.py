"""Simulated clients: K of them, each with one operation at a time, and the history they see.

A client sends its operation to the node it believes leads (at first n1, n2, ... in turn by
client number). A redirect naming a leader is followed at once; one naming nobody sends the
client to the next node after a back-off. With no answer within `ATTEMPT_MS` it retries the
same operation id at the next node: the state machine applies each (client, op id) once
(`engines.core.chain`). An operation unanswered for `GIVE_UP_MS` ends unknown, as Jepsen's
`info`: it may or may not have taken effect.

The history records each operation's invocation and completion, with their simulated times and
their positions in one sequence of events. Everything here is in the simulator's `World`, so
a checkpoint holds it and stepping back restores it; the simulator does the scheduling.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from engines.core.chain import Command
from engines.core.shared import SharedList

ATTEMPT_MS = 300  # an attempt unanswered for this long is retried at the next node
GIVE_UP_MS = 1_500  # an operation unanswered for this long ends unknown
BACKOFF_MS = 50  # after a redirect that names no leader
FUNCTIONS = ("put", "get", "cas")
VALUES = 5  # the workload writes the values 1..5
KEYS = "xyzabcdefghijklmnopqrstuvw"  # the workload's keys, apart from the fuzzer's `set k1 v1`
DEFAULT_KEYS, DEFAULT_RATE = 3, 10  # `clients K` alone: 3 keys, 10 operations a second each


@dataclass
class Record:
    """One operation of the history. `status` is empty while it is pending, then ok, fail
    (definitely not applied) or unknown (timed out)."""

    command: Command
    invoked_at: int
    call: int  # its invocation's position in the history's events
    status: str = ""
    value: str | None = None  # what a get returned
    completed_at: int | None = None
    ret: int | None = None
    node: int | None = None  # the node that answered
    # The steps that concern it, so a view can find its events: invoked, each attempt sent
    # (with the proposal id the node got it as, which messages carrying it name; None when
    # the node was down), completed.
    invoked_step: int = 0
    sends: list[tuple[int, str | None]] = field(default_factory=list)
    completed_step: int | None = None
    read_round: int = 0  # a read the leader's heartbeat round confirmed: that round


@dataclass
class Client:
    id: int
    target: int  # the node it believes leads
    auto: bool = False  # drawing operations from the workload
    next_op: int = 1
    current: Record | None = None


@dataclass
class Workload:
    """Every client of a simulation, the workload's settings and the history."""

    rng: random.Random
    node_ids: list[int]
    keys: int = DEFAULT_KEYS
    rate: int = DEFAULT_RATE  # operations per second per client, on average
    clients: dict[int, Client] = field(default_factory=dict)
    # A checkpoint shares the records with the live world (a SharedList's view): pickling
    # them all made every checkpoint cost the whole history. See __setstate__.
    records: SharedList = field(default_factory=SharedList)
    positions: int = 0
    timers: dict[tuple[int, str], int] = field(default_factory=dict)  # (client, name) -> seq

    def __setstate__(self, state: dict) -> None:
        """Restored from a checkpoint, `records` holds the live world's records: a finished
        one never changes again, but a pending one may have changed since. Its client's
        copy, pickled with the client, takes its place."""
        self.__dict__.update(state)
        for client in self.clients.values():
            if client.current is not None:
                self._put_back(client.current)

    def _put_back(self, pending: Record) -> None:
        records = self.records
        index = len(records) - 1
        while records[index].call != pending.call:  # pending records are near the end
            index -= 1
        if records[index] is not pending:
            records[index] = pending

    def client(self, client_id: int) -> Client:
        if client_id not in self.clients:
            target = self.node_ids[(client_id - 1) % len(self.node_ids)]
            self.clients[client_id] = Client(client_id, target)
        return self.clients[client_id]

    def busy(self, client_id: int) -> bool:
        client = self.clients.get(client_id)
        return client is not None and client.current is not None

    def configure(self, count: int, keys: int, rate: int) -> list[int]:
        """Clients 1..count draw operations from now on; others stop after their current one.
        Returns the clients that start drawing."""
        self.keys, self.rate = keys, rate
        started = []
        for client_id in sorted(set(self.clients) | set(range(1, count + 1))):
            client = self.client(client_id)
            if client_id <= count and not client.auto:
                started.append(client_id)
            client.auto = client_id <= count
        return started

    def running(self) -> int:
        """How many clients draw operations (clients 1..running)."""
        return sum(client.auto for client in self.clients.values())

    def changes(self, count: int, keys: int = DEFAULT_KEYS, rate: int = DEFAULT_RATE) -> bool:
        """Whether `clients count keys=.. rate=..` would change anything."""
        if count == 0:
            return self.running() > 0
        return (count, keys, rate) != (self.running(), self.keys, self.rate)

    def think_time(self) -> int:
        return self.rng.randint(0, 2000 // self.rate)

    def draw(self, client: Client) -> Command:
        f = self.rng.choices(FUNCTIONS, weights=(2, 2, 1))[0]
        key = KEYS[self.rng.randrange(self.keys)]
        args = {"put": 1, "get": 0, "cas": 2}[f]
        values = tuple(str(self.rng.randint(1, VALUES)) for _ in range(args))
        return Command(client.id, client.next_op, f, key, values)

    def invoke(self, client: Client, command: Command, now: int, step: int) -> Record:
        record = Record(command, now, self.positions, invoked_step=step)
        self.positions += 1
        client.current = record
        client.next_op = command.op + 1
        self.records.append(record)
        return record

    def complete(
        self, client: Client, status: str, when: tuple[int, int], value=None, node=None
    ) -> None:
        """End the client's operation at `when`, (time, step)."""
        record = client.current
        record.status, record.value, record.node = status, value, node
        (record.completed_at, record.completed_step), record.ret = when, self.positions
        self.positions += 1
        client.current = None

    def next_node(self, client: Client) -> int:
        ids = self.node_ids
        client.target = ids[(ids.index(client.target) + 1) % len(ids)]
        return client.target
