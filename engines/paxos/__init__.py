"""Multi-Paxos: the node, its messages and its invariants, registered as one protocol."""

from engines.core.protocols import Protocol
from engines.paxos.invariants import make_checkers
from engines.paxos.node import BUGS, PaxosNode, default_config

PROTOCOL = Protocol("paxos", PaxosNode, make_checkers, default_config, BUGS)
