"""A live session: a running cluster, its status poller and the clients' history, with the
user actions (the simulator's action table, engines/core/actions.py) applied to real members.

The app and the script runner both act through `Session.act`, so a key and a script line do
the same thing.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from engines.core.actions import LEADER, LEADER_OR_FIRST, Action, ActionError
from tui.live.cluster import Cluster
from tui.live.status import Poller
from tui.live.workload import PROPOSALS, Client, History, Workload

FIRST_LEADER_S = 15.0  # a fresh cluster elects within about a second; slow machines take longer
LIVE_ACTIONS = ("propose", "crash", "restart", "restart_all", "isolate", "partition", "heal")


DONE = {
    "crash": "killed (SIGKILL)",
    "restart": "started again on its data folder",
    "isolate": "isolated: its links to every other member are cut",
}


class NoLeader(Exception):
    pass


@dataclass
class Session:
    cluster: Cluster
    poller: Poller
    reads: str = "linearizable"
    seed: int = 1
    history: History = field(default_factory=History)
    workload: Workload | None = None

    def __post_init__(self) -> None:
        self.proposer = Client("proposer", self.history)

    @classmethod
    def start(cls, nodes: int, etcd: str | None, reads: str, seed: int = 1) -> Session:
        """Start a cluster and wait for its first leader. Raises EtcdMissing, NoLeader
        (with etcd's last log lines) or OSError; nothing is left running on failure."""
        cluster = Cluster(nodes, etcd)
        try:
            cluster.__enter__()
            session = cls(cluster, Poller(cluster).start(), reads, seed)
            first = session.poller.wait_for(lambda s: s.leader() is not None, FIRST_LEADER_S)
        except BaseException:  # Ctrl+C included: nothing may be left running
            cluster.close()
            raise
        if first is None:
            tail = " | ".join(cluster.log_tail(1, 3))
            session.close()
            raise NoLeader(f"the cluster elected no leader in {FIRST_LEADER_S:g} s ({tail})")
        return session

    def __enter__(self) -> Session:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.stop_clients()
        self.poller.stop()
        self.cluster.close()

    @property
    def node_ids(self) -> list[int]:
        return self.cluster.node_ids

    def node(self, ref: int | str) -> int:
        """A node reference as a node id: `leader` is the member leading now."""
        if ref not in (LEADER, LEADER_OR_FIRST):
            return ref
        leader = self.poller.snapshot().leader()
        if leader is not None:
            return leader.node_id
        if ref == LEADER_OR_FIRST:
            return self.node_ids[0]  # as in simulation: a proposal with no leader goes to n1
        raise NoLeader("'leader' used but no member leads now")

    def act(self, action: Action) -> str:
        """Take one action on the real cluster; what was done, in words."""
        args, cluster = action.args, self.cluster
        if action.kind == "clients":
            return self.start_clients(args)
        if action.kind == "heal":
            cluster.heal()
            return "healed every link"
        if action.kind == "restart_all":
            for node in self.node_ids:
                cluster.restart(node)
            return "restarted every member"
        if action.kind == "partition":
            groups = [[self.node(n) for n in group] for group in args["groups"]]
            cluster.partition(groups)
            return "partitioned " + " | ".join(" ".join(f"n{n}" for n in g) for g in groups)
        if action.kind not in LIVE_ACTIONS:
            raise ActionError(f"'{action.kind}' has no live meaning")
        node = self.node(args["node"])
        if action.kind == "propose":
            outcome = self.proposer.put(cluster.members[node].client_url, PROPOSALS, args["value"])
            why = f" ({self.proposer.error})" if self.proposer.error else ""
            return f"put {PROPOSALS}={args['value']!r} through n{node}: {outcome}{why}"
        running = cluster.members[node].up
        if (action.kind, running) in (("crash", False), ("restart", True)):
            return f"n{node} is already {'running' if running else 'down'}: nothing done"
        getattr(cluster, action.kind)(node)
        return f"n{node} {DONE[action.kind]}"

    def start_clients(self, args: dict) -> str:
        self.stop_clients()
        if not args["count"]:
            return "clients stopped"
        urls = {i: m.client_url for i, m in self.cluster.members.items()}
        self.workload = Workload(
            urls,
            self.history,
            clients=args["count"],
            keys=args.get("keys", 2),
            rate=args.get("rate", 10),
            reads=self.reads,
            seed=self.seed,
        ).start()
        return f"{args['count']} clients run the workload ({self.reads} reads)"

    def stop_clients(self) -> None:
        if self.workload is not None:
            self.workload.stop()
            self.workload = None
