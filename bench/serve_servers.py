"""``bench/serve.py --servers``: the HTTP servers a served API could sit on, each in its own
process answering one small JSON route: the engine's httptools server (what the HTTP APIs
use), the stdlib's ThreadingHTTPServer, and uvicorn + Starlette when they are installed;
p50 and p99 with ``http.client`` keep-alive, and each one's ratio to the first."""

from __future__ import annotations

import statistics
import subprocess
import sys
import textwrap
from pathlib import Path

from serve_clients import HttpClientCall, measure

ROOT = Path(__file__).resolve().parents[1]

SERVERS = {
    "engine httptools server (uvloop)": textwrap.dedent("""
        import asyncio, sys, uvloop
        sys.path.insert(0, ROOT)
        from backends.local.httpserver import HttpServer, Router, Response
        async def route(req):
            return Response(200, b'{"result": "ok"}', "application/json")
        async def main():
            router = Router(); router.add("POST", "/invoke", route)
            server = HttpServer(router)
            print(await server.start("127.0.0.1", 0), flush=True)
            await asyncio.Event().wait()
        uvloop.run(main())
    """),
    "stdlib ThreadingHTTPServer": textwrap.dedent("""
        import http.server
        class H(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            def do_POST(self):
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                body = b'{"result": "ok"}'
                self.send_response(200); self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body))); self.end_headers()
                self.wfile.write(body)
            disable_nagle_algorithm = True  # else 40 ms of delayed ACK a call
            def log_message(self, *a): pass
        s = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
        print(s.server_port, flush=True)
        s.serve_forever()
    """),
    "uvicorn + Starlette (httptools, uvloop)": textwrap.dedent("""
        import socket, uvicorn
        from starlette.applications import Starlette
        from starlette.responses import JSONResponse
        from starlette.routing import Route
        async def route(request):
            await request.body()
            return JSONResponse({"result": "ok"})
        app = Starlette(routes=[Route("/invoke", route, methods=["POST"])])
        sock = socket.socket(); sock.bind(("127.0.0.1", 0))
        print(sock.getsockname()[1], flush=True)
        uvicorn.Server(uvicorn.Config(app, log_level="error", loop="uvloop",
                                      http="httptools")).run(sockets=[sock])
    """),
}


def servers(n: int, rounds: int) -> int:
    rows, procs = {}, []
    try:
        for label, code in SERVERS.items():
            proc = subprocess.Popen(
                [sys.executable, "-c", code.replace("ROOT", repr(str(ROOT)))],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            line = proc.stdout.readline().strip()
            if not line.isdigit():
                proc.kill()
                proc.wait(10)
                print(f"{label}: not measured ({proc.stderr.read().strip().splitlines()[-1:]})")
                continue
            procs.append(proc)
            rows[label] = HttpClientCall(int(line), "/invoke", b'{"id": "x"}')
        figures = measure(rows, n, rounds)
    finally:
        for proc in procs:
            proc.kill()
            proc.wait(10)
    base = statistics.median(figures[next(iter(rows))]) if rows else 1.0
    print(f"\nHTTP servers, one small JSON route, http.client keep-alive, {n} calls x {rounds} rounds")
    for label in rows:
        p50 = statistics.median(figures[label])
        print(
            f"{label:42} p50 {p50:7.3f} ms  p99 {statistics.median(figures[label + ' p99']):7.3f} ms"
            f"  {p50 / base:5.2f}x"
        )
    return 0
