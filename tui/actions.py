"""User actions that would change nothing: the app says so instead of taking them.

Every action is a step of the timeline, and at an earlier step it forks a new future; one that
changes nothing (healing a whole network, a campaign on a crashed node) would throw the future
away for no effect. `no_op` reads the engine's state and gives the reason, or "".
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from engines.core.sim import Simulator


def resulting_groups(groups: list[list[int]], node_ids: list[int]) -> list[list[int]]:
    """The partition groups as the network keeps them: unlisted nodes alone, in node order."""
    listed = {n for group in groups for n in group}
    every = [sorted(group) for group in groups] + [[n] for n in node_ids if n not in listed]
    return sorted(every, key=min)


def no_op(sim: Simulator, kind: str, args: dict[str, Any]) -> str:
    """Why the action `kind` with `args` (as Simulator's methods take them) would change
    nothing now; "" when it would change something."""
    node = args.get("node")
    net = sim.network
    match kind:
        case "heal" if len(net.groups()) == 1:
            return "the network is whole: nothing to heal"
        case "campaign" | "propose" if not sim.is_up(node):
            return f"n{node} is down: restart it first"
        case "campaign" if sim.protocol.name == "raft" and sim.nodes[node].is_leader:
            return f"n{node} already leads"
        case "isolate" if [node] in net.groups():
            return f"n{node} is already cut off alone"
        case "partition" if resulting_groups(args["groups"], sim.node_ids) == net.groups():
            return "the network is already split that way"
        case "remove" | "promote":
            return sim.membership_refusal(kind, args["nodes"], args["via"])
        case "clients" if not sim.world.clients.changes(**args):
            running = sim.world.clients.running()
            return f"{running} clients run that workload already" if running else "no clients run"
        case "set_network" if "link" not in args and not net.links:
            if replace(net.default, **args) == net.default:
                return "those are the network settings already"
    return ""
