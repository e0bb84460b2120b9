"""Scenario scripts against the real cluster: the simulator's script language, the lines that
mean something live (docs/live.md says which).

The script is parsed by the lab's parser (engines/lab/script.py), so its syntax and its
FILE:LINE errors are the same; then every line that has no live meaning is refused before any
process starts. Time is real: `run 2s` waits two seconds, `within 5s` polls for up to five.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from engines.core.actions import ActionError
from engines.lab.lincheck.search import Result, Verdict, check
from engines.lab.script import Command, Count, Expectation, Outcome, Script, ScriptError
from tui.live.session import LIVE_ACTIONS, NoLeader, Session
from tui.live.status import LeaderChange, MemberStatus, Snapshot

LIVE_EXPECTATIONS = {"leader", "role", "term", "linearizable", "not"}
CHECK_BUDGET_S = 10.0
ROLES = ("leader", "follower", "crashed")


def check_live(script: Script) -> None:
    """Refuse, as FILE:LINE, any line that means nothing against a real etcd cluster."""
    if script.algo != "raft":
        raise ScriptError(script.file, 0, "live mode runs etcd's Raft: 'algo paxos' cannot run")
    if script.config:
        raise ScriptError(
            script.file, 0, "bugs and protocol options are the simulator's: etcd runs its own Raft"
        )
    for command in script.commands:
        problem = _live_problem(command)
        if problem:
            raise ScriptError(script.file, command.line, problem)


def _live_problem(command: Command) -> str | None:
    if command.name in ("run", "clients"):
        return None
    if command.name == "expect":
        kind = command.args[0].kind
        if kind not in LIVE_EXPECTATIONS:
            return f"'expect {kind}' cannot be observed live (see docs/live.md)"
        if kind == "role" and command.args[0].params["role"] not in ROLES:
            return f"etcd's status shows only {', '.join(ROLES)}"
        return None
    if command.name in ("step", "mark", "save") or command.args[0].kind not in LIVE_ACTIONS:
        return f"'{command.name}' has no live meaning (see docs/live.md)"
    return None


@dataclass
class LiveResult:
    script: Script
    outcomes: list[Outcome] = field(default_factory=list)
    error: str | None = None
    changes: list[LeaderChange] = field(default_factory=list)
    operations: int = 0
    verdict: Result | None = None  # None: no client operation was recorded
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        """Every expectation held, and the history is linearizable or was expected not to be
        (an `expect not linearizable` that held, as `expect violation` in simulation)."""
        expected_not = any(o.ok and o.expects_violation for o in self.outcomes)
        verdict = self.verdict.verdict if self.verdict else Verdict.LINEARIZABLE
        judged_ok = verdict is Verdict.LINEARIZABLE or (
            verdict is Verdict.NOT_LINEARIZABLE and expected_not
        )
        return not any(not o.ok for o in self.outcomes) and self.error is None and judged_ok

    def summary(self) -> dict:
        """The report's facts, for `live --script` (printed, or as JSON)."""
        verdict, blocked = self.verdict, self.verdict and self.verdict.blocked
        return {
            "ok": self.ok,
            "seconds": round(self.seconds, 3),
            "leader_changes": [
                {"at_s": round(c.at, 3), "leader": c.leader and f"n{c.leader}", "term": c.term}
                for c in self.changes
            ],
            "operations": self.operations,
            "verdict": str(verdict.verdict) if verdict else None,
            "cannot_place": blocked.describe() if blocked else None,
            "error": self.error,
            "expectations": [
                {"line": o.line, "expect": o.text, "ok": o.ok, "observed": o.observed}
                for o in self.outcomes
            ],
        }


def run_live(script: Script, session: Session) -> LiveResult:
    """Run a checked script (check_live) in a live session."""
    result = LiveResult(script)
    runner = _LiveRunner(result, session)
    started = time.monotonic()
    try:
        for command in script.commands:
            try:
                runner.execute(command)
            except (NoLeader, ActionError) as stop:
                result.error = f"{script.file}:{command.line}: {stop}"
                break
    finally:
        session.stop_clients()
    result.seconds = time.monotonic() - started
    result.changes = list(session.poller.changes)
    operations = session.history.operations()
    result.operations = len(operations)
    if operations:
        deadline = time.monotonic() + CHECK_BUDGET_S
        result.verdict = check(operations, lambda: time.monotonic() > deadline)
    return result


class _LiveRunner:
    def __init__(self, result: LiveResult, session: Session) -> None:
        self.result = result
        self.session = session

    def execute(self, command: Command) -> None:
        self.command = command
        if command.name == "run":
            time.sleep(command.args[0] / 1000)
        elif command.name == "expect":
            self.expect(command.args[0])
        else:
            self.session.act(command.args[0])

    def node(self, ref: int | str) -> int:
        return self.session.node(ref)

    def expect(self, expectation: Expectation) -> None:
        check_now = getattr(self, f"expect_{expectation.kind}")
        params = expectation.params
        poller = self.session.poller
        ok, observed = check_now(poller.snapshot(), **params)
        if expectation.within is not None and not ok:
            waited = poller.wait_for(lambda s: check_now(s, **params)[0], expectation.within / 1000)
            ok, observed = check_now(waited or poller.snapshot(), **params)
            if not ok:
                observed = f"after {expectation.within / 1000:g} s still {observed}"
        line, text = self.command.line, self.command.text
        outcome = Outcome(line, text, ok, observed, expectation.kind == "not")
        self.result.outcomes.append(outcome)

    # Each expectation returns (held, what was observed), like the simulator's.
    def expect_leader(
        self, snapshot: Snapshot, mode: str, nodes: list, among: list | None
    ) -> tuple[bool, str]:
        leader = snapshot.leader()
        if among is not None:
            scope = {self.node(n) for n in among}
            leaders = [m for m in snapshot.members if m.role == "leader" and m.node_id in scope]
            leader = max(leaders, key=lambda m: m.term or 0, default=None)
        observed = f"leader is n{leader.node_id} in term {leader.term}" if leader else "no leader"
        if mode == "any":
            return leader is not None, observed
        if mode == "none":
            return leader is None, observed
        wanted = {self.node(n) for n in nodes}
        return leader is not None and leader.node_id in wanted, observed

    def expect_role(self, snapshot: Snapshot, node: int | str, role: str) -> tuple[bool, str]:
        member = self.member(snapshot, node)
        actual = "crashed" if member.state == "down" else member.role or member.state
        return actual == role, f"n{member.node_id} is {actual}"

    def expect_term(self, snapshot: Snapshot, node: int | str, count: Count) -> tuple[bool, str]:
        member = self.member(snapshot, node)
        if member.term is None:
            return False, f"n{member.node_id} is {member.state}"
        return count.holds(member.term), f"n{member.node_id} is in term {member.term}"

    def member(self, snapshot: Snapshot, node: int | str) -> MemberStatus:
        return snapshot.members[self.node(node) - 1]

    def expect_linearizable(self, snapshot: Snapshot) -> tuple[bool, str]:
        result = check(self.session.history.operations())
        if result.blocked is None:
            return result.verdict is Verdict.LINEARIZABLE, f"{result.verdict} history"
        return False, f"not linearizable: {result.blocked.describe()} cannot be placed"

    def expect_not(self, snapshot: Snapshot) -> tuple[bool, str]:
        ok, observed = self.expect_linearizable(snapshot)
        return not ok, observed
