"""The ``requests_session`` a Fusionizer task gets: a real ``requests.Session`` whose calls to
members of the task's fusion group run in-process.

As the Nuclio Fusionizer's dispatcher does it: a POST to
``http://<Fusionizer-Server-Address>[:port]/<task>`` naming a function hosted by the same
worker runs that function here, its ``event.body`` set to the decoded JSON body, and
answers 200 with ``str()`` of its return value (400 ``Invalid JSON format`` when the body
is not JSON). When no server in front of the engine set the address (it is then the
engine's own host), a POST naming any other task goes through the engine's gateway; with a
front server, it goes to that server over HTTP, as upstream; tasks name upstream's port,
8000, and a front server on another port says which in ``Fusionizer-Server-Port`` (faastui
``serve fusionizer --port``), so such calls reach it there. ``/function/<name>`` on the
engine's own address is treated the same way. Every other URL is an ordinary HTTP request.
Calls are counted local or remote for the fusion optimizer.

Imported by the zygote when it loads a task (``requests`` costs ~0.1 s to import; forks
then share it).
"""

from __future__ import annotations

import json
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter

__all__ = ["task_session", "UPSTREAM_PORT"]

#: the Fusionizer server's port, which tasks write into their URLs
UPSTREAM_PORT = 8000


def _response(request, status: int, content: bytes, ctype: str = "text/plain; charset=utf-8"):
    resp = requests.Response()
    resp.status_code = status
    resp._content = content
    resp.headers["Content-Type"] = ctype
    resp.headers["Content-Length"] = str(len(content))
    resp.encoding = "utf-8"
    resp.url = request.url
    resp.request = request
    resp.reason = {200: "OK", 400: "Bad Request"}.get(status, "")
    return resp


class _TaskAdapter(HTTPAdapter):
    def __init__(self, runner):
        super().__init__()
        self.runner = runner

    def _target(self, request) -> tuple[str, str] | None:
        """("task", name) for a call addressed to the Fusionizer server or the engine."""
        runner = self.runner
        parts = urlsplit(request.url)
        path = parts.path.strip("/")
        address = runner.fusionizer_address
        bare = request.url.split("://", 1)[-1]
        if (
            request.method == "POST"
            and path
            and "/" not in path
            and address
            and (parts.hostname == address or bare.startswith(address))
        ):
            return "task", path
        if path.startswith("function/") and "/" not in path[9:] and parts.netloc == runner.gateway_netloc:
            return "function", path[9:]
        return None

    def send(self, request, **kwargs):
        target = self._target(request)
        if target is None:
            return super().send(request, **kwargs)
        kind, name = target
        runner = self.runner
        if name in runner.functions:
            body = request.body or b""
            try:
                value = json.loads(body)
            except ValueError:
                return _response(request, 400, b"Invalid JSON format")
            runner.calls_local += 1
            status, content, ctype = runner.call_member(name, value, dict(request.headers))
            return _response(request, status, content, ctype)
        runner.calls_remote[name] = runner.calls_remote.get(name, 0) + 1
        if kind == "task" and runner.engine_address:  # no front server: the engine routes it
            body = request.body if isinstance(request.body, bytes) else (request.body or "").encode()
            status, content = runner.gateway_call(name, body)
            return _response(request, status, content)
        if kind == "task" and runner.fusionizer_port:  # the front server listens elsewhere
            parts = urlsplit(request.url)
            if parts.port in (None, UPSTREAM_PORT) and parts.port != runner.fusionizer_port:
                host = f"[{parts.hostname}]" if ":" in (parts.hostname or "") else parts.hostname
                request.url = parts._replace(netloc=f"{host}:{runner.fusionizer_port}").geturl()
        return super().send(request, **kwargs)


def task_session(runner) -> requests.Session:
    session = requests.Session()
    adapter = _TaskAdapter(runner)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session
