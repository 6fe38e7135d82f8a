"""Workload phases promise rates; arrivals deliver them (chi-square per window),
both from the generator and from a real emitter process pacing tasks into Redis."""

from __future__ import annotations

import itertools
import json
import math
import random
import time

import pytest
import redis

from backends.local.redis_server import RedisServer
from backends.workflow import protocol as P
from backends.workflow.emitter import run_emitter
from backends.workflow.phases import WorkloadError, load_workload, parse_workload

from .conftest import ROOT


def chi2_critical(df: int, z: float = 3.09) -> float:
    """Wilson-Hilferty: the chi-square value exceeded with probability ~0.001."""
    return df * (1 - 2 / (9 * df) + z * math.sqrt(2 / (9 * df))) ** 3


def window_counts(times, width, horizon):
    counts = [0] * int(round(horizon / width))
    for t in times:
        k = int(t // width)
        if 0 <= k < len(counts):
            counts[k] += 1
    return counts


def chi2(workload, times, width, horizon):
    observed = window_counts(times, width, horizon)
    expected = [workload.expected_count(i * width, (i + 1) * width) for i in range(len(observed))]
    stat = sum((o - e) ** 2 / e for o, e in zip(observed, expected) if e > 0)
    return stat, len([e for e in expected if e > 0]), observed, expected


def test_demo_phases_file_is_four_phases():
    w = load_workload(ROOT / "demo" / "phases.yaml")
    assert [p.type for p in w.phases] == ["steady", "oscillation", "burst", "ramp"]
    assert w.cycle_s == 90 and w.task_duration_ms == 100


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_generator_matches_every_phase_chi_square(seed):
    w = load_workload(ROOT / "demo" / "phases.yaml")
    times = []
    for t in w.arrivals(random.Random(seed)):
        if t >= w.cycle_s:
            break
        times.append(t)
    stat, df, _, _ = chi2(w, times, 1.0, w.cycle_s)
    assert stat < chi2_critical(df), (stat, df)
    assert abs(len(times) - w.expected_count(0, w.cycle_s)) < 4 * math.sqrt(len(times))


def test_oscillation_is_a_real_sine_and_bursts_spike():
    w = parse_workload(
        {
            "phases": [
                {"type": "oscillation", "duration_s": 20, "min_rate": 50, "max_rate": 450, "cycles": 2},
                {
                    "type": "burst",
                    "duration_s": 10,
                    "rate": 50,
                    "burst_rate": 500,
                    "burst_every_s": 2,
                    "burst_length_s": 0.5,
                },
            ]
        }
    )
    assert w.rate_at(0) == pytest.approx(50) and w.rate_at(5) == pytest.approx(450)
    assert w.rate_at(2.5) == pytest.approx(250) and w.rate_at(10) == pytest.approx(50)
    times = []
    for t in w.arrivals(random.Random(9)):
        if t >= w.cycle_s:
            break
        times.append(t)
    counts = window_counts(times, 0.5, 20.0)
    sine = [w.expected_count(i * 0.5, (i + 1) * 0.5) for i in range(40)]
    mc, ms = sum(counts) / 40, sum(sine) / 40
    corr = sum((a - mc) * (b - ms) for a, b in zip(counts, sine)) / math.sqrt(
        sum((a - mc) ** 2 for a in counts) * sum((b - ms) ** 2 for b in sine)
    )
    assert corr > 0.95
    in_burst = [t for t in times if 22.0 <= t < 22.5 or 24.0 <= t < 24.5]
    base = [t for t in times if 20.5 <= t < 21.5 or 22.5 <= t < 23.5]
    assert len(in_burst) > 5 * len(base) / 2  # 500/s vs 50/s, per second of each


def test_bad_phases_are_refused():
    with pytest.raises(WorkloadError, match="type must be one of"):
        parse_workload({"phases": [{"type": "sine", "duration_s": 1}]})
    with pytest.raises(WorkloadError, match="needs min_rate"):
        parse_workload([{"type": "oscillation", "duration_s": 1, "max_rate": 3}])
    with pytest.raises(WorkloadError, match="duration_s must be > 0"):
        parse_workload([{"type": "steady", "rate": 3}])
    with pytest.raises(WorkloadError, match="unknown field"):
        parse_workload([{"type": "steady", "rate": 3, "duration_s": 1, "rat": 2}])


def run_emitter_until(url, r, count, timeout=60.0):
    """A real emitter process, until ``count`` tasks were pushed; then TERMINATE it."""
    import multiprocessing as mp

    proc = mp.get_context("fork").Process(target=run_emitter, args=(url,))
    proc.start()
    try:
        deadline = time.monotonic() + timeout
        while int(r.get(P.ENQUEUED_KEY) or 0) < count and time.monotonic() < deadline:
            time.sleep(0.02)
        r.lpush(
            P.EMITTER_SYN_QUEUE,
            json.dumps({"type": "TERMINATE", "action": "SYN", "message": "test", "SYN_timestamp": 0.0}),
        )
        proc.join(15)
    finally:
        if proc.is_alive():
            proc.kill()
            proc.join()
    assert proc.exitcode == 0
    return [json.loads(x) for x in reversed(r.lrange(P.WORKER_QUEUE, 0, -1))]  # oldest first


def test_real_emitter_paces_tasks_at_the_promised_rates(tmp_path):
    """A real emitter process: its tasks' arrival times follow the phases (chi-square over
    the schedule each task carries, so a loaded machine cannot skew it), none leaves
    before its arrival, and each is pushed once."""
    w = parse_workload(
        {
            "seed": 11,
            "phases": [
                {"type": "steady", "duration_s": 1.0, "rate": 200},
                {"type": "oscillation", "duration_s": 2.0, "min_rate": 50, "max_rate": 650, "cycles": 1},
                {"type": "ramp", "duration_s": 1.0, "from_rate": 100, "to_rate": 500},
            ],
        }
    )
    n = sum(1 for _ in itertools.takewhile(lambda t: t < w.cycle_s, w.arrivals(random.Random(11))))
    with RedisServer(tmp_path / "redis") as srv:
        r = redis.Redis.from_url(srv.url)
        r.hset(P.RUN_KEY, "program_start", repr(time.time()))
        r.lpush(P.INPUT_QUEUE, json.dumps({"type": "workload", "run_id": "ph", "tasks": n, "workload": w.to_dict()}))
        tasks = run_emitter_until(srv.url, r, n)
        start = json.loads(r.lindex(P.PHASES_KEY, 0))["started_at"]
        r.close()
    assert len(tasks) == n and len({t["task_id"] for t in tasks}) == n
    assert all(t["task_deadline"] == 0.1 for t in tasks)
    assert all(t["task_emit_timestamp"] >= t["task_gen_timestamp"] - 1e-6 for t in tasks)
    arrivals = [t["task_gen_timestamp"] - start for t in tasks]
    stat, df, observed, expected = chi2(w, arrivals, 0.25, w.cycle_s)
    assert stat < chi2_critical(df), (stat, df, observed, [round(e) for e in expected])


def seed_phase_expected(msg: dict, a: float, b: float) -> float:
    """The seed's rate integrated over [a, b], scaled to target_tasks (written here from
    the seed's formula, independently of backends.workflow.phases)."""
    T = msg["phase_duration"]

    def F(t):  # integral of the shape from 0 to t
        if msg["phase_pattern"] == "steady":
            return t
        lo, hi, c = msg["oscillation_min"], msg["oscillation_max"], msg["oscillation_cycles"]
        amp, mid, w = (hi - lo) / 2, (hi + lo) / 2, 2 * math.pi * c / T
        return mid * t + amp * (1 - math.cos(w * t)) / w

    return msg["target_tasks"] * (F(b) - F(a)) / F(T)


def test_seed_phase_config_messages_drive_the_emitter_and_the_sine_is_realised(tmp_path):
    """The seed generator's four phase_config messages (here 200 tasks/s base, 2 s phases):
    exactly target_tasks per phase, and per 0.1 s window the arrivals follow the steady
    rate and the sine (chi-square, seeded), which the seed's own even spreading fails."""
    from backends.workflow.seed import phase_configs

    msgs = phase_configs(base_rate=12000, phase_duration=2.0)
    assert [m["target_tasks"] for m in msgs] == [120, 600, 400, 400]
    assert [m["phase_pattern"] for m in msgs] == ["steady", "steady", "oscillation_slow", "oscillation_fast"]
    with RedisServer(tmp_path / "redis") as srv:
        r = redis.Redis.from_url(srv.url)
        r.hset(P.RUN_KEY, "program_start", repr(time.time()))
        for m in msgs:  # as the seed's task_generator.py pushes them
            r.lpush(P.INPUT_QUEUE, json.dumps(m))
        tasks = run_emitter_until(srv.url, r, 1520)
        phases = [json.loads(x) for x in r.lrange(P.PHASES_KEY, 0, -1)]
        r.close()
    assert len(tasks) == 1520 and len({t["task_id"] for t in tasks}) == 1520
    assert [p["tasks"] for p in phases] == [120, 600, 400, 400]
    width, i = 0.1, 0
    for msg, phase in zip(msgs, phases):
        mine = tasks[i : i + msg["target_tasks"]]
        i += msg["target_tasks"]
        offsets = [t["task_gen_timestamp"] - phase["started_at"] for t in mine]
        assert all(0 <= x < msg["phase_duration"] for x in offsets)
        observed = window_counts(offsets, width, msg["phase_duration"])
        expected = [seed_phase_expected(msg, k * width, (k + 1) * width) for k in range(len(observed))]
        stat = sum((o - e) ** 2 / e for o, e in zip(observed, expected))
        assert stat < chi2_critical(len(observed)), (msg["phase_name"], stat, observed)
        if msg["phase_pattern"].startswith("oscillation"):
            # the seed spreads a phase's tasks evenly over its windows: that fails this test
            even = [msg["target_tasks"] / len(observed)] * len(observed)
            even_stat = sum((o - e) ** 2 / e for o, e in zip(even, expected))
            assert even_stat > chi2_critical(len(observed))
    # the seed's task format, its image_processing tasks
    t = tasks[0]
    assert t["task_application"] == "image_processing" and t["task_priority"] == "normal"
    assert t["task_deadline"] == max(0.1, min(30.0, 2 * t["task_processing_time_simulated"]))
    assert isinstance(t["task_data_size"], int) and 512 <= t["task_data_size"] <= 4096
