"""The per-node zygote: a small single-threaded process that forks workers.

The engine starts one zygote per node (``python -m backends.local.zygote FD``)
with a SOCK_SEQPACKET control socket. The zygote imports the runtime once
and each deployed function's handler once per deploy (``load``), so a cold
start is a ``fork()`` and nothing else. For ``fork`` the engine passes one end
of a fresh socket pair (SCM_RIGHTS); the child serves calls on it until EOF.

Control messages are JSON objects with an ``rid``; replies echo it. The zygote
also reports worker exits (``{"ev": "exit", "pid", "code", "signal"}``), reaps
every child, and kills its workers when the engine goes away.
"""

from __future__ import annotations

import gc
import json
import os
import resource
import selectors
import signal
import socket
import sys
import time

from . import logstamp, runtime, secretmount, wire
from .proc import set_pdeathsig

def _vm_size() -> int:
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:
        return 0


# ---- the worker (runs in the forked child) -------------------------------------------


def worker_main(sock: socket.socket, functions: dict, msg: dict) -> None:
    """Serve calls on ``sock`` until EOF. Never returns."""
    code = 0
    try:
        set_pdeathsig()
        log_fd = msg.get("_log_fd")
        if log_fd is None:  # no log pipe: output goes nowhere rather than into the engine's log
            log_fd = os.open(os.devnull, os.O_WRONLY)
        os.dup2(log_fd, 1)
        os.dup2(log_fd, 2)
        os.close(log_fd)
        for key, value in (msg.get("env") or {}).items():
            os.environ[str(key)] = str(value)
        mem_mb = float(msg.get("memory_mb") or 0)
        if mem_mb > 0:
            limit = msg.get("_base_vm", 0) + int(mem_mb * 1024 * 1024)
            resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
        logstamp.install(msg.get("wid") or "")  # each line printed: when, where, which call
        hosted = {name: functions[name] for name in msg["fns"]}
        given = msg.get("secrets") or {}
        if any(given.values()):  # /var/openfaas/secrets/NAME for what each is given
            secretmount.install()
        secretmount.configure(msg.get("secrets_dir") or "", given)
        runner = runtime.Runner(hosted, gateway=msg.get("gateway", ""), token=msg.get("token", ""))
        sock.sendall(wire.pack({"ready": True, "pid": os.getpid()}))
        perf = time.perf_counter
        reader = wire.FrameReader(sock)
        while True:
            try:
                header, body = reader.read()
            except (EOFError, ConnectionError):
                break
            fn = header.get("fn", "")
            t0 = perf()
            oom = False
            try:
                out, ctype, status = runner.run(fn, body, header.get("h") or {})
                reply = {"ok": True, "ct": ctype, "st": status}
                if runner.headers_out:  # answer headers the handler set (python3-http, Nuclio)
                    reply["hd"] = runner.headers_out
            except MemoryError:
                out, oom = b"", True
                reply = {"ok": False, "kind": "oom",
                         "err": f"memory limit exceeded ({mem_mb:g} MB)"}
            except BaseException as exc:  # the handler's failure is the call's result
                import traceback  # only on failure: keep the zygote small

                tb = traceback.format_exc(limit=-3)
                sys.stderr.write(tb)
                out = b""
                reply = {"ok": False, "kind": "error", "err": f"{type(exc).__name__}: {exc}",
                         "tb": tb[-2000:]}
                if isinstance(exc, (SystemExit, KeyboardInterrupt)):
                    reply["kind"] = "crashed"
            reply["ms"] = (perf() - t0) * 1000.0
            local, remote = runner.take_counts()
            if local:
                reply["loc"] = local
            if remote:
                reply["rem"] = remote
            sock.sendall(wire.pack(reply, out))
            sys.stdout.flush()  # a part line the call left: in the log now, not at the next line
            sys.stderr.flush()
            if oom:
                code = 3
                break
    except BaseException:
        import traceback

        traceback.print_exc()
        code = 2
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        except Exception:
            pass
        os._exit(code)


# ---- the zygote -----------------------------------------------------------------


def _exit_on_signal(*_):
    raise SystemExit(0)


class Zygote:
    def __init__(self, control: socket.socket):
        self.control = control
        self.functions: dict[str, runtime.LoadedFunction] = {}
        self.children: set[int] = set()
        self.base_vm = _vm_size()

    def send(self, msg: dict) -> None:
        try:
            self.control.send(json.dumps(msg).encode())
        except OSError:
            pass

    def handle(self, msg: dict, fds: list[int]) -> None:
        op = msg.get("op")
        reply: dict = {"rid": msg.get("rid"), "ok": True}
        try:
            if op == "load":
                reply.update(self.load(msg))
            elif op == "unload":
                self.functions.pop(msg["fn"], None)
            elif op == "fork":
                reply["pid"] = self.fork(msg, fds)
                fds = []
            elif op == "ping":
                reply["pid"] = os.getpid()
            else:
                raise ValueError(f"unknown op {op!r}")
        except Exception as exc:
            reply = {"rid": msg.get("rid"), "ok": False, "err": f"{type(exc).__name__}: {exc}"}
        finally:
            for fd in fds:
                os.close(fd)
        self.send(reply)

    def load(self, msg: dict) -> dict:
        name = msg["fn"]
        timeout = int(msg.get("import_timeout") or 30)

        def on_alarm(*_):
            raise TimeoutError(f"importing {name} took more than {timeout}s")

        old = signal.signal(signal.SIGALRM, on_alarm)
        signal.alarm(timeout)
        secrets = msg.get("secrets") or []
        if secrets:  # a module may read its secrets at import
            secretmount.install()
        try:
            with secretmount.loading(msg.get("secrets_dir") or "", secrets):
                loaded = runtime.load_function(name, msg["dir"], msg.get("handler", ""),
                                               msg.get("signature", ""), msg.get("env"))
        finally:
            signal.alarm(0)
            signal.signal(signal.SIGALRM, old)
        self.functions[name] = loaded
        gc.collect()
        gc.freeze()  # keep the imported handler out of the GC's reach: fewer copied pages
        self.base_vm = _vm_size()  # a worker's memory limit counts from here
        return {"signature": loaded.signature}

    def fork(self, msg: dict, fds: list[int]) -> int:
        """Fork a worker on ``fds[0]`` (its socket); ``fds[1]``, if sent, is its stdout/stderr."""
        if len(fds) not in (1, 2):
            raise ValueError("fork needs a socket and at most a log pipe")
        missing = [fn for fn in msg["fns"] if fn not in self.functions]
        if missing:
            raise KeyError(f"not loaded here: {', '.join(missing)}")
        msg["_base_vm"] = self.base_vm
        pid = os.fork()
        if pid == 0:
            try:
                signal.set_wakeup_fd(-1)
                signal.signal(signal.SIGCHLD, signal.SIG_DFL)
                self.control.close()
                sock = socket.socket(fileno=fds[0])
                if len(fds) == 2:
                    msg["_log_fd"] = fds[1]
            except BaseException:
                os._exit(2)
            worker_main(sock, self.functions, msg)
        for fd in fds:
            os.close(fd)
        self.children.add(pid)
        return pid

    def reap(self) -> None:
        while self.children:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                self.children.clear()
                return
            if pid == 0:
                return
            self.children.discard(pid)
            ev = {"ev": "exit", "pid": pid}
            if os.WIFSIGNALED(status):
                ev["signal"] = os.WTERMSIG(status)
            else:
                ev["code"] = os.WEXITSTATUS(status)
            self.send(ev)

    def shutdown(self) -> None:
        for pid in list(self.children):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + 5
        while self.children and time.monotonic() < deadline:
            try:
                pid, _ = os.waitpid(-1, 0)
                self.children.discard(pid)
            except ChildProcessError:
                break

    def serve(self) -> None:
        wake_r, wake_w = socket.socketpair()
        wake_r.setblocking(False)
        wake_w.setblocking(False)
        signal.set_wakeup_fd(wake_w.fileno())
        signal.signal(signal.SIGCHLD, lambda *_: None)
        signal.signal(signal.SIGTERM, _exit_on_signal)
        sel = selectors.DefaultSelector()
        sel.register(self.control, selectors.EVENT_READ, "control")
        sel.register(wake_r, selectors.EVENT_READ, "wake")
        try:
            while True:
                for key, _ in sel.select():
                    if key.data == "wake":
                        try:
                            wake_r.recv(512)
                        except BlockingIOError:
                            pass
                        self.reap()
                        continue
                    data, fds, _flags, _addr = socket.recv_fds(self.control, 1 << 20, 4)
                    if not data:
                        return
                    self.handle(json.loads(data), list(fds))
                self.reap()
        finally:
            self.shutdown()


def main(argv: list[str]) -> int:
    set_pdeathsig()
    control = socket.socket(fileno=int(argv[1]))
    Zygote(control).serve()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
