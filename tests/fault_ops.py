"""Random fault schedules for the property tests of both engines (hypothesis strategies)."""

from __future__ import annotations

from hypothesis import strategies as st

from engines.core.sim import Simulator

# Each op kind is listed as often as it should come up.
KINDS = ["run"] * 4 + ["propose"] * 4 + ["crash", "restart", "partition", "isolate", "heal"]
KINDS += ["campaign", "net"]


@st.composite
def op(draw, n: int, sides: int) -> tuple:
    """One fault or client op on an n-node cluster; partitions cut it into up to `sides`."""
    kind = draw(st.sampled_from(KINDS))
    node = st.integers(1, n)
    match kind:
        case "run":
            return (kind, draw(st.integers(10, 500)))
        case "propose":
            return (kind, draw(node), draw(st.integers(0, 9)))
        case "partition":
            return (kind, draw(st.lists(st.integers(0, sides - 1), min_size=n, max_size=n)))
        case "net":
            return (kind, draw(st.sampled_from([0.0, 0.1, 0.3])), draw(st.sampled_from([0, 0.2])))
        case "heal":
            return (kind,)
        case _:
            return (kind, draw(node))


def apply(sim: Simulator, op: tuple, count: int) -> None:
    kind, *args = op
    if kind == "run":
        sim.run(args[0])
    elif kind == "propose":
        sim.propose(f"set k{args[1]} v{count}", args[0])
    elif kind == "partition":
        labels = sorted(set(args[0]))
        sides = [[i + 1 for i, side in enumerate(args[0]) if side == s] for s in labels]
        sim.partition(sides)
    elif kind == "net":
        sim.set_network(drop=args[0], dup=args[1])
    elif kind == "heal":
        sim.heal()
    else:
        getattr(sim, kind)(args[0])


def run_faults_then_stop(sim: Simulator, ops: list[tuple]) -> None:
    """The safety phase (invariants must hold after every op), then the faults stop: the
    network heals, every node restarts and messages are no longer lost or duplicated."""
    for count, fault in enumerate(ops):
        apply(sim, fault, count)
        assert sim.violation is None, str(sim.violation)
    sim.heal()
    sim.restart_all()
    sim.set_network(drop=0.0, dup=0.0)
