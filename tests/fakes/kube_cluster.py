"""A big FAKE cluster for benchmarks: nodes and function pods put straight into the fake
API server's store (tests/fakes/kube_api.py), and churn (pods turning ready and not, going
and coming) at a set rate.

Run it as its own process, so its CPU is not the measured client's::

    python -m tests.fakes.kube_cluster --nodes 1000 --pods 20000 --functions 200

It prints one JSON line (``api_url``, ``token``, ``seeded_s``) once it serves, then reads
commands on stdin: ``churn RATE`` (changes a second, 0 stops), ``quiet`` (churn 0 and
report ``{"rv": ...}`` once the last change is in), ``inflight NS POD N`` (the requests the
pod's watchdog reports in flight), ``proxied`` (report ``{"proxied": ...}``, the pod proxy
requests answered so far), ``stop``. EOF stops it too.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import threading
import time

from .kube_api import FakeKube, rfc3339
from .kube_kubelet import pod_object

__all__ = ["seed", "Churn"]

NS = "openfaas-fn"


def seed(fake: FakeKube, nodes: int, pods: int, functions: int, *, seed_value: int = 7) -> None:
    """``nodes`` nodes (``node-0001``...) and ``pods`` pods of ``functions`` functions spread
    over them, 95% Running and Ready, the rest Pending."""
    rnd = random.Random(seed_value)
    for i in range(nodes):
        fake.add_node(
            f"node-{i + 1:04d}",
            index=i,
            labels={
                "topology.kubernetes.io/zone": f"zone-{i % 3}",
                "node.kubernetes.io/instance-type": "m5.xlarge",
                "kubernetes.io/arch": "amd64",
            },
        )
        fake.set_usage(f"node-{i + 1:04d}", f"{rnd.randint(100, 3500)}m", f"{rnd.randint(256, 7000)}Mi")
    created = rfc3339(time.time())
    for i in range(pods):
        fake.store.put("pods", _pod(i, rnd, nodes, functions, created))


def _pod(i: int, rnd: random.Random, nodes: int, functions: int, created: str, running: bool | None = None) -> dict:
    fn = f"fn-{i % functions:03d}"
    node = f"node-{rnd.randrange(nodes) + 1:04d}"
    running = rnd.random() < 0.95 if running is None else running
    uid = f"{i:08x}-0000-4000-8000-{rnd.getrandbits(48):012x}"
    return pod_object(
        NS,
        f"{fn}-{rnd.getrandbits(32):08x}-{i:05d}",
        uid=uid,
        created=created,
        node=node,
        labels={"faas_function": fn, "app": fn, "pod-template-hash": f"{i % functions:08x}"},
        image=f"ghcr.io/example/{fn}:1.0.{i % 7}",
        container=fn,
        phase="Running" if running else "Pending",
        ready=running,
        waiting=None if running else "ContainerCreating",
        host_ip=f"10.0.{(i % nodes) // 250}.{(i % nodes) % 250 + 10}",
        pod_ip=f"10.244.{i // 250 % 250}.{i % 250 + 2}",
        owner=f"{fn}-6d4f9",
    )


class Churn(threading.Thread):
    """Changes pods at ``rate`` a second: one in three turns not ready (or ready again),
    one in three goes Pending -> Running, one in three is replaced by a new pod."""

    def __init__(self, fake: FakeKube, nodes: int, functions: int):
        super().__init__(name="fake-churn", daemon=True)
        self.fake, self.nodes, self.functions = fake, nodes, functions
        self.rate = 0.0
        self.changes = 0
        self.stopping = threading.Event()
        self.rnd = random.Random(11)
        self._next = 10_000_000

    def run(self) -> None:
        due = time.monotonic()
        while not self.stopping.is_set():
            if self.rate <= 0:
                self.stopping.wait(0.05)
                due = time.monotonic()
                continue
            due += 1.0 / self.rate
            delay = due - time.monotonic()
            if delay > 0:
                self.stopping.wait(delay)
            self.change()

    def change(self) -> None:
        store, rnd = self.fake.store, self.rnd
        with store.changed:
            key = (
                rnd.choice(list(store.objects["pods"].keys()))
                if rnd.random() < 0.02 or not hasattr(self, "_keys")
                else rnd.choice(self._keys)
            )
        pod = store.get("pods", *key)
        if pod is None:
            self._keys = list(store.objects["pods"].keys())
            return
        kind = self.changes % 3
        if kind == 2:
            store.delete("pods", *key)
            self._next += 1
            store.put("pods", _pod(self._next, rnd, self.nodes, self.functions, rfc3339(time.time()), running=False))
        else:
            ready = not pod["status"]["containerStatuses"][0]["ready"]
            phase = "Running" if (kind == 1 or ready) else pod["status"]["phase"]
            self.fake.update_pod(*key, phase=phase, ready=ready)
        self.changes += 1
        if self.changes % 500 == 0:
            self._keys = list(store.objects["pods"].keys())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, default=1000)
    parser.add_argument("--pods", type=int, default=20000)
    parser.add_argument("--functions", type=int, default=200)
    parser.add_argument("--bookmark", type=float, default=5.0, help="seconds between bookmarks")
    args = parser.parse_args(argv)
    fake = FakeKube(
        nodes=0,
        not_ready_nodes=0,
        serving=False,
        record_requests=False,
        bookmark_interval=args.bookmark,
        history=200_000,
    )
    t0 = time.perf_counter()
    seed(fake, args.nodes, args.pods, args.functions)
    seeded = time.perf_counter() - t0
    fake.start()
    churn = Churn(fake, args.nodes, args.functions)
    churn._keys = list(fake.store.objects["pods"].keys())
    churn.start()
    print(json.dumps({"api_url": fake.api_url, "token": fake.token, "seeded_s": round(seeded, 2)}), flush=True)
    try:
        for line in sys.stdin:
            words = line.split()
            if not words:
                continue
            if words[0] == "churn":
                churn.rate = float(words[1])
            elif words[0] == "quiet":
                churn.rate = 0
                time.sleep(0.2)
                print(json.dumps({"rv": fake.store.rv, "changes": churn.changes}), flush=True)
            elif words[0] == "inflight":
                fake.set_in_flight(words[1], words[2], int(words[3]))
            elif words[0] == "proxied":
                print(json.dumps({"proxied": fake.proxy_reads}), flush=True)
            elif words[0] == "stop":
                break
    finally:
        churn.stopping.set()
        churn.join(5)
        fake.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
