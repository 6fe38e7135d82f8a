"""`faastui describe` and `faastui bench` against the real session engine: every kind a
describe takes, the histogram a bench reports, and the errors (exit 2 for usage, 1 for a
name that is not there)."""

from __future__ import annotations

import json

import pytest

from faastui import benchmark
from tests.conftest import cli, run


@pytest.fixture()
def ctx(engine):
    cli("context", "add", "t", "--url", engine.url, "--use")
    return engine


def test_describe_a_function_shows_placement_and_recent_calls(ctx):
    cli("invoke", "echo", "-d", '"described"')
    out = cli("describe", "echo").stdout
    for part in ("Name:", "Kind:         Function", "Placement:", "Recent calls (newest first):",
                 "CALL ID", "NODE", "ok"):
        assert part in out, part
    assert cli("describe", "function", "echo").stdout.splitlines()[0] == out.splitlines()[0]


def test_describe_other_kinds(ctx):
    node = cli("describe", "node", "node-1").stdout
    assert "Kind:       Node" in node and "Containers:" in node
    assert "Queue (Redis list)" in cli("describe", "queue", "input_queue").stdout
    data = json.loads(cli("describe", "node", "node-2", "-o", "json").stdout)
    assert data["name"] == "node-2" and "max_containers" in data


def test_describe_errors(ctx):
    r = cli("describe", "pod", "x", code=2)
    assert "unknown kind 'pod'" in r.stderr and "function, node, queue, group" in r.stderr
    r = cli("describe", "node", "node-9", code=1)
    assert "node 'node-9' not found" in r.stderr and "did you mean" in r.stderr
    assert "not found" in cli("describe", "group", "nothing", code=1).stderr


def test_bench_reports_a_histogram_of_every_call(ctx):
    rep = json.loads(cli("bench", "echo", "--requests", "12", "-c", "3", "-d", '{"x": 1}', "-o", "json").stdout)
    assert rep["calls"] == 12 and rep["errors"] == 0
    assert sum(b["count"] for b in rep["histogram"]) == 12
    edges = [(b["from_ms"], b["to_ms"]) for b in rep["histogram"]]
    assert all(lo <= hi for lo, hi in edges) and edges == sorted(edges)
    table = cli("bench", "echo", "--requests", "5", "-c", "5", "--raw", "-d", "text").stdout
    assert "5 calls, concurrency 5" in table and " ms  #" in table


def test_bench_errors(ctx):
    for args in (["--requests", "0"], ["-c", "0"], ["-c", "5000"]):
        cli("bench", "echo", *args, code=2)
    r = cli("bench", "echo", "-d", "{not json", code=2)
    assert "not valid JSON" in r.stderr
    assert "not found" in cli("bench", "nope", "--requests", "1", code=1).stderr


def test_the_bench_module_checks_its_arguments(ctx):
    from backends.errors import InvalidRequest

    async def go():
        async with ctx.backend() as b:
            seen = []
            result = await benchmark.run(b, "echo", 4, 2, progress=lambda r: seen.append(r.done))
            with pytest.raises(InvalidRequest):
                await benchmark.run(b, "echo", 0)
            return result, seen
    result, seen = run(go())
    assert sorted(seen) == [1, 2, 3, 4] and result.report()["calls"] == 4
    assert benchmark.buckets([1.0, 1.0]) == [(1.0, 1.0, 2)] and benchmark.buckets([]) == []
