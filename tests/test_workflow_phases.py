"""Workload phases promise rates; arrivals deliver them (chi-square per window),
both from the generator and from a real emitter process pacing tasks into Redis."""

from __future__ import annotations

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
    w = parse_workload({"phases": [
        {"type": "oscillation", "duration_s": 20, "min_rate": 50, "max_rate": 450, "cycles": 2},
        {"type": "burst", "duration_s": 10, "rate": 50, "burst_rate": 500, "burst_every_s": 2,
         "burst_length_s": 0.5}]})
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
    corr = (sum((a - mc) * (b - ms) for a, b in zip(counts, sine))
            / math.sqrt(sum((a - mc) ** 2 for a in counts) * sum((b - ms) ** 2 for b in sine)))
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


def test_real_emitter_paces_tasks_at_the_promised_rates(tmp_path):
    """A real emitter process: tasks land in worker_queue when the phases say."""
    w = parse_workload({"seed": 11, "phases": [
        {"type": "steady", "duration_s": 1.0, "rate": 200},
        {"type": "oscillation", "duration_s": 2.0, "min_rate": 50, "max_rate": 650, "cycles": 1},
        {"type": "ramp", "duration_s": 1.0, "from_rate": 100, "to_rate": 500}]})
    n = 10_000  # more than one pass: the emitter is stopped after the horizon
    import multiprocessing as mp

    with RedisServer(tmp_path / "redis") as srv:
        r = redis.Redis.from_url(srv.url)
        r.lpush(P.INPUT_QUEUE, json.dumps({"run_id": "ph", "tasks": n, "workload": w.to_dict()}))
        proc = mp.get_context("fork").Process(target=run_emitter, args=(srv.url,))
        proc.start()
        deadline = time.monotonic() + 15
        while not r.hexists(P.RUN_KEY, "t0") and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(w.cycle_s + 0.3)
        r.set(P.STOP_KEY, "1")
        proc.join(10)
        t0 = float(r.hget(P.RUN_KEY, "t0"))
        tasks = [json.loads(x) for x in r.lrange(P.WORKER_QUEUE, 0, -1)]
        r.close()
    emitted = [t["task_emit_timestamp"] - t0 for t in tasks]
    assert all(t["task_deadline"] == 0.1 for t in tasks)
    # pacing: each task leaves within a few ms of its arrival time
    lags = sorted(t["task_emit_timestamp"] - t["task_gen_timestamp"] for t in tasks)
    assert lags[len(lags) // 2] < 0.01
    stat, df, observed, expected = chi2(w, emitted, 0.25, w.cycle_s)
    assert stat < chi2_critical(df), (stat, df, observed, [round(e) for e in expected])
