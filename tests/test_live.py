"""Live mode against a real etcd cluster (marked `live`): these start etcd members on
loopback, so they need the etcd binary (`.ci/run` installs it) and take real seconds.

One 3-member cluster is shared by the module (starting one takes about a second); every
fixture kills its processes and removes its data folders, whatever happens in the tests.
"""

import json
import os
import shutil
import socket
import threading
import time
from pathlib import Path

import pytest
from snapshot_apps.support import pilot_test, screen_text, wait_for
from typer.testing import CliRunner

from engines.lab.lincheck.search import Verdict
from tui.cli import app as cli
from tui.keymap import load_keymap
from tui.live.cluster import Cluster, EtcdMissing, find_etcd
from tui.live.proxy import Links, PeerProxy
from tui.live.session import Session
from tui.live.status import MemberStatus, Poller, RecordedFeed, Snapshot, parse_status
from tui.live.wal import WalReader
from tui.live.workload import Client, History, Workload, get
from tui.live_app import LiveApp

pytestmark = pytest.mark.live
# Without etcd (a developer's machine) the cluster tests skip; .ci/run installs it, so CI
# runs them all.
needs_etcd = pytest.mark.skipif(
    shutil.which("etcd") is None, reason="no etcd binary: apt-get install etcd-server"
)
ELECTION_S = 10  # generous: elections take about a second here, CI machines are slower


@pytest.fixture(scope="module")
def cluster():
    if shutil.which("etcd") is None:
        pytest.skip("no etcd binary: apt-get install etcd-server")
    with Cluster(3) as running:
        yield running


@pytest.fixture(scope="module")
def poller(cluster):
    with Poller(cluster) as polling:
        yield polling


def leader_of(snapshot: Snapshot | None) -> int | None:
    leader = snapshot.leader() if snapshot else None
    return leader.node_id if leader else None


def settled(poller: Poller) -> Snapshot:
    """Every member up and following one leader of the highest term."""

    def agreed(s: Snapshot) -> bool:
        leader = s.leader()
        return leader is not None and all(
            m.up and m.term == leader.term and m.leader == leader.node_id for m in s.members
        )

    snapshot = poller.wait_for(agreed, ELECTION_S)
    assert snapshot is not None, poller.snapshot()
    return snapshot


def test_a_leader_is_seen_and_every_member_follows_it(cluster, poller):
    snapshot = settled(poller)
    roles = sorted(m.role for m in snapshot.members)
    assert roles == ["follower", "follower", "leader"]
    assert all(m.member_id == str(cluster.member_ids[m.node_id]) for m in snapshot.members)


def test_killing_the_leader_yields_a_new_leader_in_a_higher_term(cluster, poller):
    before = settled(poller).leader()
    cluster.crash(before.node_id)
    try:
        after = poller.wait_for(
            lambda s: (
                leader_of(s) not in (None, before.node_id)
                and s.members[before.node_id - 1].state == "down"
            ),
            ELECTION_S,
        )
    finally:
        cluster.restart(before.node_id)  # the later tests need all three
    assert after is not None, poller.snapshot()
    assert after.leader().term > before.term
    back = settled(poller)
    assert back.members[before.node_id - 1].role == "follower"


@pytest.fixture(scope="module")
def isolation(cluster, poller):
    """The leader isolated with a linearizable-read workload running, a write sent to it,
    then healed; what was seen along the way."""
    urls = {i: m.client_url for i, m in cluster.members.items()}
    history = History()
    old = settled(poller).leader()
    seen = {"old": old}
    workload = Workload(urls, history, clients=3, keys=2, rate=15, reads="linearizable")
    workload.start()
    try:
        try:
            time.sleep(0.5)
            cluster.isolate(old.node_id)
            seen["majority"] = poller.wait_for(
                lambda s: leader_of(s) not in (None, old.node_id), ELECTION_S
            )
            writer = Client("writer", history)
            seen["write"] = writer.put(urls[old.node_id], "k1", "to-the-isolated")
            seen["write_error"] = writer.error
            time.sleep(0.5)
        finally:
            cluster.heal()  # the later tests need a whole network
        seen["healed"] = settled(poller)
        time.sleep(0.5)
    finally:
        workload.stop()
    seen["history"] = history
    return seen


def test_isolating_the_leader_elects_a_new_one_on_the_majority_side(isolation):
    majority = isolation["majority"]
    assert majority is not None
    assert majority.leader().term > isolation["old"].term


def test_a_write_to_the_isolated_leader_times_out(isolation):
    assert isolation["write"] == "info"  # no answer: it may or may not commit later
    assert "timed out" in isolation["write_error"]


def test_heal_brings_the_old_leader_back_as_a_follower(isolation):
    healed = isolation["healed"]
    old = healed.members[isolation["old"].node_id - 1]
    assert old.role == "follower"
    assert old.term == healed.leader().term > isolation["old"].term


def test_a_linearizable_read_workload_across_the_schedule_is_linearizable(isolation):
    history = isolation["history"]
    ops = history.operations()
    reads = [op for op in ops if op.f == "read"]
    writes = [op for op in ops if op.f != "read" and op.known]
    assert len(reads) >= 10 and len(writes) >= 10
    assert history.check().verdict is Verdict.LINEARIZABLE


def test_a_serializable_read_from_an_isolated_member_is_stale_and_the_checker_flags_it(
    cluster, poller
):
    urls = {i: m.client_url for i, m in cluster.members.items()}
    history = History()
    leader = settled(poller).leader().node_id
    follower = next(i for i in cluster.node_ids if i != leader)
    writer, reader = Client("writer", history), Client("reader", history)
    assert writer.put(urls[leader], "stale", "old") == "ok"
    assert poller.wait_for(  # the follower has applied it (asked directly, not recorded)
        lambda s: get(urls[follower], "stale", serializable=True) == "old", ELECTION_S
    )
    cluster.isolate(follower)
    try:
        majority = next(i for i in cluster.node_ids if i != follower)
        assert writer.put(urls[majority], "stale", "new") == "ok"
        assert reader.get(urls[follower], "stale", serializable=True) == "ok"
        assert reader.returned == "old"
    finally:
        cluster.heal()
    result = history.check()
    assert result.verdict is Verdict.NOT_LINEARIZABLE
    assert (result.key, result.blocked.process, result.blocked.value) == (
        "stale",
        "reader",
        "old",
    )


@pilot_test
async def test_killing_the_leader_in_the_app_shows_it_down_and_a_new_leader_in_a_higher_term(
    cluster, poller
):
    old = settled(poller).leader()
    session = Session(cluster, poller)  # the module's cluster: not closed here
    app = LiveApp(poller, cluster.node_ids, session)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press(str(old.node_id), "x")

        def new_leader_shown() -> bool:
            leader = app.snapshot.leader()
            text = screen_text(app)
            return (
                leader is not None
                and leader.term > old.term
                and f"n{old.node_id}  DOWN" in text
                and f"n{leader.node_id}  LEADER" in text
                and f"n{leader.node_id} leads in term {leader.term}" in text
            )

        await wait_for(pilot, new_leader_shown, tries=1000)
        await pilot.press("x")  # start it again
        await wait_for(pilot, lambda: f"n{old.node_id}  FOLLOWER" in screen_text(app), 1000)
    settled(poller)


# --- without a cluster ---------------------------------------------------------------------------
def test_a_missing_etcd_binary_names_the_package_and_the_option():
    with pytest.raises(EtcdMissing, match="apt-get install etcd-server.*--etcd"):
        find_etcd("/nonexistent/etcd")


@needs_etcd
def test_leaving_a_cluster_on_an_error_kills_its_members_and_removes_their_folders():
    with pytest.raises(RuntimeError), Cluster(3) as running:
        pids = [m.process.pid for m in running.members.values()]
        root = running.root
        raise RuntimeError("a test fails")
    assert not root.exists()
    for pid in pids:
        assert not os.path.exists(f"/proc/{pid}")  # killed and reaped


def test_the_proxy_judges_every_request_on_a_keep_alive_connection():
    """The first request names an allowed sender, the second (same connection) a cut one:
    the second is dropped with its connection, not forwarded."""
    received: list[bytes] = []
    upstream = socket.create_server(("127.0.0.1", 0))

    def serve() -> None:  # answers each request once its 3-byte body is in
        conn, _ = upstream.accept()
        with conn:
            while data := conn.recv(65536):
                received.append(data)
                if b"".join(received).endswith(b"\r\n\r\nabc"):
                    conn.sendall(b"HTTP/1.1 204 No Content\r\n\r\n")

    threading.Thread(target=serve, daemon=True).start()
    links = Links()
    links.name_members({1: 0xA1, 2: 0xB2, 3: 0xC3})
    links.partition([[1, 2], [3]])
    with socket.socket() as spare:
        spare.bind(("127.0.0.1", 0))
        port = spare.getsockname()[1]
    proxy = PeerProxy(1, port, upstream.getsockname()[1], links)
    proxy.start()
    try:
        conn = socket.create_connection(("127.0.0.1", port), timeout=5)
        allowed = b"POST /raft HTTP/1.1\r\nX-Server-From: b2\r\nContent-Length: 3\r\n\r\nabc"
        conn.sendall(allowed)
        assert conn.recv(1024).startswith(b"HTTP/1.1 204")
        conn.sendall(b"POST /raft HTTP/1.1\r\nX-Server-From: c3\r\nContent-Length: 3\r\n\r\nxyz")
        assert conn.recv(1024) == b""  # closed
        assert b"".join(received) == allowed
        assert proxy.dropped == 1
    finally:
        proxy.close()
        upstream.close()


# --- the command line ---------------------------------------------------------------------------
SCENARIO = Path(__file__).parent.parent / "tui/live/scenarios/leader_faults.scn"


def test_live_without_etcd_exits_2_with_one_line_naming_the_package_and_the_option():
    result = CliRunner().invoke(cli, ["live", "--etcd", "/nonexistent/etcd"])
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and "apt-get install etcd-server" in lines[0] and "--etcd" in lines[0]


def test_a_script_line_with_no_live_meaning_is_refused_before_any_process_starts(tmp_path):
    script = tmp_path / "bad.scn"
    script.write_text("nodes 3\nrun 1s\nstep 5\n")
    result = CliRunner().invoke(cli, ["live", "--script", str(script)])
    assert result.exit_code == 2
    assert result.output.strip() == f"{script}:3: 'step' has no live meaning (see docs/live.md)"


@needs_etcd
def test_a_live_script_reports_leader_changes_and_a_linearizable_verdict(tmp_path):
    history = tmp_path / "history.jsonl"
    args = ["live", "--script", str(SCENARIO), "--json", "--history", str(history)]
    result = CliRunner().invoke(cli, args)
    summary = json.loads(result.output)
    assert result.exit_code == 0, summary
    leaders = [c for c in summary["leader_changes"] if c["leader"]]
    assert len({(c["leader"], c["term"]) for c in leaders}) >= 3  # first, after crash, after cut
    assert summary["verdict"] == "linearizable" and summary["operations"] >= 20
    assert all(e["ok"] for e in summary["expectations"])
    checked = CliRunner().invoke(cli, ["lincheck", str(history), "--model", "kv"])
    assert checked.exit_code == 0, checked.output


def test_every_member_s_wal_shows_a_put_in_the_leader_s_term(cluster, poller):
    leader = settled(poller).leader()
    assert Client("wal", History()).put(cluster.members[leader.node_id].client_url, "w", "1")

    def logged(s: Snapshot) -> bool:
        return all(
            m.wal and any(e.what == "put w=1" and e.term == leader.term for e in m.wal.entries)
            for m in s.members
        )

    snapshot = poller.wait_for(logged, ELECTION_S)
    assert snapshot is not None, [m.wal for m in poller.snapshot().members]
    wal = snapshot.members[leader.node_id - 1].wal
    assert wal.entries[0].index > 0 and wal.vote.startswith("n")


# --- the WAL decoder on hand-made records ---------------------------------------------------------
def _varint(n: int) -> bytes:
    out = b""
    while True:
        low, n = n & 0x7F, n >> 7
        out += bytes([low | (0x80 if n else 0)])
        if not n:
            return out


def _field(number: int, value: int | bytes) -> bytes:
    if isinstance(value, int):
        return _varint(number << 3) + _varint(value)
    return _varint(number << 3 | 2) + _varint(len(value)) + value


def _record(kind: int, data: bytes) -> bytes:
    body = _field(1, kind) + _field(2, 7) + _field(3, data)
    padding = -len(body) % 8
    length = len(body) | ((0x80 | padding) << 56 if padding else 0)
    return length.to_bytes(8, "little") + body + b"\0" * padding


def _entry(index: int, term: int, key: str) -> bytes:
    put = _field(4, _field(1, key.encode()) + _field(2, b"v"))
    return _record(2, _field(2, term) + _field(3, index) + _field(4, put))


def test_the_wal_reader_keeps_the_last_record_per_index_and_waits_for_half_written_ones(tmp_path):
    folder = tmp_path / "member" / "wal"
    folder.mkdir(parents=True)
    wal_file = folder / "0000000000000000-0000000000000000.wal"
    state = _record(3, _field(1, 3) + _field(2, 0xB2) + _field(3, 2))
    written = _entry(1, 1, "a") + _entry(2, 1, "b") + _entry(3, 2, "c") + _entry(2, 3, "d")
    half = _entry(3, 3, "e")
    wal_file.write_bytes(written + state + half[:12] + b"\0" * 64)
    reader = WalReader(tmp_path, {0xB2: 2})
    view = reader.read()
    assert [(e.index, e.term, e.what) for e in view.entries] == [
        (1, 1, "put a=v"),
        (2, 3, "put d=v"),
    ]
    assert (view.term, view.vote, view.commit) == (3, "n2", 2)
    wal_file.write_bytes(written + state + half + b"\0" * 64)  # the rest of it arrives
    assert [e.what for e in reader.read().entries] == ["put a=v", "put d=v", "put e=v"]


def test_a_cas_in_the_wal_reads_as_a_put_with_its_condition(tmp_path):
    folder = tmp_path / "member" / "wal"
    folder.mkdir(parents=True)
    compare = _field(3, b"k1") + _field(7, b"old")
    success = _field(2, _field(1, b"k1") + _field(2, b"new"))  # RequestOp{request_put}
    txn = _field(6, _field(1, compare) + _field(2, success))
    record = _record(2, _field(2, 1) + _field(3, 1) + _field(4, txn))
    (folder / "0000000000000000-0000000000000000.wal").write_bytes(record)
    assert [e.what for e in WalReader(tmp_path).read().entries] == ["put k1=new if k1=old"]


def test_live_help_explains_every_option():
    result = CliRunner().invoke(cli, ["live", "--help"])
    assert result.exit_code == 0
    for option in ("--nodes", "--etcd", "--script", "--reads", "--clients", "--history", "--json"):
        assert option in result.output


def test_a_status_answer_reads_as_role_term_indexes_and_alarms():
    """Answers as etcd 3.4 gives them (IDs as decimal strings; alarms among the errors)."""
    names = {"111": 1, "222": 2}
    answer = {
        "header": {"member_id": "111"},
        "leader": "222",
        "raftTerm": "4",
        "raftIndex": "25",
        "raftAppliedIndex": "24",
        "errors": ["memberID:111 alarm:NOSPACE "],
    }
    status = parse_status(1, answer, names)
    assert (status.role, status.leader, status.term) == ("follower", 2, 4)
    assert (status.last_index, status.applied_index, status.learner) == (25, 24, False)
    assert status.errors == ("memberID:111 alarm:NOSPACE",)
    alone = parse_status(1, {"header": {"member_id": "111"}, "leader": "0"}, names)
    assert alone.role == "no leader"
    assert parse_status(2, answer | {"header": {"member_id": "222"}}, names).role == "leader"


def test_a_member_that_never_answers_does_not_hold_up_the_snapshot(monkeypatch):
    """The poller asks from its own threads: while one member's request hangs (here for as
    long as the test likes), the app's snapshot comes at once, that member `silent`."""
    import tui.live.status as status_module

    monkeypatch.setattr(status_module, "REQUEST_TIMEOUT_S", 3600.0)  # a blocking snapshot hangs
    mute = socket.create_server(("127.0.0.1", 0))
    stand_in = StandInCluster(f"http://127.0.0.1:{mute.getsockname()[1]}")
    poller = Poller(stand_in, interval=0.01).start()
    held, _ = mute.accept()  # the status request is in flight, and will get no answer
    try:
        snapshot = poller.snapshot()
        assert [m.state for m in snapshot.members] == ["silent"]
    finally:
        poller.stopped.set()
        held.close()  # the request fails now, and the thread sees it was stopped
        mute.close()
        poller.stop()


class StandInCluster:
    """What the poller reads of a cluster: one member, up, at `url`."""

    def __init__(self, url: str) -> None:
        member = type(
            "Member", (), {"client_url": url, "up": True, "data_dir": Path("/nonexistent")}
        )
        self.members = {1: member}
        self.node_ids = [1]
        self.member_ids = {1: 111}
        self.links = Links()


@pilot_test
async def test_the_live_app_takes_the_simulator_s_keymaps():
    """vim's keymap: j selects the next member, as it selects the next node in simulation."""
    snapshot = Snapshot(0.0, tuple(MemberStatus(i, "silent") for i in (1, 2, 3)))
    app = LiveApp(RecordedFeed([snapshot]), [1, 2, 3], keymap=load_keymap("vim"))
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("j")
        assert app.selected == 2


def test_a_bad_keymap_or_a_clashing_option_stops_live_before_any_process_starts(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text('[node]\ncrash = "notakey"\n')
    result = CliRunner().invoke(cli, ["live", "--keymap", str(bad)])
    assert result.exit_code == 2 and str(bad) in result.output
    script = tmp_path / "ok.scn"
    script.write_text("nodes 3\nrun 1s\n")
    result = CliRunner().invoke(cli, ["live", "--script", str(script), "--keymap", "vim"])
    assert result.exit_code == 2
    assert result.output.strip() == "error: --keymap is for the app: a script has no keys"
