"""`consensus-tui lincheck`: both history formats, exit codes, and bad input as FILE:LINE."""

import json
import random

import pytest
from typer.testing import CliRunner

from engines.lab.lincheck.generate import random_history
from tui.cli import app

runner = CliRunner()

STALE_READ_JSON = """\
{"process": 0, "type": "invoke", "f": "write", "value": 1}
{"process": 0, "type": "ok", "f": "write", "value": 1}

{"process": 1, "type": "invoke", "f": "read", "value": null}
{"process": 1, "type": "ok", "f": "read", "value": null, "time": 42}
"""

# In the style of Knossos's data/cas-register histories, with a nemesis partitioning the network.
CAS_EDN = """\
{:type :invoke, :f :write, :value 1, :process 0}
{:type :info, :f :start, :value nil, :process :nemesis}
{:type :ok, :f :write, :value 1, :process 0}
{:type :invoke, :f :cas, :value [1 2], :process 1, :time 17}
{:type :invoke, :f :read, :value nil, :process 2}
{:type :ok, :f :read, :value 2, :process 2}
{:type :info, :f :cas, :value [1 2], :process 1, :error :timed-out}
{:type :info, :f :stop, :value nil, :process :nemesis}
"""


def lincheck(tmp_path, text, *options, name="h.jsonl"):
    path = tmp_path / name
    path.write_text(text)
    return runner.invoke(app, ["lincheck", str(path), *options])


def test_a_linearizable_json_history_exits_0(tmp_path):
    result = lincheck(tmp_path, STALE_READ_JSON.replace('null, "time"', '1, "time"'))
    assert result.exit_code == 0, result.output
    assert "linearizable (2 operations, 1 key)" in result.output


def test_a_stale_read_exits_1_naming_the_op_and_the_prefix(tmp_path):
    result = lincheck(tmp_path, STALE_READ_JSON)
    assert result.exit_code == 1, result.output
    assert "NOT linearizable" in result.output
    assert "cannot place: process 1 read -> None (invoked at line 4, ok at line 5)" in result.output
    assert "prefix of 1 operations" in result.output


def test_an_edn_history_with_a_timed_out_cas_and_nemesis_events_exits_0(tmp_path):
    result = lincheck(tmp_path, CAS_EDN, name="h.edn")
    assert result.exit_code == 0, result.output


def test_json_output(tmp_path):
    result = lincheck(tmp_path, STALE_READ_JSON, "--json")
    summary = json.loads(result.output)
    assert summary["verdict"] == "not linearizable" and summary["model"] == "cas-register"
    assert summary["prefix_length"] == 1 and summary["cannot_place"]["line"] == 4


def test_a_keyed_history_with_the_kv_model(tmp_path):
    lines = [
        {"process": 0, "type": "invoke", "f": "write", "value": ["x", 1]},
        {"process": 0, "type": "ok", "f": "write", "value": ["x", 1]},
        {"process": 0, "type": "invoke", "f": "read", "value": ["y", None]},
        {"process": 0, "type": "ok", "f": "read", "value": ["y", 1]},
    ]
    text = "\n".join(json.dumps(line) for line in lines)
    result = lincheck(tmp_path, text, "--model", "kv")
    assert result.exit_code == 1 and "prefix of 0 operations on key 'y'" in result.output


def test_a_search_out_of_time_exits_3(tmp_path):
    events = random_history(random.Random(2), 3000, clients=5, keys=1)
    text = "\n".join(
        json.dumps({"process": e.process, "type": e.type, "f": e.f, "value": e.value})
        for e in events
    )
    result = lincheck(tmp_path, text, "--model", "kv", "--timeout", "0")
    assert result.exit_code == 3 and "unknown" in result.output and "budget" in result.output


@pytest.mark.parametrize(
    ("text", "options", "message"),
    [
        ('{"process": 0, "type": "invoke", "f": "read"\n', [], "h.jsonl:1: not valid JSON"),
        ('{"process": 0, "type": "invoke"}\n', [], "h.jsonl:1: the op has no f"),
        ('{"process": 0, "type": "ok", "f": "read", "value": 1}\n', [], "h.jsonl:1: ok by process"),
        ('{"process": 0, "type": "invoke", "f": "add", "value": 1}\n', [], "unknown operation"),
        ('{"process": 0, "type": "begin", "f": "read"}\n', [], "h.jsonl:1: unknown type"),
        ("[1, 2]\n", [], "h.jsonl:1: expected an op map"),
        ("{:type}\n", [], "h.jsonl:1: not valid EDN"),
        ("{:type :invoke :f :read :process 0}\n{:type :invoke :f :read", [], "h.jsonl:2: not"),
        ("{:type :invoke :f :cas :value 3 :process 0}\n", [], "a cas needs [expected new]"),
        ("{:type :invoke :f :cas :value [1 2] :process 0}\n", ["--model", "register"], "no cas"),
        ("{:type :invoke :f :write :value 3 :process 0}\n", ["--model", "kv"], "[key value]"),
        (
            "{:type :invoke :f :read :process 0}\n{:type :invoke :f :read :process 0}\n",
            [],
            "h.jsonl:2: process 0 invokes again while its operation from line 1",
        ),
        (
            "{:type :invoke :f :read :process 0}\n{:type :ok :f :write :value 1 :process 0}\n",
            [],
            "h.jsonl:2: ok write completes a read",
        ),
    ],
)
def test_bad_input_exits_2_with_file_line(tmp_path, text, options, message):
    result = lincheck(tmp_path, text, *options)
    assert result.exit_code == 2, result.output
    assert message in result.output and "Traceback" not in result.output


def test_a_missing_file_exits_2(tmp_path):
    result = runner.invoke(app, ["lincheck", str(tmp_path / "none.edn")])
    assert result.exit_code == 2 and "cannot read history" in result.output
