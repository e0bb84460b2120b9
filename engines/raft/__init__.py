"""Raft: the node, its messages and its invariants, registered as one protocol."""

from engines.core.protocols import Protocol
from engines.raft import messages
from engines.raft.config import MODES
from engines.raft.invariants import make_checkers
from engines.raft.node import BUGS, DEFAULT_CONFIG, READ_PATHS, RaftNode

PROTOCOL = Protocol(
    "raft",
    RaftNode,
    make_checkers,
    DEFAULT_CONFIG,
    BUGS,
    messages=(
        messages.RequestVote,
        messages.VoteReply,
        messages.PreVote,
        messages.PreVoteReply,
        messages.AppendEntries,
        messages.AppendReply,
        messages.InstallSnapshot,
        messages.SnapshotReply,
        messages.TimeoutNow,
        messages.Forward,
    ),
    roles=("leader", "follower", "candidate", "precandidate"),
    choices={"read": READ_PATHS, "membership": MODES},
    membership=True,
)
