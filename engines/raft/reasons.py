"""Raft's notes: each kind of decision a node notes, as one plain sentence naming the rule and
its section of the paper (Ongaro and Ousterhout) or of Ongaro's dissertation. The node notes
the facts (`RaftNode.note(kind, **fields)`); the sentence is written here, once."""

from __future__ import annotations

from engines.core.node import count, node_names, reasons_table

REASONS, reason = reasons_table()


def last(pair) -> str:
    return f"last term {pair[0]}, index {pair[1]}"


# --- roles ------------------------------------------------------------------------------------
@reason("role", "role")
def _role(n, f) -> str:
    became = f"n{n} became {f['role'].upper()} in term {f['term']}"
    why = f.get("why")
    if why == "higher_term":
        return (
            f"{became}: n{f['src']}'s {f['msg']} carries term {f['term']} > its term "
            f"{f['old_term']}, and a higher term makes any node a follower (§5.1)"
        )
    if why == "leader":
        return f"{became}: n{f['src']} leads term {f['term']} (§5.2)"
    if why == "removed":
        return f"{became}: the configuration that removes it committed (dissertation 4.2.2)"
    if why == "lost_quorum":
        return f"{became}: it lost contact with a majority (CheckQuorum, dissertation 6.2)"
    if why == "elected":
        votes = f["votes"]
        voters = node_names(sorted(votes), ", ")
        return (
            f"{became} with votes from {voters} ({len(votes)} of {f['cluster']}, "
            f"a majority is {f['majority']}, §5.2)"
        )
    return became


@reason("new_election", "role")
def _new_election(n, f) -> str:
    return f"n{n} starts a new election in term {f['term']}: no leader won the last one (§5.2)"


@reason("prevote_asked", "info")
def _prevote_asked(n, f) -> str:
    return f"n{n} asks for pre-votes for term {f['term']} (PreVote, dissertation 9.6)"


# --- votes ------------------------------------------------------------------------------------
@reason("vote_granted", "info")
def _vote_granted(n, f) -> str:
    return (
        f"n{n} votes for n{f['candidate']} in term {f['term']}: its first vote this term, "
        f"and the candidate's log is at least as up to date (§5.2, §5.4.1)"
    )


@reason("vote_refused", "reject")
def _vote_refused(n, f) -> str:
    return f"n{n} refuses its vote to n{f['candidate']} in term {f['term']}: " + refusal(n, f)


@reason("prevote_granted", "info")
def _prevote_granted(n, f) -> str:
    return f"n{n} grants n{f['candidate']} a pre-vote for term {f['term']} (dissertation 9.6)"


@reason("prevote_refused", "reject")
def _prevote_refused(n, f) -> str:
    return f"n{n} refuses n{f['candidate']} a pre-vote for term {f['term']}: " + refusal(n, f)


def refusal(n, f) -> str:
    why = f["reason"]
    if why == "voted":
        whom = "itself" if f["voted_for"] == n else f"n{f['voted_for']}"
        return f"it already voted for {whom} in term {f['term']} (one vote per term, §5.2)"
    if why == "log_behind":
        return (
            f"the candidate's log ({last(f['their_last'])}) is less up to date than its own "
            f"({last(f['our_last'])}) (§5.4.1)"
        )
    if why == "stale_term":
        return f"term {f['term']} is stale, it is in term {f['our_term']} (§5.1)"
    leader = f["leader"]  # a lease: whose, and why it still stands
    if leader == n:
        return "it leads, and its lease stands (dissertation 4.2.3, 6.4.1)"
    if leader is None:
        return "it may still be inside a lease it granted before a restart (dissertation 6.4.1)"
    return (
        f"it heard from leader n{leader} less than an election timeout ago, and a live "
        f"leader's lease stands (PreVote/CheckQuorum, dissertation 4.2.3)"
    )


# --- replication ------------------------------------------------------------------------------
@reason("append_rejected", "reject")
def _append_rejected(n, f) -> str:
    head = f"n{n} rejects n{f['leader']}'s AppendEntries"
    why = f["reason"]
    if why == "stale_term":
        return (
            f"{head} of term {f['term']}: the term is stale, it is in term {f['our_term']} (§5.1)"
        )
    prev = f["prev_index"]
    if why == "missing":
        return (
            f"{head}: it has no entry at prevLogIndex {prev} (its log ends at {f['last_index']}), "
            f"so the logs may differ before it (§5.3)"
        )
    return (
        f"{head}: the entry at prevLogIndex {prev} is of term {f['our_term']}, not "
        f"{f['prev_term']} (§5.3)"
    )


@reason("entries_deleted", "reject")
def _entries_deleted(n, f) -> str:
    first, last, terms = f["first"], f["last"], f["terms"]
    entries = f"entries {first}-{last}" if last > first else f"entry {first}"
    of_terms = ("term " if len(terms) == 1 else "terms ") + ", ".join(map(str, terms))
    verb = "conflict" if last > first else "conflicts"
    return (
        f"n{n} deleted {entries} ({of_terms}), which {verb} with the leader's entry {first} of "
        f"term {f['leader_term']} (§5.3)"
    )


@reason("commit", "commit")
def _commit(n, f) -> str:
    return (
        f"n{n} commits up to index {f['index']} in term {f['term']}: it is on a majority and "
        f"of the current term (§5.3, §5.4.2)"
    )


@reason("commit_held", "info")
def _commit_held(n, f) -> str:
    return (
        f"n{n} holds back index {f['index']}: it is on a majority but is from term "
        f"{f['entry_term']} < current term {f['term']}: not committed until an entry of term "
        f"{f['term']} is (§5.4.2, Figure 8)"
    )


# --- log compaction ---------------------------------------------------------------------------
@reason("snapshot_taken", "info")
def _snapshot_taken(n, f) -> str:
    return (
        f"n{n} snapshots its state machine at index {f['index']} (term {f['term']}) and drops "
        f"its log up to there, keeping {count(f['kept'], 'entries')} after it (§7)"
    )


@reason("snapshot_installed", "commit")
def _snapshot_installed(n, f) -> str:
    head = (
        f"n{n} installs n{f['leader']}'s snapshot at index {f['index']} (term {f['term']}): its "
        f"state machine restarts from it"
    )
    if f["kept"]:
        return (
            f"{head}, and it keeps the {count(f['kept'], 'entries')} after it: its entry at "
            f"{f['index']} is of term {f['term']} too (§7)"
        )
    if f["dropped"]:
        return f"{head}, and it drops the {count(f['dropped'], 'entries')} after it (§7)"
    return f"{head}, with no log after it (§7)"


@reason("snapshot_rejected", "reject")
def _snapshot_rejected(n, f) -> str:
    return (
        f"n{n} rejects n{f['leader']}'s InstallSnapshot of term {f['term']}: the term is stale, "
        f"it is in term {f['our_term']} (§5.1, §7)"
    )


@reason("snapshot_ignored", "reject")
def _snapshot_ignored(n, f) -> str:
    return (
        f"n{n} ignores n{f['leader']}'s snapshot at index {f['index']}: it has applied up to "
        f"{f['commit']} already, and a stale snapshot must not discard newer entries (§7)"
    )


# --- proposals and leadership -----------------------------------------------------------------
@reason("forward", "info")
def _forward(n, f) -> str:
    return f"n{n} forwards {f['proposal']} to leader n{f['leader']}"


@reason("proposal_rejected", "reject")
def _proposal_rejected(n, f) -> str:
    why = f["reason"]
    if why == "no_leader":
        text = "knows no leader"
    elif why == "transfer":
        text = f"is handing leadership to n{f['target']}"
    else:  # not_leader
        text = f"is not the leader (forwarded by n{f['src']})"
    return f"n{n} {text}: proposal {f['proposal']} {f['value']!r} rejected"


@reason("already_leader", "info")
def _already_leader(n, f) -> str:
    return f"n{n} already leads term {f['term']}"


@reason("lease_wait", "info")
def _lease_wait(n, f) -> str:
    return f"n{n} waits out the leader's lease (6.4.1)"


@reason("takes_over", "info")
def _takes_over(n, f) -> str:
    return f"n{n} takes over from n{f['leader']} (TimeoutNow, dissertation 3.10)"


@reason("transfer", "info")
def _transfer(n, f) -> str:
    return f"n{n} hands leadership to n{f['target']} (dissertation 3.10)"


@reason("transfer_abandoned", "info")
def _transfer_abandoned(n, f) -> str:
    return f"n{n} gives up handing leadership to n{f['target']}"


# --- membership (dissertation chapter 4) --------------------------------------------------------
CHANGE_REFUSALS = {
    "not_leader": "it is not the leader",
    "pending": "an earlier configuration change is not committed yet (one at a time, 4.1)",
    "term_uncommitted": "no entry of its term has committed yet (Ongaro's 2015 fix, 4.1)",
    "member": "already a member",
    "not_member": "not a member",
    "not_learner": "not a learner: a server joins as a learner and is promoted from there",
    "behind": "it has not yet heard that the learner caught up: the learner's match index is "
    "below the commit index (4.2.1)",
    "last_voter": "it would leave no voter",
    "one_at_a_time": "single-server mode changes one voter at a time (4.1; joint mode does more)",
}


@reason("config_refused", "reject")
def _config_refused(n, f) -> str:
    changed = node_names(sorted(f["nodes"]), ", ")
    return f"n{n} refuses to {f['change']} {changed}: {CHANGE_REFUSALS[f['reason']]}"


@reason("config_appended", "info")
def _config_appended(n, f) -> str:
    return (
        f"n{n} appends configuration {f['config']} at index {f['index']}: in force at once, "
        f"before it commits (dissertation 4.1)"
    )


@reason("config_committed", "commit")
def _config_committed(n, f) -> str:
    return f"n{n}: configuration {f['config']} at index {f['index']} is committed"


@reason("not_voter", "info")
def _not_voter(n, f) -> str:
    return f"n{n} is not a voter of its configuration ({f['config']}): it does not campaign"
