"""Each member's status, polled over etcd's gRPC JSON gateway, as plain snapshots.

`POST /v3/maintenance/status` answers with the member's ID, the leader it knows, its term
(`raftTerm`), last log index (`raftIndex`), applied index (`raftAppliedIndex`), learner flag
and errors: `etcdserver: no leader`, and each raised alarm (`memberID:... alarm:NOSPACE`). The
alarm API itself goes through Raft, so an isolated member could not answer it; the status
answers from the member's own state. The commit index, followers' progress and the messages
are not exposed.

A `Poller` asks every member from its own thread, several times a second, so a member that
is down or slow to answer delays only its own panel. Anything that shows the cluster reads a
`Feed`: the poller, or a recorded list of snapshots for tests.
"""

from __future__ import annotations

import http.client
import json
import threading
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Protocol

from tui.live.wal import WalReader, WalView

POLL_INTERVAL_S = 0.2
REQUEST_TIMEOUT_S = 0.5


@dataclass(frozen=True)
class MemberStatus:
    """What one member said of itself at one moment. `state` is `up` (it answered), `down`
    (its process is not running) or `silent` (running, but no answer in time)."""

    node_id: int
    state: str
    role: str = ""  # leader, follower, or "no leader" when it knows none
    term: int | None = None
    last_index: int | None = None
    applied_index: int | None = None
    learner: bool = False
    leader: int | None = None  # the node id of the leader it knows
    errors: tuple[str, ...] = ()  # errors and raised alarms, as etcd words them
    member_id: str = ""
    wal: WalView | None = None  # its log as on disk, up or down (tui/live/wal.py)

    @property
    def up(self) -> bool:
        return self.state == "up"


@dataclass(frozen=True)
class Snapshot:
    """Every member's latest status, `at` seconds after the feed started."""

    at: float
    members: tuple[MemberStatus, ...]
    groups: tuple[tuple[int, ...], ...] = ()  # partition groups; () when the network is whole

    def leader(self) -> MemberStatus | None:
        """The member that says it leads, in the highest term (an isolated old leader may
        still say so for a moment)."""
        leaders = [m for m in self.members if m.up and m.role == "leader"]
        return max(leaders, key=lambda m: m.term or 0, default=None)


@dataclass(frozen=True)
class LeaderChange:
    at: float  # seconds since the feed started
    leader: int | None  # None: no member leads
    term: int | None


def leader_change(changes: list[LeaderChange], snapshot: Snapshot) -> LeaderChange | None:
    """The change `snapshot` shows after the last one in `changes`, if any."""
    leader = snapshot.leader()
    seen = LeaderChange(snapshot.at, *((leader.node_id, leader.term) if leader else (None, None)))
    last = changes[-1] if changes else None
    if last is None or (last.leader, last.term) != (seen.leader, seen.term):
        return seen
    return None


class Feed(Protocol):
    """What the live app reads: the latest snapshot (never blocking) and the leader changes
    seen so far."""

    changes: list[LeaderChange]

    def snapshot(self) -> Snapshot: ...


@dataclass
class RecordedFeed:
    """A fixed sequence of snapshots, handed out in turn, the last one repeated."""

    snapshots: list[Snapshot]
    changes: list[LeaderChange] = field(default_factory=list)
    position: int = 0

    def snapshot(self) -> Snapshot:
        shown = self.snapshots[min(self.position, len(self.snapshots) - 1)]
        self.position += 1
        return shown


def post_json(url: str, body: dict, timeout: float) -> dict:
    request = urllib.request.Request(
        url, json.dumps(body).encode(), {"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return json.loads(response.read() or b"{}")


def parse_status(node_id: int, answer: dict, names: dict[str, int]) -> MemberStatus:
    """A status answer as a MemberStatus. IDs come as decimal strings (uint64 in JSON)."""
    me = answer.get("header", {}).get("member_id", "")
    leader = answer.get("leader", "0")
    errors = tuple(str(error).strip() for error in answer.get("errors", ()))
    role = "no leader" if leader in ("0", "") else "leader" if leader == me else "follower"
    return MemberStatus(
        node_id,
        "up",
        role=role,
        term=int(answer.get("raftTerm", 0)),
        last_index=int(answer.get("raftIndex", 0)),
        applied_index=int(answer.get("raftAppliedIndex", 0)),
        learner=bool(answer.get("isLearner", False)),
        leader=names.get(leader),
        errors=errors,
        member_id=me,
    )


def ask_status(url: str, node_id: int, names: dict[str, int]) -> MemberStatus:
    """One member's status now; `silent` when it does not answer in time."""
    try:
        answer = post_json(f"{url}/v3/maintenance/status", {}, REQUEST_TIMEOUT_S)
    except (OSError, ValueError, http.client.HTTPException):  # URLError is an OSError
        return MemberStatus(node_id, "silent")
    return parse_status(node_id, answer, names)


@dataclass
class Poller:
    """Polls every member of a cluster from a thread each. `snapshot()` never blocks on a
    member: it returns what was last heard."""

    cluster: object  # tui.live.cluster.Cluster (not imported: tests hand a stand-in)
    interval: float = POLL_INTERVAL_S
    clock: Callable[[], float] = time.monotonic
    changes: list[LeaderChange] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.started = self.clock()
        self.latest = {i: MemberStatus(i, "silent") for i in self.cluster.node_ids}
        # Status answers give member IDs in decimal.
        self.names = {str(mid): i for i, mid in self.cluster.member_ids.items()}
        self.lock = threading.Lock()
        self.stopped = threading.Event()
        self.threads = [
            threading.Thread(target=self._poll, args=(i,), name=f"status-n{i}", daemon=True)
            for i in self.cluster.node_ids
        ]

    def start(self) -> Poller:
        for thread in self.threads:
            thread.start()
        return self

    def stop(self) -> None:
        self.stopped.set()
        for thread in self.threads:
            thread.join(REQUEST_TIMEOUT_S * 3)

    def __enter__(self) -> Poller:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _poll(self, node_id: int) -> None:
        member = self.cluster.members[node_id]
        ids = {mid: node for node, mid in self.cluster.member_ids.items()}
        wal = WalReader(member.data_dir, ids)
        while not self.stopped.is_set():
            status = (
                ask_status(member.client_url, node_id, self.names)
                if member.up
                else MemberStatus(node_id, "down")
            )
            status = replace(status, wal=wal.read())
            with self.lock:
                self.latest[node_id] = status
                self._note_leader()
            self.stopped.wait(self.interval)

    def _note_leader(self) -> None:
        change = leader_change(self.changes, self._snapshot())
        if change is not None:
            self.changes.append(change)

    def _snapshot(self) -> Snapshot:
        links = self.cluster.links
        groups = () if links.whole else _groups(links.group_of)
        members = tuple(self.latest[i] for i in sorted(self.latest))
        return Snapshot(self.clock() - self.started, members, groups)

    def snapshot(self) -> Snapshot:
        with self.lock:
            return self._snapshot()

    def wait_for(self, condition: Callable[[Snapshot], bool], timeout: float) -> Snapshot | None:
        """The first snapshot for which `condition` holds, or None after `timeout` seconds."""
        deadline = self.clock() + timeout
        while self.clock() < deadline:
            snapshot = self.snapshot()
            if condition(snapshot):
                return snapshot
            time.sleep(self.interval / 2)
        return None


def _groups(group_of: dict[int, int]) -> tuple[tuple[int, ...], ...]:
    by_group: dict[int, list[int]] = {}
    for node, group in sorted(group_of.items()):
        by_group.setdefault(group, []).append(node)
    return tuple(tuple(nodes) for _, nodes in sorted(by_group.items()))
