"""The engine's durable state file and its function logs, as units: atomic writes, a
corrupt file set aside, the cluster chosen on start, rotation at the cap, tail across
rotated files."""

from __future__ import annotations

import json

import pytest

from backends.errors import BackendError, InvalidRequest
from backends.local.daemon import resolve_cluster
from backends.local.durable import STATE_FILE, cluster_from_dict, cluster_to_dict, load_state, write_json_atomic
from backends.local.logs import FunctionLog, LogLimits, tail
from backends.local.nodes import NodeSpec


def test_write_json_atomic_replaces_whole_and_leaves_no_temp_file(tmp_path):
    path = tmp_path / STATE_FILE
    write_json_atomic(path, {"format": 1, "n": 1})
    write_json_atomic(path, {"format": 1, "n": 2})
    assert json.loads(path.read_text()) == {"format": 1, "n": 2}
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    assert sorted(p.name for p in tmp_path.iterdir()) == [STATE_FILE]


def test_a_write_that_fails_keeps_the_old_file(tmp_path):
    path = tmp_path / STATE_FILE
    write_json_atomic(path, {"format": 1, "n": 1})
    with pytest.raises(TypeError):
        write_json_atomic(path, {"format": 1, "n": object()})  # not JSON: fails mid-write
    assert json.loads(path.read_text()) == {"format": 1, "n": 1}
    assert sorted(p.name for p in tmp_path.iterdir()) == [STATE_FILE]


def test_a_corrupt_state_file_is_set_aside_with_a_warning(tmp_path):
    (tmp_path / STATE_FILE).write_text('{"format": 1, "clu')
    state, warning = load_state(tmp_path)
    assert state == {} and "could not be read" in warning and "starting afresh" in warning
    assert (tmp_path / f"{STATE_FILE}.corrupt").exists()
    assert not (tmp_path / STATE_FILE).exists()
    assert load_state(tmp_path) == ({}, None)


def test_the_cluster_comes_from_the_flags_else_the_last_run_else_defaults(tmp_path):
    cluster = tmp_path / "c.yaml"
    cluster.write_text("nodes:\n  - {name: edge-1, cpus: 1, memory_mb: 512, labels: {zone: a}}\n")
    specs, _, record, how = resolve_cluster(cluster, None, {})
    assert [s.name for s in specs] == ["edge-1"] and how == f"from {cluster.resolve()}"
    saved = {"cluster": record}
    specs, _, again, how = resolve_cluster(None, None, saved)
    assert specs == [NodeSpec("edge-1", 1.0, 512.0, 16, {"zone": "a"})]
    assert how == f"resumed from the last run (first chosen from {cluster.resolve()})"
    assert again == record
    specs, _, _, how = resolve_cluster(None, 3, saved)
    assert [s.name for s in specs] == ["node-1", "node-2", "node-3"] and how == "3 nodes from --nodes"
    specs, _, _, how = resolve_cluster(None, None, {})
    assert len(specs) == 2 and how.startswith("2 default nodes")


def test_a_malformed_saved_cluster_is_a_clear_error():
    with pytest.raises(BackendError, match="the saved cluster is malformed"):
        cluster_from_dict({"nodes": [{"name": "x"}]})
    assert cluster_from_dict(cluster_to_dict([NodeSpec("a")], {"keep_alive_s": 5}, "test")) == (
        [NodeSpec("a")],
        {"keep_alive_s": 5},
    )


def test_a_function_log_rotates_before_it_passes_its_cap(tmp_path):
    log = FunctionLog(tmp_path / "f.log", LogLimits(max_bytes=100, backups=2))
    for i in range(30):
        log.write(f"{i:02d} {'x' * 16}\n".encode())  # 20 bytes a line
    log.close()
    sizes = {p.name: p.stat().st_size for p in tmp_path.iterdir()}
    assert set(sizes) == {"f.log", "f.log.1", "f.log.2"} and max(sizes.values()) <= 100
    assert tail(tmp_path / "f.log", 12) == [f"{i:02d} {'x' * 16}" for i in range(18, 30)]
    assert log.rotations == 5


def test_one_write_bigger_than_the_cap_is_split_and_nothing_passes_it(tmp_path):
    log = FunctionLog(tmp_path / "f.log", LogLimits(max_bytes=1000, backups=1))
    log.write(b"y" * 3500)
    log.close()
    sizes = sorted(p.stat().st_size for p in tmp_path.iterdir())
    assert sizes == [500, 1000]  # the rest rotated away: (backups + 1) * cap at most


def test_no_backups_keeps_only_the_current_file(tmp_path):
    log = FunctionLog(tmp_path / "f.log", LogLimits(max_bytes=10, backups=0))
    log.write(b"0123456789")
    log.write(b"abc\n")
    log.close()
    assert [p.name for p in tmp_path.iterdir()] == ["f.log"]
    assert (tmp_path / "f.log").read_bytes() == b"abc\n"


def test_tail_reads_from_the_end_across_chunks(tmp_path):
    path = tmp_path / "big.log"
    path.write_bytes(b"".join(f"line {i}\n".encode() for i in range(50000)))
    assert tail(path, 3, chunk=100) == ["line 49997", "line 49998", "line 49999"]
    assert tail(tmp_path / "none.log", 5) == []


def test_log_limits_from_settings():
    assert LogLimits.from_settings({"max_bytes": "2048", "backups": 0}) == LogLimits(2048, 0)
    for bad, match in (
        ({"max_bytes": 0}, "too small"),
        ({"size": 1}, "unknown logs setting"),
        ({"backups": "x"}, "whole number"),
    ):
        with pytest.raises(ValueError, match=match):
            LogLimits.from_settings(bad)


def test_the_daemon_refuses_a_bad_pair():
    from backends.local.daemon import _pairs

    with pytest.raises(InvalidRequest, match="--http takes KEY=VALUE"):
        _pairs(["header_timeout_s"], "--http")
    assert _pairs(["a=1", "b = 2"], "--logs") == {"a": "1", "b": "2"}
