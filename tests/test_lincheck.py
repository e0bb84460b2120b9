"""The linearizability checker: classic histories, public examples, and agreement with a brute
force search over every order on thousands of random small histories."""

import random

from hypothesis import given, settings
from hypothesis import strategies as st

from engines.lab.lincheck.generate import random_history
from engines.lab.lincheck.history import Event, operations
from engines.lab.lincheck.search import Verdict, check


def ops_of(*events, keyed=False):
    """Events written as (process, type, f, value), one per line, in real-time order."""
    numbered = [Event(line, *fields) for line, fields in enumerate(events, 1)]
    return operations(numbered, "<test>", keyed=keyed, with_cas=True)


def verdict(*events, keyed=False):
    return check(ops_of(*events, keyed=keyed)).verdict


OK, NOT = Verdict.LINEARIZABLE, Verdict.NOT_LINEARIZABLE


# Classic histories.


def test_a_stale_read_after_a_newer_write_completed():
    result = check(
        ops_of(
            (0, "invoke", "write", 1),
            (0, "ok", "write", 1),
            (0, "invoke", "write", 2),
            (0, "ok", "write", 2),
            (1, "invoke", "read", None),
            (1, "ok", "read", 1),
        )
    )
    assert result.verdict is NOT
    assert [op.value for op in result.prefix] == [1, 2]
    assert result.blocked.f == "read" and result.blocked.line == 5


def test_a_lost_cas_two_concurrent_cas_from_the_same_value_both_succeed():
    assert (
        verdict(
            (0, "invoke", "write", 0),
            (0, "ok", "write", 0),
            (1, "invoke", "cas", (0, 1)),
            (2, "invoke", "cas", (0, 2)),
            (1, "ok", "cas", (0, 1)),
            (2, "ok", "cas", (0, 2)),
        )
        is NOT
    )


def test_a_read_concurrent_with_a_write_may_see_either_value_but_no_other():
    def read_during_write(seen):
        return verdict(
            (0, "invoke", "write", 1),
            (1, "invoke", "read", None),
            (1, "ok", "read", seen),
            (0, "ok", "write", 1),
        )

    assert read_during_write(None) is OK  # before the write took effect
    assert read_during_write(1) is OK  # after
    assert read_during_write(2) is NOT


def test_reads_cannot_flip_back_once_a_concurrent_write_is_seen():
    assert (
        verdict(
            (0, "invoke", "write", 1),
            (1, "invoke", "read", None),
            (1, "ok", "read", 1),
            (2, "invoke", "read", None),
            (2, "ok", "read", None),
            (0, "ok", "write", 1),
        )
        is NOT
    )


def test_an_unknown_write_may_take_effect_late_or_never():
    def after_timeout(*reads):
        events = [(0, "invoke", "write", 1), (0, "info", "write", 1)]
        for value in reads:
            events += [(1, "invoke", "read", None), (1, "ok", "read", value)]
        return verdict(*events)

    assert after_timeout(None, None) is OK  # never
    assert after_timeout(None, 1, 1) is OK  # after the client gave up
    assert after_timeout(1, None) is NOT  # it cannot be undone


def test_a_failed_operation_did_not_happen():
    assert (
        verdict(
            (0, "invoke", "write", 1),
            (0, "fail", "write", 1),
            (1, "invoke", "read", None),
            (1, "ok", "read", 1),
        )
        is NOT
    )


def test_a_failed_cas_constrains_nothing_under_jepsen_semantics():
    # Porcupine's etcd model would reject this: a cas from 0 failing while the register holds 0.
    assert (
        verdict(
            (0, "invoke", "write", 0),
            (0, "ok", "write", 0),
            (1, "invoke", "cas", (0, 1)),
            (1, "fail", "cas", (0, 1)),
        )
        is OK
    )


def test_keys_are_independent_registers_and_the_violation_names_its_key():
    result = check(
        ops_of(
            (0, "invoke", "write", ("x", 1)),
            (0, "ok", "write", ("x", 1)),
            (1, "invoke", "read", ("y", None)),
            (1, "ok", "read", ("y", None)),
            (1, "invoke", "read", ("y", None)),
            (1, "ok", "read", ("y", 1)),
            keyed=True,
        )
    )
    assert result.verdict is NOT and result.key == "y" and result.keys == 2
    assert result.blocked.line == 5


def test_an_empty_history_is_linearizable():
    assert check([]).verdict is OK


def test_a_budget_that_runs_out_gives_unknown():
    events = random_history(random.Random(3), 3000, clients=5, keys=1)
    ops = operations(events, "<generated>", keyed=True, with_cas=True)
    assert check(ops, out_of_time=lambda: True).verdict is Verdict.UNKNOWN


def test_a_generated_10k_history_is_linearizable_without_recursion():
    events = random_history(random.Random(1), 10_000, clients=10, keys=1)
    ops = operations(events, "<generated>", keyed=True, with_cas=True)
    assert len(ops) > 5000 and check(ops).verdict is OK


# Public histories, written out in our own event form.


def test_porcupine_readme_register_examples():
    # anishathalye/porcupine README, "Testing linearizability": a register initialized to 0
    # (here an initial write of 0), put(100) overlapping get() -> 100 and get() -> 0.
    initial = [(9, "invoke", "write", 0), (9, "ok", "write", 0)]
    assert (
        verdict(
            *initial,
            (0, "invoke", "write", 100),
            (1, "invoke", "read", None),
            (2, "invoke", "read", None),
            (2, "ok", "read", 0),
            (1, "ok", "read", 100),
            (0, "ok", "write", 100),
        )
        is OK
    )
    # The second example: get() -> 200 returns before get() -> 0 starts, both within put(200).
    assert (
        verdict(
            *initial,
            (0, "invoke", "write", 200),
            (1, "invoke", "read", None),
            (1, "ok", "read", 200),
            (2, "invoke", "read", None),
            (2, "ok", "read", 0),
            (0, "ok", "write", 200),
        )
        is NOT
    )


def test_knossos_wgl_test_small_histories():
    # jepsen-io/knossos test/knossos/wgl_test.clj, on (register 0) (here an initial write of 0).
    initial = [(9, "invoke", "write", 0), (9, "ok", "write", 0)]
    # crash-test: a write that crashed (info) is valid.
    assert verdict(*initial, (0, "invoke", "write", 1), (0, "info", "write", 1)) is OK
    # sequential-test: reading the initial value.
    assert verdict(*initial, (0, "invoke", "read", None), (0, "ok", "read", 0)) is OK
    # preserves-indices-test: write 1 then read 2 is invalid, and the read is the culprit.
    result = check(
        ops_of(
            *initial,
            (0, "invoke", "write", 1),
            (0, "ok", "write", 1),
            (0, "invoke", "read", None),
            (0, "ok", "read", 2),
        )
    )
    assert result.verdict is NOT and result.blocked.value == 2
    # read-wrong-initial-value-test: reading 1 from a register holding 0.
    assert verdict(*initial, (0, "invoke", "read", None), (0, "ok", "read", 1)) is NOT


# Agreement with brute force.

VALUES = (0, 1, 2)


def brute_force(ops) -> bool:
    """Is there an order of all known operations and some unknown ones that respects real time
    and is legal for independent registers? Tries every such order (depth-first)."""

    def extend(order: list, state: dict) -> bool:
        placed = {id(op) for op in order}
        rest = [op for op in ops if id(op) not in placed]
        if all(not op.known for op in rest):
            return True
        for op in rest:
            returned_earlier = [o for o in rest if o.known and o.ret < op.call]
            after = apply(state, op)
            if not returned_earlier and after is not None and extend(order + [op], after):
                return True
        return False

    return extend([], {})


def apply(state: dict, op):
    """The state after `op`, or None if it is illegal; registers start as None."""
    current = state.get(op.key)
    if op.f == "read":
        return state if op.value == current else None
    if op.f == "write":
        return state | {op.key: op.value}
    expected, new = op.value
    return state | {op.key: new} if expected == current else None


@st.composite
def small_histories(draw, keys):
    """Up to 3 processes taking 10 turns: invoke when idle, otherwise complete (ok, fail, info)."""
    events, pending = [], {}
    for _ in range(draw(st.integers(0, 10))):
        process = draw(st.integers(0, 2))
        key = draw(st.sampled_from(keys))
        if process not in pending:
            f = draw(st.sampled_from(("read", "write", "cas")))
            value = {
                "read": None,
                "write": draw(st.sampled_from(VALUES)),
                "cas": (draw(st.sampled_from(VALUES)), draw(st.sampled_from(VALUES))),
            }[f]
            pending[process] = (f, key)
        else:
            f, key = pending.pop(process)
            kind = draw(st.sampled_from(("ok", "ok", "fail", "info")))
            value = draw(st.sampled_from((None, *VALUES))) if f == "read" else None
            events.append((process, kind, f, value if key is None else (key, value)))
            continue
        events.append((process, "invoke", f, value if key is None else (key, value)))
    return fix_completion_values(events)


def fix_completion_values(events):
    """A write's or cas's completion carries its invocation's value, as Jepsen writes it."""
    invoked, fixed = {}, []
    for process, kind, f, value in events:
        if kind == "invoke":
            invoked[process] = value
        elif f != "read":
            value = invoked[process]
        fixed.append((process, kind, f, value))
    return fixed


def agrees_with_brute_force(keys, examples):
    seen = set()

    @settings(max_examples=examples, derandomize=True, deadline=None, database=None)
    @given(small_histories(keys))
    def agrees(events):
        ops = ops_of(*events, keyed=keys != (None,))
        expected = OK if brute_force(ops) else NOT
        assert check(ops).verdict is expected, events
        seen.add(expected)

    agrees()
    assert seen == {OK, NOT}


def test_agrees_with_brute_force_on_one_register():
    agrees_with_brute_force((None,), 2000)


def test_agrees_with_brute_force_on_two_keys():
    agrees_with_brute_force(("x", "y"), 1000)
