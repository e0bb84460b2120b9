"""A tiny protocol written for the simulator's tests: pings and echoes, plus a client log.

Each node pings every peer every `period` ms and answers pings with echoes. A proposal is
broadcast and applied on receipt, so the chain shows what arrived. Persistent state: a counter
of pings sent, which must survive a crash.
"""

from __future__ import annotations

from dataclasses import dataclass

from engines.core.node import Message, Node, Proposal
from engines.core.protocols import Protocol


@dataclass
class EchoPersistent:
    pings_sent: int = 0


@dataclass
class Ping(Message):
    short = "PING"
    n: int


@dataclass
class Echo(Message):
    short = "ECHO"
    n: int


@dataclass
class Gossip(Message):
    short = "GOS"
    proposal: Proposal


class EchoNode(Node):
    def new_persistent(self) -> EchoPersistent:
        return EchoPersistent()

    def start(self, now: int) -> None:
        self.echoes = 0
        self.pings_received = 0
        self.set_timer("ping", self.config["period"] + self.rng.randint(0, 10))

    def on_timer(self, now: int, name: str) -> None:
        self.persistent.pings_sent += 1
        self.broadcast(Ping(self.persistent.pings_sent))
        self.set_timer("ping", self.config["period"])

    def on_message(self, now: int, src: int, msg: Message) -> None:
        if isinstance(msg, Ping):
            self.pings_received += 1
            self.send(src, Echo(msg.n))
        elif isinstance(msg, Echo):
            self.echoes += 1
        elif isinstance(msg, Gossip):
            self.sm.apply(msg.proposal.id, msg.proposal.value, msg.proposal.proposed_at)

    def on_propose(self, now: int, proposal: Proposal) -> None:
        self.sm.apply(proposal.id, proposal.value, proposal.proposed_at)
        self.broadcast(Gossip(proposal))

    def on_campaign(self, now: int) -> None:
        self.on_timer(now, "ping")

    def describe(self, recent: int | None = None) -> dict:
        return {"echoes": self.echoes, "pings_received": self.pings_received}


ECHO = Protocol("echo", EchoNode, lambda n: [], {"period": 100}, messages=(Ping, Echo, Gossip))
