"""A deliberately unsafe protocol for the TUI tests: every node applies a proposal the moment
it hears of it, in arrival order, with no agreement at all. Two proposals made at once reach
nodes in different orders, the chains diverge, and the checker reports it."""

from __future__ import annotations

from echo import Echo, EchoNode, Gossip, Ping

from engines.core.node import Message, Proposal
from engines.core.protocols import Protocol
from engines.core.violations import Violation


class BrokenNode(EchoNode):
    algo = "broken"

    def on_message(self, now: int, src: int, msg: Message) -> None:
        if isinstance(msg, Gossip):
            self.sm.apply(msg.proposal.id, msg.proposal.value, msg.proposal.proposed_at)
        elif isinstance(msg, Ping):
            self.send(src, Echo(msg.n))

    def on_propose(self, now: int, proposal: Proposal) -> None:
        self.sm.apply(proposal.id, proposal.value, proposal.proposed_at)
        self.broadcast(Gossip(proposal))


class ChainAgreement:
    """Two nodes must never hold different blocks at the same index. Checked when a message is
    delivered, so the violation shows up while the run plays, not on the proposal itself."""

    def check(self, sim, event) -> Violation | None:
        if event.kind != "deliver":
            return None
        mine = sim.nodes[event.node].sm.chain
        for other in sim.nodes.values():
            theirs = other.sm.chain
            index = min(len(mine), len(theirs)) - 1
            if other.id != event.node and mine[index].hash != theirs[index].hash:
                return Violation(
                    "chain-agreement",
                    event.step,
                    f"n{event.node} and n{other.id} hold different blocks at #{index}",
                )
        return None


def make_checkers(n: int) -> list:
    return [ChainAgreement()]


BROKEN = Protocol("broken", BrokenNode, make_checkers, {"period": 100})
