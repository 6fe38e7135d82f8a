"""The fusion optimizer: the pure planner on hand-made call graphs, then the whole loop on a
real engine (traffic -> call graph -> `faastui optimize-fusion --apply` -> calls become local).
"""

from __future__ import annotations

import json

import pytest

from backends.base import Backend, Capability
from backends.fusionizer import Edge, Facts, Plan, Step, plan
from backends.model import Function, FusionGroup, Node, Snapshot
from tests.conftest import FUNCTIONS, cli, run


def fn(name: str, memory: float = 64, **labels: str) -> Function:
    return Function(name=name, memory_mb=memory, labels=dict(labels))


def fns(*names: str, memory: float = 64) -> list[Function]:
    return [fn(n, memory) for n in names]


def groups_of(p: Plan) -> dict[str, list[str]]:
    return {g.name: g.functions for g in p.groups}


# ---- the planner ------------------------------------------------------------------------
def test_heavy_chain_becomes_one_group_with_reasons():
    edges = [("a", "b", 120), ("b", "c", 80), ("a", "x", 3)]
    p = plan(edges, fns("a", "b", "c", "x"))
    assert groups_of(p) == {"fg-a": ["a", "b", "c"]}
    assert p.steps == [Step("fuse", "fg-a", ["a", "b", "c"], p.groups[0].reason)]
    assert "a→b 120 sync calls, 100% of b's calls" in p.groups[0].reason
    assert "b→c 80 sync calls" in p.groups[0].reason
    assert p.groups[0].memory_mb == 192 and p.groups[0].status == "new"


def test_edges_as_tuples_dicts_or_edges_plan_the_same_and_duplicates_add_up():
    as_tuples = plan([("a", "b", 6), ("a", "b", 6)], fns("a", "b"))
    as_dicts = plan([{"caller": "a", "callee": "b", "calls": 12}], fns("a", "b"))
    as_edges = plan([Edge("a", "b", 12)], fns("a", "b"))
    assert as_tuples.groups == as_dicts.groups == as_edges.groups
    assert groups_of(as_tuples) == {"fg-a": ["a", "b"]}


def test_callee_shared_half_and_half_is_not_pulled_in():
    p = plan([("a", "s", 50), ("b", "s", 50)], fns("a", "b", "s"))
    assert p.empty and p.groups == []
    # a caller that makes 90% of the callee's calls does pull it in
    p = plan([("a", "s", 90), ("b", "s", 10)], fns("a", "b", "s"), min_calls=5)
    assert groups_of(p) == {"fg-a": ["a", "s"]}


def test_light_edges_stay_apart():
    assert plan([("a", "b", 9)], fns("a", "b")).empty
    assert groups_of(plan([("a", "b", 9)], fns("a", "b"), min_calls=9)) == {"fg-a": ["a", "b"]}


def test_max_size_splits_greedily_by_heaviest_edge():
    edges = [("a", "b", 100), ("b", "c", 90), ("c", "d", 80), ("d", "e", 70)]
    p = plan(edges, fns(*"abcde"), max_size=2)
    assert groups_of(p) == {"fg-a": ["a", "b"], "fg-c": ["c", "d"]}
    assert any("b→c" in s and "max 2" in s for s in p.skipped)


def test_max_memory_keeps_a_group_inside_one_worker():
    functions = [fn("a", 256), fn("b", 256), fn("c", 600)]
    p = plan([("a", "b", 50), ("b", "c", 40)], functions, max_memory_mb=1000)
    assert groups_of(p) == {"fg-a": ["a", "b"]}
    assert any("b→c" in s and "1112 MB" in s for s in p.skipped)


def test_existing_group_over_the_limits_is_split_and_regrouped_within_them():
    current = [FusionGroup("big", ["a", "b", "c"], calls_local=900)]
    p = plan([("a", "b", 100)], [fn("a", 100), fn("b", 100), fn("c", 500)], current, max_memory_mb=300)
    assert [str(s) for s in p.steps] == ["unfuse big (a, b, c)", "fuse a b as fg-a"]
    assert "700 MB" in p.steps[0].reason


def test_no_fuse_and_long_running_are_never_fused():
    functions = [
        fn("a"),
        fn("b", **{"faastui.io/no-fuse": "true"}),
        fn("c"),
        fn("w", **{"faastui.io/long-running": "true"}),
    ]
    p = plan([("a", "b", 100), ("c", "w", 100), ("a", "c", 50)], functions)
    assert groups_of(p) == {"fg-a": ["a", "c"]}
    assert any("b is never fused" in s for s in p.skipped)
    assert any("w is never fused" in s for s in p.skipped)
    # an existing group with a member labelled no-fuse since is split
    current = [FusionGroup("old", ["a", "b"], calls_local=500)]
    p = plan([("a", "b", 100)], functions, current)
    assert p.steps[0].action == "unfuse" and p.steps[0].group == "old"
    assert "no-fuse" in p.steps[0].reason


def test_already_optimal_grouping_is_an_empty_plan():
    current = [FusionGroup("pair", ["a", "b"], calls_local=30)]
    p = plan([("a", "b", 100)], fns("a", "b"), current)
    assert p.empty and p.steps == []
    assert [(g.name, g.status) for g in p.groups] == [("pair", "keep")]


def test_existing_group_grows_under_its_own_name_and_merges_others():
    current = [FusionGroup("pair", ["a", "b"]), FusionGroup("zz", ["c", "d"])]
    p = plan([("b", "c", 100), ("a", "e", 20)], fns(*"abcde"), current, max_size=5)
    assert groups_of(p) == {"pair": ["a", "b", "c", "d", "e"]}
    assert [str(s) for s in p.steps] == ["unfuse pair (a, b)", "unfuse zz (c, d)", "fuse a b c d e as pair"]
    assert p.steps[0].reason == "grows into pair" and p.steps[1].reason == "merged into pair"
    assert p.groups[0].status == "changed" and p.groups[0].replaces == ["pair", "zz"]


def test_idle_group_is_kept_unless_unfuse_idle():
    current = [FusionGroup("quiet", ["a", "b"], calls_local=0)]
    kept = plan([], fns("a", "b"), current)
    assert kept.empty and groups_of(kept) == {"quiet": ["a", "b"]}
    split = plan([], fns("a", "b"), current, unfuse_idle=True)
    assert [str(s) for s in split.steps] == ["unfuse quiet (a, b)"] and split.groups == []
    assert split.steps[0].reason.startswith("idle")
    # local calls counted since fusing are traffic: not idle
    busy = [FusionGroup("quiet", ["a", "b"], calls_local=25)]
    assert plan([], fns("a", "b"), busy, unfuse_idle=True).empty


def test_generated_name_never_collides_with_a_function_or_a_kept_group():
    current = [FusionGroup("fg-a", ["x", "y"], calls_local=50)]
    p = plan([("a", "b", 40)], fns("a", "b", "x", "y"), current)
    assert groups_of(p) == {"fg-a-2": ["a", "b"], "fg-a": ["x", "y"]}
    assert [str(s) for s in p.steps] == ["fuse a b as fg-a-2"]


def test_plan_is_json_and_thresholds_are_checked():
    p = plan([("a", "b", 20)], fns("a", "b"))
    data = json.loads(json.dumps(p.to_dict()))
    assert data["steps"][0] == {
        "action": "fuse",
        "group": "fg-a",
        "functions": ["a", "b"],
        "reason": p.groups[0].reason,
    }
    assert data["thresholds"]["min_calls"] == 10 and data["applied"] is False
    assert Facts.of(fn("k", **{"faastui.io/no-fuse": "yes"})).no_fuse
    with pytest.raises(ValueError):
        plan([], [], min_share=0)


class RecordingBackend(Backend):
    """In memory: a call graph, functions and groups; fuse/unfuse are recorded."""

    name = "recording"
    capabilities = Capability.FUSE

    def __init__(self, edges, functions, groups, fail_on: str | None = None):
        self.edges, self.fns, self.groups = edges, functions, list(groups)
        self.log: list[str] = []
        self.fail_on = fail_on

    async def snapshot(self) -> Snapshot:
        return Snapshot(
            nodes=[Node("n1", memory_mb=512), Node("n2", memory_mb=1024)], functions=self.fns, fusion_groups=self.groups
        )

    async def call_graph(self):
        return self.edges

    async def unfuse(self, group):
        self.log.append(f"unfuse {group}")
        self.groups = [g for g in self.groups if g.name != group]
        return []

    async def fuse(self, functions, name=None):
        from backends.errors import Conflict

        if name == self.fail_on:
            raise Conflict(f"the name {name!r} is taken")
        self.log.append(f"fuse {name}")
        self.groups.append(FusionGroup(name, list(functions)))
        return self.groups[-1]


def test_optimize_applies_unfuse_before_fuse_and_defaults_memory_to_the_largest_node():
    from backends.fusionizer import optimize

    b = RecordingBackend(
        [("b", "c", 100), ("x", "y", 50)], fns("a", "b", "c", "x", "y", memory=300), [FusionGroup("ab", ["a", "b"])]
    )
    dry = run(optimize(b))
    assert b.log == [] and not dry.applied and dry.thresholds.max_memory_mb == 1024
    done = run(optimize(b, apply=True))
    assert b.log == ["unfuse ab", "fuse ab", "fuse fg-x"]
    assert done.applied and [str(s) for s in done.done] == ["unfuse ab (a, b)", "fuse a b c as ab", "fuse x y as fg-x"]
    assert run(optimize(b)).empty  # applied once, nothing left to do


def test_a_failed_step_says_what_was_done_before_it():
    from backends.errors import Conflict
    from backends.fusionizer import optimize

    b = RecordingBackend([("a", "b", 100), ("x", "y", 50)], fns("a", "b", "x", "y"), [], fail_on="fg-x")
    with pytest.raises(Conflict) as err:
        run(optimize(b, apply=True))
    assert "fuse x y as fg-x failed" in str(err.value) and "fuse a b as fg-a" in str(err.value)


# ---- the CLI ----------------------------------------------------------------------------
class NoFusionBackend(Backend):
    """Nodes and nothing else: no fusion, no call graph."""

    name = "nofusion"

    def __init__(self, **_kw):
        pass

    async def snapshot(self) -> Snapshot:
        return Snapshot(nodes=[Node(name="only")])


def test_backend_without_fusion_exits_3(monkeypatch):
    from backends import registry

    monkeypatch.setitem(registry._BUILTIN, "nofusion", "tests.test_fusion_optimizer:NoFusionBackend")
    cli("context", "add", "nf", "--backend", "nofusion", "--use")
    r = cli("optimize-fusion", code=3)
    assert r.stderr.startswith("error: the nofusion backend cannot fuse")


def test_call_graph_default_is_unsupported():
    from backends.errors import Unsupported

    with pytest.raises(Unsupported):
        run(NoFusionBackend().call_graph())
    assert not NoFusionBackend().supports(Capability.FUSE)


def test_bad_thresholds_are_usage_errors():
    assert "min-share" in cli("optimize-fusion", "--min-share", "1.5", code=2).stderr
    assert "max-size" in cli("optimize-fusion", "--max-size", "1", code=2).stderr


# ---- the real engine --------------------------------------------------------------------
def test_optimizer_fuses_real_traffic_and_calls_become_local(fresh_engine):
    async def traffic(b, n):
        await b.deploy(FUNCTIONS / "fusion-front")
        await b.deploy(FUNCTIONS / "fusion-back")
        out = [await b.invoke("fusion-front", {"text": f"t{i}"}) for i in range(n)]
        return out, await b.call_graph()

    async def after(b):
        groups = await b.fusion_groups()
        fns_ = {f.name: f.fusion_group for f in await b.functions()}
        calls = [await b.invoke("fusion-front", {"text": "ab"}) for _ in range(3)]
        return groups, fns_, calls, await b.fusion_groups(), await b.call_graph()

    async def using(coro_fn):
        async with fresh_engine.backend() as b:
            return await coro_fn(b)

    calls, graph = run(using(lambda b: traffic(b, 6)))
    assert all(c.status == "ok" for c in calls)
    assert ("fusion-front", "fusion-back", 6) in graph

    cli("context", "add", "t", "--url", fresh_engine.url, "--use")
    # the default min-calls (10) is more than the traffic: nothing to do
    quiet = json.loads(cli("optimize-fusion", "-o", "json").stdout)
    assert quiet["steps"] == [] and quiet["groups"] == []
    # dry run: a plan, nothing changed
    dry = cli("optimize-fusion", "--min-calls", "5", "-o", "json")
    planned = json.loads(dry.stdout)
    assert [(s["action"], s["group"], s["functions"]) for s in planned["steps"]] == [
        ("fuse", "fg-fusion-back", ["fusion-back", "fusion-front"])
    ]
    assert "fusion-front→fusion-back 6 sync calls, 100% of fusion-back's calls" in planned["steps"][0]["reason"]
    assert planned["applied"] is False and "--apply" in dry.stderr
    assert run(using(lambda b: b.fusion_groups())) == []
    table = cli("optimize-fusion", "--min-calls", "5").stdout
    assert "fg-fusion-back" in table and "fuse" in table

    applied = json.loads(cli("optimize-fusion", "--min-calls", "5", "--apply", "-o", "json").stdout)
    assert applied["applied"] is True
    assert [s["group"] for s in applied["done"]] == ["fg-fusion-back"]

    groups, members, calls, groups_after, graph_after = run(using(after))
    assert [(g.name, sorted(g.functions)) for g in groups] == [("fg-fusion-back", ["fusion-back", "fusion-front"])]
    assert members["fusion-front"] == members["fusion-back"] == "fg-fusion-back"
    assert all(c.status == "ok" and c.result["back"] == {"text": "ba"} for c in calls)
    group = groups_after[0]
    assert group.calls_local == 3 and group.calls_remote == 0, "calls between them are local now"
    assert ("fusion-front", "fusion-back", 6) in graph_after, "no new remote calls were recorded"

    # running it again changes nothing
    again = cli("optimize-fusion", "--min-calls", "5", "--apply")
    assert "nothing to change" in again.stderr and "keep" in again.stdout


# ---- continuously: rounds judged on the last window ---------------------------------------
def test_window_is_the_calls_since_the_previous_graph():
    from backends.fusionizer import window

    before = [("a", "b", 100), ("x", "y", 40), ("gone", "b", 7), ("r", "s", 50)]
    now = [("a", "b", 100), ("x", "y", 25), ("x", "y", 30), ("new", "b", 12), ("r", "s", 20)]
    assert window(before, now) == [
        Edge("r", "s", 20),  # went down: the counter restarted, all 20 are new
        Edge("x", "y", 15),  # duplicates summed (55), minus 40
        Edge("new", "b", 12),
    ]  # new edge: all of it; a→b (no new calls) and gone→b left out
    assert window([], now) == window((), [Edge.of(e) for e in now]) != []
    assert window(now, now) == [] and window(now, []) == []


def collect(rounds_seen: list):
    def on_round(round_no, p):
        rounds_seen.append((round_no, [str(s) for s in (p.done if p.applied else p.steps)]))

    return on_round


def test_a_later_round_sees_only_the_calls_since_the_round_before():
    from backends.fusionizer import optimize_every

    b = RecordingBackend([("a", "b", 50)], fns("a", "b", "x", "y"), [])
    seen: list = []
    on_round = collect(seen)

    def then(round_no, p):
        on_round(round_no, p)
        b.edges = [("a", "b", 50), ("x", "y", 30)]  # a→b went quiet; x→y is new and heavy

    assert run(optimize_every(b, 0.01, rounds=2, on_round=then)) == 2
    assert seen == [
        (1, ["fuse a b as fg-a"]),  # round 1: all calls so far, as optimize
        (2, ["fuse x y as fg-x"]),
    ]  # round 2: a→b had no calls in the window
    assert b.log == [], "a dry run changes nothing"


def test_unfuse_idle_judges_the_local_calls_of_the_window_and_async_callbacks_work():
    from backends.fusionizer import optimize_every

    b = RecordingBackend(
        [],
        fns("a", "b", "c", "d"),
        [FusionGroup("quiet", ["a", "b"], calls_local=50), FusionGroup("busy", ["c", "d"], calls_local=50)],
    )
    seen: list = []

    async def on_round(round_no, p):
        collect(seen)(round_no, p)
        b.groups = [
            g if g.name != "busy" else FusionGroup("busy", ["c", "d"], calls_local=70) for g in b.groups
        ]  # 20 local calls in busy, none in quiet

    run(optimize_every(b, 0.01, rounds=2, apply=True, unfuse_idle=True, on_round=on_round))
    assert seen == [(1, []), (2, ["unfuse quiet (a, b)"])]
    assert b.log == ["unfuse quiet"] and [g.name for g in b.groups] == ["busy"]


class FlakyBackend(RecordingBackend):
    """Unreachable for the first ``down`` call-graph reads."""

    def __init__(self, *args, down: int):
        super().__init__(*args)
        self.down = down

    async def call_graph(self):
        from backends.errors import Unreachable

        if self.down:
            self.down -= 1
            raise Unreachable("engine not answering")
        return self.edges


def test_a_failed_round_is_reported_and_the_next_one_covers_its_calls():
    from backends.errors import Unreachable
    from backends.fusionizer import optimize_every

    seen, errors = [], []
    b = FlakyBackend([("a", "b", 50)], fns("a", "b"), [], down=1)
    n = run(
        optimize_every(
            b, 0.01, rounds=2, apply=True, on_round=collect(seen), on_error=lambda i, e: errors.append((i, e.message))
        )
    )
    assert n == 2 and errors == [(1, "engine not answering")]
    assert seen == [(2, ["fuse a b as fg-a"])], "no good round before: all calls so far"
    # without on_error the first failure is raised; with it, the max_failures-th in a row
    with pytest.raises(Unreachable):
        run(optimize_every(FlakyBackend([], [], [], down=1), 0.01, rounds=2))
    errors.clear()
    with pytest.raises(Unreachable):
        run(
            optimize_every(
                FlakyBackend([], [], [], down=9),
                0.01,
                max_failures=3,
                on_error=lambda i, e: errors.append((i, e.message)),
            )
        )
    assert [i for i, _ in errors] == [1, 2]


def test_optimize_every_refuses_bad_arguments_and_backends_without_fusion_at_once():
    from backends.errors import InvalidRequest, Unsupported
    from backends.fusionizer import optimize_every

    b = RecordingBackend([], [], [])
    for bad in ({"every": 0}, {"every": 1, "rounds": 0}, {"every": 1, "min_share": 2}):
        with pytest.raises(InvalidRequest):
            run(optimize_every(b, **bad))
    with pytest.raises(Unsupported):
        run(optimize_every(NoFusionBackend(), 0.01, on_error=lambda *_: None))


def test_optimize_every_runs_until_cancelled():
    import asyncio

    from backends.fusionizer import optimize_every

    async def main():
        b = RecordingBackend([], [], [])
        seen: list = []
        task = asyncio.create_task(optimize_every(b, 0.01, on_round=collect(seen)))
        while len(seen) < 3:
            await asyncio.sleep(0.005)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        return seen

    assert [i for i, _ in run(main())][:3] == [1, 2, 3]


def test_every_and_rounds_are_checked():
    assert "--every" in cli("optimize-fusion", "--every", "0", code=2).stderr
    assert "--every" in cli("optimize-fusion", "--every", "-1", code=2).stderr
    assert "--rounds" in cli("optimize-fusion", "--every", "1", "--rounds", "0", code=2).stderr
    assert "needs --every" in cli("optimize-fusion", "--rounds", "2", code=2).stderr


def test_every_applies_once_and_the_next_round_keeps_it_on_a_real_engine(fresh_engine):
    async def traffic(b):
        await b.deploy(FUNCTIONS / "fusion-front")
        await b.deploy(FUNCTIONS / "fusion-back")
        return [await b.invoke("fusion-front", {"text": f"t{i}"}) for i in range(4)]

    async def using(coro_fn):
        async with fresh_engine.backend() as b:
            return await coro_fn(b)

    assert all(c.status == "ok" for c in run(using(traffic)))
    cli("context", "add", "t", "--url", fresh_engine.url, "--use")
    r = cli("optimize-fusion", "--apply", "--every", "0.2", "--rounds", "2", "--min-calls", "3", "-o", "json")
    lines = [json.loads(line) for line in r.stdout.splitlines()]
    assert [d["round"] for d in lines] == [1, 2], r.stdout
    first, second = lines
    assert first["applied"] and [(s["action"], s["group"]) for s in first["done"]] == [("fuse", "fg-fusion-back")]
    assert "fusion-front→fusion-back 4 sync calls" in first["done"][0]["reason"]
    assert second["steps"] == [] and [(g["name"], g["status"]) for g in second["groups"]] == [
        ("fg-fusion-back", "keep")
    ]
    assert "round 1 (all calls so far): applied 1 step(s)" in r.stderr
    assert "round 2 (calls since round 1): nothing to change" in r.stderr
    groups = run(using(lambda b: b.fusion_groups()))
    assert [(g.name, sorted(g.functions)) for g in groups] == [("fg-fusion-back", ["fusion-back", "fusion-front"])]


def test_every_stops_on_ctrl_c_with_exit_0(fresh_engine):
    import signal
    import subprocess
    import sys

    cli("context", "add", "t", "--url", fresh_engine.url, "--use")  # env: the test's XDG dirs
    proc = subprocess.Popen(
        [sys.executable, "-m", "faastui", "optimize-fusion", "--every", "0.1", "-o", "json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        first = json.loads(proc.stdout.readline())
        assert first["round"] == 1 and first["steps"] == []
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, err
    assert "stopped after" in err and "Traceback" not in err
    assert all(json.loads(line)["round"] > 1 for line in out.splitlines())
