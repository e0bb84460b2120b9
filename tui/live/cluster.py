"""An etcd cluster of our own: members on free loopback ports, each with a temporary data
folder, and a peer proxy in front of each so links can be cut without root.

Each member listens for peers on a private port and advertises its proxy's port instead, so
every peer connection passes through the proxy of the member it goes to (see proxy.py).
Crash is SIGKILL; restart starts the same command on the same data folder, which etcd reads
back from its write-ahead log.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from tui.live.proxy import Links, PeerProxy, member_id

HOST = "127.0.0.1"
ETCD_INSTALL = "apt-get install etcd-server"
# Short timings keep elections quick on loopback; etcd's defaults (100 ms, 1 s) suit WANs.
HEARTBEAT_MS = 50
ELECTION_MS = 500
EXIT_WAIT_S = 5.0


class EtcdMissing(Exception):
    """No etcd binary where we looked: str() says how to get one."""


def find_etcd(path: str | None = None) -> str:
    """The etcd binary: `path` if given, else `etcd` on PATH."""
    found = shutil.which(path or "etcd")
    if found is None:
        where = f"no etcd binary at {path}" if path else "no etcd binary on PATH"
        raise EtcdMissing(f"{where}: install it ({ETCD_INSTALL}) or pass --etcd PATH")
    return found


def free_ports(count: int) -> list[int]:
    """`count` different loopback ports, free now: all are held open until all are chosen,
    so none comes twice. Another process may take one before etcd binds it; that is rare,
    and a start that fails says so (no leader, with etcd's last log lines)."""
    with contextlib.ExitStack() as stack:
        socks = [stack.enter_context(socket.socket()) for _ in range(count)]
        for sock in socks:
            sock.bind((HOST, 0))
        return [sock.getsockname()[1] for sock in socks]


@dataclass
class Member:
    """One etcd member: its name (n1, n2, ...), ports, data folder and process."""

    node_id: int
    client_port: int
    peer_port: int  # etcd listens here; only its proxy connects
    proxy_port: int  # advertised to the other members
    data_dir: Path
    log_path: Path
    process: subprocess.Popen | None = None
    proxy: PeerProxy | None = field(default=None, repr=False)

    @property
    def name(self) -> str:
        return f"n{self.node_id}"

    @property
    def client_url(self) -> str:
        return f"http://{HOST}:{self.client_port}"

    @property
    def advertised_peer_url(self) -> str:
        return f"http://{HOST}:{self.proxy_port}"

    @property
    def up(self) -> bool:
        return self.process is not None and self.process.poll() is None


def _die_with_parent() -> None:
    """In the child before exec: SIGKILL it if the thread that started it ends, so a killed
    test run or app leaves no etcd behind (Linux prctl PR_SET_PDEATHSIG)."""
    import ctypes

    # Not Linux (no prctl): the cluster's close() still kills every member.
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None).prctl(1, signal.SIGKILL)


class Cluster:
    """A running cluster. Use as a context manager: leaving it kills every member and
    removes the data folders, however it is left."""

    def __init__(self, nodes: int = 3, etcd: str | None = None) -> None:
        self.etcd = find_etcd(etcd)
        ports = iter(free_ports(3 * nodes))
        self.root = Path(tempfile.mkdtemp(prefix="consensus-tui-live-"))
        self.token = f"consensus-tui-{os.getpid()}-{id(self):x}"
        self.links = Links()
        self.members = {
            i: Member(
                i,
                next(ports),
                next(ports),
                next(ports),
                self.root / f"n{i}",
                self.root / f"n{i}.log",
            )
            for i in range(1, nodes + 1)
        }
        self.member_ids = {
            i: member_id(m.advertised_peer_url, self.token) for i, m in self.members.items()
        }
        # Processes are started from one long-lived thread: the death signal above fires
        # when the starting thread ends, and a UI worker thread ends after each action.
        self._launcher = ThreadPoolExecutor(1, thread_name_prefix="etcd-launcher")

    @property
    def node_ids(self) -> list[int]:
        return sorted(self.members)

    def __enter__(self) -> Cluster:
        try:
            self.start()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def start(self) -> None:
        self.links.name_members(self.member_ids)
        for member in self.members.values():
            member.proxy = PeerProxy(
                member.node_id, member.proxy_port, member.peer_port, self.links
            )
            member.proxy.start()
        for node_id in self.node_ids:
            self.restart(node_id)

    def command(self, member: Member) -> list[str]:
        cluster = ",".join(f"{m.name}={m.advertised_peer_url}" for m in self.members.values())
        return [
            self.etcd,
            f"--name={member.name}",
            f"--data-dir={member.data_dir}",
            f"--listen-client-urls={member.client_url}",
            f"--advertise-client-urls={member.client_url}",
            f"--listen-peer-urls=http://{HOST}:{member.peer_port}",
            f"--initial-advertise-peer-urls={member.advertised_peer_url}",
            f"--initial-cluster={cluster}",
            f"--initial-cluster-token={self.token}",
            "--initial-cluster-state=new",
            f"--heartbeat-interval={HEARTBEAT_MS}",
            f"--election-timeout={ELECTION_MS}",
            "--logger=zap",
            "--log-outputs=stderr",
        ]

    def crash(self, node_id: int) -> None:
        """SIGKILL: no goodbye to the peers, no leadership transfer, no flush beyond what
        etcd has already synced to its WAL."""
        member = self.members[node_id]
        if member.up:
            member.process.kill()
            member.process.wait(EXIT_WAIT_S)

    def restart(self, node_id: int) -> None:
        """Start the member on its data folder (new on the first start)."""
        member = self.members[node_id]
        if member.up:
            return
        self._launcher.submit(self._spawn, member).result()

    def _spawn(self, member: Member) -> None:
        with open(member.log_path, "ab") as log:
            member.process = subprocess.Popen(
                self.command(member),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                preexec_fn=_die_with_parent,
            )

    def isolate(self, node_id: int) -> None:
        self.partition([[node_id], [i for i in self.node_ids if i != node_id]])

    def partition(self, groups: list[list[int]]) -> None:
        """Cut every link between groups; nodes not named form a group of their own."""
        named = {n for group in groups for n in group}
        rest = [n for n in self.node_ids if n not in named]
        self.links.partition([*groups, rest] if rest else groups)
        self._drop_cut_connections()

    def heal(self) -> None:
        self.links.heal()

    def _drop_cut_connections(self) -> None:
        for member in self.members.values():
            member.proxy.drop_cut()

    def close(self) -> None:
        """Kill every member, wait for each to exit, then remove the data folders."""
        for member in self.members.values():
            if member.process is not None and member.process.poll() is None:
                member.process.kill()
        deadline = time.monotonic() + EXIT_WAIT_S
        for member in self.members.values():
            if member.process is not None:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    member.process.wait(max(0.1, deadline - time.monotonic()))
            if member.proxy is not None:
                member.proxy.close()
        self._launcher.shutdown(wait=True)
        shutil.rmtree(self.root, ignore_errors=True)

    def log_tail(self, node_id: int, lines: int = 5) -> list[str]:
        """The last lines etcd wrote, to say why a member would not start."""
        try:
            text = self.members[node_id].log_path.read_text(errors="replace")
        except OSError:
            return []
        return text.splitlines()[-lines:]
