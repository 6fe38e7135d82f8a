"""Function logs end to end: the stamped line format, reading back through rotated files
and from a cursor, the engine's route, the Backend contract's defaults, and `faastui logs`.

The engine tests use the real session engine and a function that prints; the file tests
write real files in the format workers write (and rotate them by renaming, as the
engine's writer does).
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from backends.base import Backend, Capability
from backends.errors import InvalidRequest, Unsupported
from backends.local import logread
from backends.local.logstamp import StampedStream, parse, stamp
from backends.model import LogLine, Snapshot
from faastui.logtext import faas_json, parse_since, plain, rfc3339

from .conftest import cli, run

T0 = 1_800_000_000.0
PRINTER = ("import sys\n"
           "def handle(req):\n"
           "    print('said', req)\n"
           "    print('to stderr', req, file=sys.stderr)\n"
           "    return 'ok'\n")


def write(path: Path, lines: list[tuple[float, str, str, str]], raw: list[str] = ()) -> None:
    with open(path, "a") as f:
        for t, inst, fn, text in lines:
            f.write(stamp(t, inst, fn) + text + "\n")
        for line in raw:
            f.write(line)


# ---- the format -------------------------------------------------------------------------
def test_a_stamped_line_reads_back():
    line = stamp(T0 + 0.25, "node-1-3", "hello") + "hi there  with  spaces"
    assert line.startswith("2027-01-15T08:00:00.250000Z node-1-3 hello ")
    assert parse(line) == (T0 + 0.25, "node-1-3", "hello", "hi there  with  spaces")
    assert parse("not stamped") is None
    assert parse("2027-01-15T08:00:00.250000Z") is None  # a time alone is no stamp


def test_the_stream_stamps_each_line_in_one_write(tmp_path):
    path = tmp_path / "out.log"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
    try:
        s = StampedStream(fd, "node-1-1")
        print("one", file=s)
        s.write("two\nthree")  # "three" waits for its newline ...
        assert len(path.read_text().splitlines()) == 2
        s.flush()  # ... or for the end of the call
        s.buffer.write(b"four\n")
    finally:
        os.close(fd)
    got = [parse(line) for line in path.read_text().splitlines()]
    assert [g[3] for g in got] == ["one", "two", "three", "four"]
    assert {g[1] for g in got} == {"node-1-1"} and all(abs(g[0] - time.time()) < 60 for g in got)


# ---- reading back: tail, since, instance, rotation, cursor --------------------------------
def test_tail_reads_through_rotated_files_newest_last(tmp_path):
    log = tmp_path / "u.log"
    write(log.with_name("u.log.2"), [(T0 + i, "a", "u", f"old {i}") for i in range(3)])
    write(log.with_name("u.log.1"), [(T0 + 10 + i, "b", "u", f"mid {i}") for i in range(3)])
    write(log, [(T0 + 20 + i, "a", "u", f"new {i}") for i in range(3)])
    entries, _ = logread.tail(log, 5)
    assert [e.text for e in entries] == ["mid 1", "mid 2", "new 0", "new 1", "new 2"]
    assert [e.text for e in logread.tail(log, None)[0]][:2] == ["old 0", "old 1"]
    since, _ = logread.tail(log, 100, since=T0 + 11)
    assert [e.text for e in since] == ["mid 1", "mid 2", "new 0", "new 1", "new 2"]
    only_b, _ = logread.tail(log, 100, instance="b")
    assert [e.text for e in only_b] == ["mid 0", "mid 1", "mid 2"]
    assert logread.tail(log, 0)[0] == []


def test_unstamped_lines_take_the_stamp_before_them_and_a_part_line_waits(tmp_path):
    log = tmp_path / "u.log"
    write(log, [(T0, "a", "f", "stamped")], raw=["from a C library\n", "half a li"])
    entries, cursor = logread.tail(log, 10)
    assert [(e.text, e.time, e.instance) for e in entries] == [
        ("stamped", T0, "a"), ("from a C library", T0, "a")]
    with open(log, "a") as f:
        f.write("ne\n")
    more, _, lost = logread.after(log, cursor)
    assert [e.text for e in more] == ["half a line"] and not lost


def test_a_fused_units_log_keeps_each_members_lines(tmp_path):
    log = tmp_path / "group.log"
    write(log, [(T0, "c", "-", "at import"), (T0 + 1, "c", "front", "front says"),
                (T0 + 2, "c", "back", "back says")])
    assert [e.text for e in logread.tail(log, 10, function="back")[0]] == ["at import", "back says"]
    answer = logread.answer(log, logread.Query(), "back", member=True)
    assert answer["lines"] == ["at import", "back says"]
    assert answer["entries"][1] == {"function": "back", "text": "back says", "time": T0 + 2,
                                    "instance": "c"}


def test_following_a_cursor_survives_a_rotation(tmp_path):
    log = tmp_path / "u.log"
    write(log, [(T0, "a", "u", "first")])
    _, cursor = logread.tail(log, 10)
    write(log, [(T0 + 1, "a", "u", "second")])
    os.replace(log, log.with_name("u.log.1"))  # what the writer does when the file is full
    write(log, [(T0 + 2, "a", "u", "third")])
    got, cursor, lost = logread.after(log, cursor)
    assert [e.text for e in got] == ["second", "third"] and not lost
    assert logread.after(log, cursor)[0] == []  # nothing twice
    # a cursor whose file is gone: what is left, flagged as a gap
    got, _, lost = logread.after(log, "999999999:5")
    assert lost and [e.text for e in got] == ["first", "second", "third"]


def test_the_routes_query_is_checked():
    with pytest.raises(InvalidRequest, match="'tail' must be an integer"):
        logread.Query.of({"tail": "abc"})
    with pytest.raises(InvalidRequest, match="since"):
        logread.Query.of({"since": "yesterday"})
    with pytest.raises(InvalidRequest, match="cursor"):
        logread.Query.of({"after": "12"})
    assert logread.Query.of({"tail": "5", "instance": "x"}) == logread.Query(5, None, "x", None)


# ---- the engine -----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def printer(engine):
    async def go():
        async with engine.backend() as b:
            await b.deploy_source(PRINTER, name="printer")
            for i in range(3):
                await b.invoke("printer", f"call {i}")
    run(go())
    return engine


def test_the_engine_gives_times_and_instances(printer):
    async def go():
        async with printer.backend() as b:
            lines = await b.log_lines("printer", 4)
            inst = lines[-1].instance
            only = await b.log_lines("printer", 100, instance=inst)
            none = await b.log_lines("printer", 100, instance="no-such-container")
            later = await b.log_lines("printer", 100, since=lines[-1].time)
            return lines, only, none, later, await b.logs("printer", 2)
    lines, only, none, later, text = run(go())
    assert [ln.text for ln in lines] == ["said call 1", "to stderr call 1", "said call 2",
                                         "to stderr call 2"]
    assert all(ln.function == "printer" and ln.instance.startswith("node-") for ln in lines)
    assert all(abs(ln.time - time.time()) < 600 for ln in lines)
    assert only and all(ln.instance == lines[-1].instance for ln in only) and none == []
    assert [ln.text for ln in later] == ["to stderr call 2"]
    assert text == ["said call 2", "to stderr call 2"]  # the plain form, no stamps


def test_following_on_the_engine_misses_nothing_and_repeats_nothing(printer):
    async def go():
        async with printer.backend() as b:
            await b.deploy_source(PRINTER, name="printer-f")
            await b.invoke("printer-f", "call 2")
            follow = b.follow_logs("printer-f", 1, interval=0.1)
            got = [await anext(follow)]
            await b.invoke("printer-f", "while following")
            await b.invoke("printer-f", "and again")
            while len(got) < 5:
                got.append(await asyncio.wait_for(anext(follow), 20))
            await follow.aclose()
            return [ln.text for ln in got]
    assert run(go()) == ["to stderr call 2", "said while following", "to stderr while following",
                         "said and again", "to stderr and again"]


def test_the_route_names_a_bad_parameter(printer):
    import http.client
    from urllib.parse import urlsplit

    u = urlsplit(printer.url)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=10)
    conn.request("GET", "/faastui/v1/logs/printer?tail=abc")
    resp = conn.getresponse()
    body = json.loads(resp.read())
    assert resp.status == 400 and "'tail' must be an integer" in body["error"]


# ---- the contract's defaults, for a backend with plain text lines only ---------------------
class PlainLogs(Backend):
    """A backend implementing only ``logs(fn, tail)`` (as the Knative and Nuclio adapters do);
    it serves a growing list of lines, to exercise the contract's defaults."""

    name = "plain"
    capabilities = Capability.LOGS

    def __init__(self):
        self.lines = ["[pod-a] one", "[pod-b] two"]

    async def snapshot(self) -> Snapshot:
        return Snapshot()

    async def logs(self, fn: str, tail: int = 100) -> list[str]:
        return self.lines[-tail:]


def test_the_default_log_lines_reads_instances_from_prefixes():
    b = PlainLogs()
    got = run(b.log_lines("f", 10))
    assert got == [LogLine("f", "one", instance="pod-a"), LogLine("f", "two", instance="pod-b")]
    assert run(b.log_lines("f", 10, instance="pod-b")) == [LogLine("f", "two", instance="pod-b")]
    with pytest.raises(Unsupported, match="no times"):
        run(b.log_lines("f", since=1.0))


def test_the_default_follow_polls_and_yields_only_new_lines():
    b = PlainLogs()

    async def go():
        follow = b.follow_logs("f", 5, interval=0.01)
        got = [await anext(follow), await anext(follow)]
        b.lines += ["[pod-a] three", "[pod-a] four"]
        got += [await anext(follow), await anext(follow)]
        await follow.aclose()
        return [ln.text for ln in got]
    assert run(go()) == ["one", "two", "three", "four"]


# ---- faastui logs -------------------------------------------------------------------------
def test_since_values():
    assert parse_since("5m", now=1000.0) == 700.0
    assert parse_since("1h30m", now=10_000.0) == 10_000.0 - 5400
    assert parse_since("2027-01-15T08:00:00Z") == T0
    for bad in ("5", "5x", "soon", ""):
        with pytest.raises(InvalidRequest):
            parse_since(bad)
    line = LogLine("f", "hi", T0, "node-1-1")
    assert plain(line, timestamps=True, prefix=True) == "2027-01-15T08:00:00.000000Z [node-1-1] hi"
    assert json.loads(faas_json(line)) == {"name": "f", "namespace": "", "instance": "node-1-1",
                                           "timestamp": "2027-01-15T08:00:00.000000Z", "text": "hi"}
    assert rfc3339(None) == "0001-01-01T00:00:00Z"


@pytest.fixture()
def ctx(printer):
    cli("context", "add", "t", "--url", printer.url, "--use")
    return printer


def test_cli_logs_flags(ctx):
    assert cli("logs", "printer", "--lines", "2").stdout == "said call 2\nto stderr call 2\n"
    assert cli("logs", "printer", "--tail", "1").stdout == "to stderr call 2\n"
    wide = cli("logs", "printer", "--lines", "1", "-o", "wide").stdout
    stamp_, inst, text = wide.split(" ", 2)
    assert stamp_.endswith("Z") and inst.startswith("[node-") and text == "to stderr call 2\n"
    messages = [json.loads(x) for x in cli("logs", "printer", "-o", "json").stdout.splitlines()]
    assert {tuple(m) for m in messages} == {("name", "namespace", "instance", "timestamp", "text")}
    assert messages[-1]["text"] == "to stderr call 2" and messages[-1]["name"] == "printer"
    instance = messages[-1]["instance"]
    only = cli("logs", "printer", "--instance", instance, "--prefix").stdout.splitlines()
    assert only and all(x.startswith(f"[{instance}] ") for x in only)
    assert cli("logs", "printer", "--since", "10d", "--lines", "1").stdout == "to stderr call 2\n"
    assert cli("logs", "printer", "--since", "2000-01-01T00:00:00Z", "-o", "yaml").stdout
    assert cli("logs", "printer", "--instance", "none-such").stdout == ""


def test_cli_logs_errors(ctx):
    for args, needle in ((["--since", "soon"], "neither a duration nor a time"),
                         (["--lines", "2", "--tail", "3"], "say the same thing"),
                         (["-f", "-o", "yaml"], "cannot stream")):
        r = cli("logs", "printer", *args, code=2)
        assert needle in r.stderr and "Traceback" not in r.stderr
    cli("logs", "printer", "--lines", "-1", code=2)
    assert "not found" in cli("logs", "nope", code=1).stderr


def test_cli_logs_follow_prints_new_lines_and_ends_on_ctrl_c(ctx, tmp_path):
    """A real `faastui logs -f` process: it prints the tail, then each new line, and Ctrl-C
    (SIGINT) ends it with exit 0 and no message."""
    async def deploy():
        async with ctx.backend() as b:
            await b.deploy_source(PRINTER, name="printer-cli")
            await b.invoke("printer-cli", "call 2")
    run(deploy())
    faastui = Path(sys.executable).with_name("faastui")
    proc = subprocess.Popen([str(faastui), "logs", "printer-cli", "-f", "--lines", "1"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=dict(os.environ))
    try:
        assert proc.stdout.readline() == "to stderr call 2\n"
        cli("invoke", "printer-cli", "-d", "followed", "--raw")
        assert proc.stdout.readline() == "said followed\n"
        assert proc.stdout.readline() == "to stderr followed\n"
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=20) == 0
        assert proc.stderr.read() == ""
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


FRONT = ("def handler(context, event, requests_session):\n"
         "    print('front before')\n"
         "    address = event.headers['Fusionizer-Server-Address']\n"
         "    requests_session.post(f'http://{address}:8000/log-back', json={})\n"
         "    print('front after')\n"
         "    return 'ok'\n")
BACK = "def handle(event, context):\n    print('back here')\n    return 'b'\n"


def test_a_fused_members_lines_are_its_own_even_when_called_in_process(engine):
    """Fused, log-back runs inside log-front's call; its line is still log-back's."""
    async def go():
        async with engine.backend() as b:
            await b.deploy_source(FRONT, name="log-front")
            await b.deploy_source(BACK, name="log-back")
            await b.fuse(["log-front", "log-back"], name="log-pair")
            try:
                assert (await b.invoke("log-front", {})).status == "ok"
                return ([ln.text for ln in await b.log_lines("log-front")],
                        [ln.text for ln in await b.log_lines("log-back")])
            finally:
                await b.unfuse("log-pair")
                for fn in ("log-front", "log-back"):
                    await b.remove(fn)
    front, back = run(go())
    assert front == ["front before", "front after"] and back == ["back here"]
