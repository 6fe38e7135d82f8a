"""Secrets on the embedded engine, through the CLI: create (literal, file, stdin), update,
list, rm and their errors; where the values are (0600 files) and where they never are
(output, events, logs, any process's argv); functions reading theirs at
``/var/openfaas/secrets/NAME`` and only theirs, alone and fused; and the backends without
secrets (exit 3). The engine is the real session one.
"""

from __future__ import annotations

import json
import os
import stat

import psutil
import pytest
import yaml

from .conftest import cli

VALUE = "hunter2-not-for-your-eyes"


@pytest.fixture()
def ctx(engine):
    cli("context", "add", "t", "--url", engine.url, "--use")
    yield engine
    names = [ln for ln in cli("secret", "list", "-q").stdout.split() if ln.startswith("ts-")]
    if names:
        cli("secret", "rm", *names)


def _error(result, *needles: str) -> None:
    lines = [ln for ln in result.stderr.splitlines() if ln.strip() and not ln.startswith("deploying ")]
    assert lines and lines[0].startswith("error: ") and len(lines) <= 2, result.stderr
    for n in needles:
        assert n in result.stderr, result.stderr


def _store(engine):
    return engine.state_dir / "secrets"


def test_create_list_update_rm_from_each_source(ctx, tmp_path):
    r = cli("secret", "create", "ts-lit", "--from-literal", f"  {VALUE}\n")
    assert r.stdout == "" and "secret ts-lit created" in r.stderr
    (tmp_path / "v.bin").write_bytes(b"\x00\xffbinary\n")
    cli("secret", "create", "ts-file", "--from-file", str(tmp_path / "v.bin"), "--no-trim")
    cli("secret", "create", "ts-stdin", input="from stdin\n")
    store = _store(ctx)
    assert (store / "ts-lit").read_bytes() == VALUE.encode()  # trimmed, as faas-cli does
    assert (store / "ts-file").read_bytes() == b"\x00\xffbinary\n"  # --no-trim: byte for byte
    assert (store / "ts-stdin").read_bytes() == b"from stdin"
    assert stat.S_IMODE(os.stat(store).st_mode) == 0o700
    assert {stat.S_IMODE(os.stat(store / n).st_mode) for n in ("ts-lit", "ts-file")} == {0o600}

    table = cli("secret", "list").stdout.splitlines()
    assert table[0].split() == ["NAME"] and {"ts-lit", "ts-file", "ts-stdin"} <= {r.strip() for r in table}
    listed = json.loads(cli("secret", "ls", "-o", "json").stdout)
    assert {"name": "ts-lit", "namespace": "local"} in listed
    assert all(set(s) == {"name", "namespace"} for s in listed)
    assert "secret/ts-file" in cli("secret", "list", "-o", "name").stdout.split()
    assert "ts-stdin" in cli("secret", "list", "-q").stdout.split()
    assert "ts-lit" in cli("secret", "list", "--no-headers").stdout.split()

    cli("secret", "update", "ts-lit", "--from-literal", "new value")
    assert (store / "ts-lit").read_bytes() == b"new value"
    cli("secret", "rm", "ts-lit")
    cli("secret", "remove", "ts-file")
    cli("secret", "delete", "ts-stdin")
    assert not {"ts-lit", "ts-file", "ts-stdin"} & set(cli("secret", "list", "-q").stdout.split())
    assert not list(store.glob(".*.tmp"))


def test_the_errors(ctx, tmp_path):
    _error(cli("secret", "create", "Bad_Name", "--from-literal", "x", code=2),
           "invalid secret name: 'Bad_Name'", "lower case alphanumeric")
    _error(cli("secret", "create", "dash-", "--from-literal", "x", code=2), "invalid secret name")
    _error(cli("secret", "create", "ts-a", "--from-literal", "x", "--from-file", "f", code=2),
           "only one option from --from-literal, --from-file and STDIN")
    _error(cli("secret", "create", "ts-a", "--from-literal", "   ", code=2), "non empty secret")
    _error(cli("secret", "create", "ts-a", input="", code=2), "non empty secret")
    _error(cli("secret", "create", "ts-a", "--from-file", str(tmp_path / "none"), code=2),
           "cannot read")
    cli("secret", "create", "ts-a", "--from-literal", "x")
    _error(cli("secret", "create", "ts-a", "--from-literal", "y", code=1), "already exists",
           "secret update ts-a")
    _error(cli("secret", "update", "ts-never", "--from-literal", "y", code=1),
           "unable to find secret: ts-never")
    _error(cli("secret", "rm", "ts-never", code=1), "unable to find secret: ts-never")
    _error(cli("secret", "rm", "ts-a", "Bad!", code=2), "invalid secret name")
    assert "ts-a" in cli("secret", "list", "-q").stdout.split()  # checked before any removal
    _error(cli("secret", "list", "--sort-by", "value", code=2), "cannot sort by 'value'")
    _error(cli("secret", "list", "-n", "dev", code=3), "the local backend has no namespaces")


def test_a_value_is_never_shown_logged_or_in_argv(ctx):
    outputs = []
    for args in (["create", "ts-hidden", "--from-literal", VALUE], ["list"], ["list", "-o", "yaml"],
                 ["update", "ts-hidden", "--from-literal", VALUE + "2"]):
        r = cli("secret", *args)
        outputs.append(r.stdout + r.stderr)
    assert not any(VALUE in o for o in outputs)
    events = json.dumps(cli("status", "-o", "json").stdout) + ctx.state_dir.joinpath(
        "engine.log").read_text(errors="replace")
    assert VALUE not in events
    for pid in [ctx.pid, *ctx.descendants()]:
        try:
            assert not any(VALUE in part for part in psutil.Process(pid).cmdline())
        except psutil.NoSuchProcess:
            pass


READER = """\
import os
AT_IMPORT = open("/var/openfaas/secrets/ts-mine").read()


def handle(req):
    name = req.strip()
    if name == "list":
        return repr(sorted(os.listdir("/var/openfaas/secrets")))
    if name == "write":
        try:
            open("/var/openfaas/secrets/ts-mine", "w")
        except OSError as exc:
            return type(exc).__name__ + " " + exc.strerror
    if name == "import":
        return AT_IMPORT
    try:
        with open("/var/openfaas/secrets/" + name) as f:
            return f.read()
    except OSError as exc:
        return type(exc).__name__ + ": " + str(exc)
"""

OTHER = """\
import pathlib


def handle(event, context):
    path = pathlib.Path("/var/openfaas/secrets") / event.body.decode().strip()
    return path.read_text() if path.exists() else "absent " + str(path)
"""


def _stack(tmp_path, functions: dict) -> str:
    for name, (source, _) in functions.items():
        (tmp_path / name).mkdir()
        (tmp_path / name / "handler.py").write_text(source)
    path = tmp_path / "stack.yml"
    path.write_text(yaml.safe_dump({"version": 1.0, "provider": {"name": "openfaas"}, "functions": {
        name: {"lang": "python3-http" if name == "ts-other" else "python3", "handler": f"./{name}",
               "secrets": given} for name, (_, given) in functions.items()}}))
    return str(path)


def _call(fn: str, arg: str) -> str:
    return json.loads(cli("invoke", fn, "--raw", "-d", arg, "-o", "json").stdout)["result"]


def test_functions_read_their_own_secrets_by_path_and_no_others(ctx, tmp_path):
    cli("secret", "create", "ts-mine", "--from-literal", "mine")
    cli("secret", "create", "ts-theirs", "--from-literal", "theirs")
    stack = _stack(tmp_path, {"ts-reader": (READER, ["ts-mine"]),
                              "ts-other": (OTHER, ["ts-theirs"])})
    cli("deploy", "-f", stack)
    try:
        assert _call("ts-reader", "ts-mine") == "mine\n"  # the classic watchdog prints it
        assert _call("ts-reader", "import") == "mine\n"  # read when the module was imported
        assert _call("ts-reader", "list") == "['ts-mine']\n"
        assert _call("ts-reader", "ts-theirs") == (
            "FileNotFoundError: [Errno 2] No such file or directory: "
            "'/var/openfaas/secrets/ts-theirs'\n")
        assert _call("ts-reader", "write") == "OSError Read-only file system\n"
        assert _call("ts-other", "ts-theirs") == "theirs"
        assert _call("ts-other", "ts-mine") == "absent /var/openfaas/secrets/ts-mine"
        cli("secret", "update", "ts-mine", "--from-literal", "changed")
        assert _call("ts-reader", "ts-mine") == "changed\n"  # read when opened, as a mount

        # fused: one process, and still each member its own during its calls
        cli("fuse", "ts-reader", "ts-other", "--name", "ts-pair")
        try:
            assert _call("ts-reader", "ts-mine") == "changed\n"
            assert _call("ts-other", "ts-theirs") == "theirs"
            assert _call("ts-other", "ts-mine") == "absent /var/openfaas/secrets/ts-mine"
            assert "FileNotFoundError" in _call("ts-reader", "ts-theirs")
        finally:
            cli("unfuse", "ts-pair")
    finally:
        cli("rm", "ts-reader", "ts-other")


def test_a_function_deploys_only_with_secrets_that_exist(ctx, tmp_path):
    stack = _stack(tmp_path, {"ts-needs": (OTHER, ["ts-missing"])})
    _error(cli("deploy", "-f", stack, code=2), "ts-needs needs secret(s) ts-missing",
           "faastui secret create ts-missing")
    assert "ts-needs" not in cli("functions", "-q").stdout.split()


@pytest.mark.parametrize("backend,url", [("nuclio", "http://127.0.0.1:9"),
                                         ("invokers", "http://127.0.0.1:9")])
def test_a_backend_without_secrets_says_so_with_exit_3(backend, url):
    cli("context", "add", "no-secrets", "--backend", backend, "--url", url, "--use")
    for args in (["list"], ["create", "x", "--from-literal", "v"], ["rm", "x"]):
        _error(cli("secret", *args, code=3), f"the {backend} backend has no secrets")
