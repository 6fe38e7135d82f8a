"""The clients and the measuring loop of ``bench/serve.py``: each client is a callable
that makes one call and returns its latency in ms (``http.client`` keep-alive,
``requests.Session``, a gRPC stub, a curl process per request); ``measure`` interleaves rows
per round and keeps each round's p50 and p99."""

from __future__ import annotations

import http.client
import statistics
import subprocess
import time


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    k = (len(values) - 1) * q
    lo = int(k)
    hi = min(lo + 1, len(values) - 1)
    return values[lo] + (values[hi] - values[lo]) * (k - lo)


class HttpClientCall:
    def __init__(self, port: int, path: str, body: bytes):
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        self.path, self.body = path, body
        self.headers = {"Content-Type": "application/json"}

    def __call__(self) -> float:
        t0 = time.perf_counter()
        self.conn.request("POST", self.path, body=self.body, headers=self.headers)
        resp = self.conn.getresponse()
        data = resp.read()
        ms = (time.perf_counter() - t0) * 1000
        assert resp.status == 200, (resp.status, data)
        return ms


class RequestsCall:
    def __init__(self, port: int, path: str, body: bytes):
        import requests  # deferred: only this client row uses it

        self.session = requests.Session()
        self.url, self.body = f"http://127.0.0.1:{port}{path}", body
        self.headers = {"Content-Type": "application/json"}

    def __call__(self) -> float:
        t0 = time.perf_counter()
        resp = self.session.post(self.url, data=self.body, headers=self.headers)
        _ = resp.content  # read the whole answer inside the timing
        ms = (time.perf_counter() - t0) * 1000
        assert resp.status_code == 200, resp.text
        return ms


class GrpcCall:
    """``invoke`` of ``name``/``version``; ``ping`` instead (the gRPC floor) with name None."""

    def __init__(self, port: int, name: str | None, version: str = "1"):
        import grpc

        from backends.iluvatar.rpc import iluvatar_rpc_pb2 as pb
        from backends.iluvatar.rpc import iluvatar_rpc_pb2_grpc as pb_grpc

        self.channel = grpc.insecure_channel(f"127.0.0.1:{port}")
        self.stub = pb_grpc.IluvatarWorkerStub(self.channel)
        if name is None:
            self.rpc, self.request = self.stub.ping, pb.PingRequest(message="Ping")
        else:
            self.rpc = self.stub.invoke
            self.request = pb.InvokeRequest(
                function_name=name, function_version=version, json_args="{}", transaction_id="bench"
            )

    def __call__(self) -> float:
        t0 = time.perf_counter()
        resp = self.rpc(self.request, timeout=30)
        ms = (time.perf_counter() - t0) * 1000
        assert getattr(resp, "success", True), resp
        return ms


class CurlCall:
    """A curl process per request, as the Fusionizer's own bench (bench/run_bench) does."""

    def __init__(self, port: int, path: str, body: bytes):
        self.cmd = [
            "curl",
            "-s",
            "-X",
            "POST",
            f"http://127.0.0.1:{port}{path}",
            "-H",
            "Content-Type: application/json",
            "-d",
            body.decode(),
        ]

    def __call__(self) -> float:
        t0 = time.perf_counter()
        subprocess.run(self.cmd, check=True, stdout=subprocess.DEVNULL)
        return (time.perf_counter() - t0) * 1000


def measure(rows: dict, n: int, rounds: int) -> dict[str, list[float]]:
    """{row: [p50 of each round]}, plus p99s under row + ' p99'; rows interleave per round."""
    out: dict[str, list[float]] = {}
    for _ in range(rounds):
        for label, fn in rows.items():
            for _ in range(max(50, n // 10)):  # warm: connections, containers, caches
                fn()
            lat = [fn() for _ in range(n)]
            out.setdefault(label, []).append(statistics.median(lat))
            out.setdefault(label + " p99", []).append(pct(lat, 0.99))
    return out
