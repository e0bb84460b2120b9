"""Multi-Paxos: the node, its messages and its invariants, registered as one protocol."""

from engines.core.protocols import Protocol
from engines.paxos import messages
from engines.paxos.invariants import make_checkers
from engines.paxos.node import BUGS, PaxosNode, default_config

PROTOCOL = Protocol(
    "paxos",
    PaxosNode,
    make_checkers,
    default_config,
    BUGS,
    messages=(
        messages.Prepare,
        messages.Promise,
        messages.Nack,
        messages.Accept,
        messages.Accepted,
        messages.Chosen,
        messages.Heartbeat,
        messages.CatchUp,
        messages.Forward,
    ),
    roles=("leader", "proposer", "acceptor"),
)
