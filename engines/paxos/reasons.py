"""Multi-Paxos's notes: each kind of decision a node notes, as one plain sentence naming the
rule, from "Paxos Made Simple" (PMS) or "Paxos Made Moderately Complex" (PMMC). The node notes
the facts (`PaxosNode.note(kind, **fields)`); the sentence is written here, once."""

from __future__ import annotations

from engines.core.node import node_names, reasons_table
from engines.paxos.messages import ZERO, show_ballot, show_field

REASONS, reason = reasons_table()


@reason("phase1", "role")
def _phase1(n, f) -> str:
    return f"n{n} starts phase 1 with ballot {show_ballot(f['ballot'])} ({f['why']})"


@reason("leads", "role")
def _leads(n, f) -> str:
    return (
        f"n{n} leads with ballot {show_ballot(f['ballot'])}: promises from "
        f"{node_names(sorted(f['promises']), ', ')}, a majority (PMS phase 1)"
    )


@reason("promise", "info")
def _promise(n, f) -> str:
    promised = f["promised"]
    if promised == ZERO:
        why = "it had promised no ballot yet"
    else:
        why = f"it is not below its promise {show_ballot(promised)}"
    return f"n{n} promises ballot {show_ballot(f['ballot'])}: {why} (PMS phase 1b)"


@reason("nack", "reject")
def _nack(n, f) -> str:
    return (
        f"n{n} refuses n{f['proposer']}'s {f['msg']} of ballot {show_ballot(f['ballot'])}: it "
        f"promised the higher ballot {show_ballot(f['promised'])} (PMS phases 1b and 2b)"
    )


@reason("adopted", "info")
def _adopted(n, f) -> str:
    return (
        f"slot {f['slot']} takes {show_field(f['value'])} accepted in ballot "
        f"{show_ballot(f['accepted_in'])} by n{f['acceptor']}: the highest ballot among the "
        f"promises (pmax, PMS phase 2a)"
    )


@reason("hole", "info")
def _hole(n, f) -> str:
    return (
        f"slot {f['slot']} is a hole, accepted by none of the promises: n{n} fills it with a "
        f"no-op (PMS, a new leader's gaps)"
    )


@reason("chosen", "commit")
def _chosen(n, f) -> str:
    return (
        f"slot {f['slot']} chosen: {show_field(f['value'])}, accepted by a majority "
        f"({node_names(sorted(f['acceptors']), ', ')}) in ballot {show_ballot(f['ballot'])}"
    )


@reason("preempted", "reject")
def _preempted(n, f) -> str:
    return (
        f"n{n} preempted: ballot {show_ballot(f['ballot'])} < {show_ballot(f['higher'])}, "
        f"and a higher ballot wins (PMMC)"
    )


@reason("repeat", "info")
def _repeat(n, f) -> str:
    return f"slot {f['slot']} repeats {f['proposal']}: applied as a no-op"
