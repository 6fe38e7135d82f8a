"""The engine's fuse and unfuse switch without downtime: the unit that takes over is started
and answering before the old one is retired, calls in flight finish, and a client calling
every 10 ms through repeated regroups sees no failed call. Real daemon, real workers.
"""

from __future__ import annotations

import threading
import time

import httpx

from tests.conftest import FUNCTIONS, run


class Caller(threading.Thread):
    """Calls ``fn`` through the engine's OpenFaaS route every 10 ms until stopped; keeps
    every failure (status, body or exception) it saw."""

    def __init__(self, url: str, fn: str, body: bytes, check):
        super().__init__(daemon=True)
        self.url, self.fn, self.body, self.check = url, fn, body, check
        self.calls, self.failures = 0, []
        self.halt = threading.Event()

    def run(self):
        with httpx.Client(base_url=self.url, timeout=30) as http:
            while not self.halt.is_set():
                try:
                    resp = http.post(
                        f"/function/{self.fn}", content=self.body, headers={"Content-Type": "application/json"}
                    )
                    if resp.status_code != 200 or not self.check(resp):
                        self.failures.append((resp.status_code, resp.text[:200]))
                except httpx.HTTPError as exc:
                    self.failures.append(repr(exc))
                self.calls += 1
                self.halt.wait(0.01)

    def stop(self):
        self.halt.set()
        self.join(30)


def test_regroups_under_calls_every_10ms_fail_no_call(fresh_engine):
    async def deploy(b):
        await b.deploy(FUNCTIONS / "fusion-front")
        await b.deploy(FUNCTIONS / "fusion-back")
        await b.deploy(FUNCTIONS / "echo")

    run(_with(fresh_engine, deploy))
    front = Caller(fresh_engine.url, "fusion-front", b'{"text": "ab"}', lambda r: r.json()["back"] == {"text": "ba"})
    back = Caller(fresh_engine.url, "fusion-back", b'{"text": "xy"}', lambda r: r.json() == {"text": "yx"})
    front.start()
    back.start()

    async def regroup(b):
        for i in range(4):
            await b.fuse(["fusion-front", "fusion-back"], f"pair-{i}")
            calls = front.calls
            while front.calls < calls + 3:  # a few of the client's calls land on the group
                time.sleep(0.01)
            await b.unfuse(f"pair-{i}")
            calls = front.calls
            while front.calls < calls + 3:
                time.sleep(0.01)
        return await b.fusion_groups(), await b.events()

    try:
        groups, events = run(_with(fresh_engine, regroup))
    finally:
        front.stop()
        back.stop()
    assert front.failures == [] and back.failures == [], (front.failures[:3], back.failures[:3])
    assert front.calls > 20 and back.calls > 20
    assert groups == []
    # the order of each switch: the unit taking over started before the old one stopped
    seen = [
        (e["kind"], e.get("unit") or e.get("group"), e.get("reason"))
        for e in events
        if e["kind"] in ("start", "stop", "fuse", "unfuse")
    ]
    for i in range(4):
        group = f"pair-{i}"
        fused, unfused = seen.index(("fuse", group, None)), seen.index(("unfuse", group, None))
        began = seen.index(("start", group, None))
        since = seen.index(("unfuse", f"pair-{i - 1}", None)) if i else 0
        retired = [k for k, e in enumerate(seen[since:fused], since) if e[2] == "fused"]
        assert began < fused and all(began < k for k in retired), seen
        # each member's own worker starts before the group's stops (at the switch, or after
        # the call it had in flight); a busy member may start a second one, as any function
        group_gone = next(k for k, e in enumerate(seen) if e[:2] == ("stop", group))
        first_alone = {
            e[1]: k
            for k, e in reversed(list(enumerate(seen[fused:unfused], fused)))
            if e[0] == "start" and e[1] in ("fusion-front", "fusion-back")
        }
        assert set(first_alone) == {"fusion-front", "fusion-back"}, seen
        assert max(first_alone.values()) < group_gone, seen


def test_a_call_in_flight_finishes_on_the_old_worker(fresh_engine):
    """A slow call running when its function is fused ends normally; the next one runs
    in the group."""

    async def go(b):
        import asyncio

        await b.deploy(FUNCTIONS / "sleep")
        await b.deploy(FUNCTIONS / "echo")
        slow = asyncio.ensure_future(b.invoke("sleep", {"ms": 500}))
        await asyncio.sleep(0.2)
        group = await b.fuse(["sleep", "echo"], "slowpair")
        done = await slow
        again = await b.invoke("sleep", {"ms": 0})
        return group, done, again, await b.fusion_groups()

    group, done, again, groups = run(_with(fresh_engine, go))
    assert done.status == "ok", done.error
    assert again.status == "ok" and again.container_state in ("prewarm", "warm")
    assert [g.name for g in groups] == ["slowpair"]


async def _with(engine, fn):
    async with engine.backend() as b:
        return await fn(b)
