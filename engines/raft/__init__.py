"""Raft: the node, its messages and its invariants, registered as one protocol."""

from engines.core.protocols import Protocol
from engines.raft.invariants import make_checkers
from engines.raft.node import BUGS, DEFAULT_CONFIG, RaftNode

PROTOCOL = Protocol("raft", RaftNode, make_checkers, DEFAULT_CONFIG, BUGS)
