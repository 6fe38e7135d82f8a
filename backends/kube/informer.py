"""List + watch of one Kubernetes collection on its own thread, into an index in memory.

The loop client-go's reflector runs, as "Kubernetes API Concepts" describes it: a paged
list (``limit``/``continue``) gives the state and a resourceVersion; a watch from that
version (``allowWatchBookmarks=true``) applies each ADDED/MODIFIED/DELETED as it comes and
moves the version on with every event and BOOKMARK; when the watch ends (the server's
``timeoutSeconds``) a new one starts from the last version, so nothing is missed and nothing
is listed again; a 410 (an ERROR event with code 410, or an expired continue token) means
the history is gone: list again. A failure (no answer, a cut stream) keeps the data, records
the error and when the data was last known good, and retries after a backoff (0.2 s doubling
to ``backoff_max``, with jitter); the retry resumes the watch from the last version.

A trickle of events is handled in batches: once the stream is caught up, the thread pauses
``coalesce`` seconds (0.25) so the next events gather and are applied in one go; a burst is
read on without pausing. The index (a "sink") reduces each object to a record and applies it
under its own lock; the thread never touches anything else. ``kick()`` cuts the current
stream (the view does when its probe finds the server gone silent); ``stop()`` ends the
thread.
"""

from __future__ import annotations

import json
import random
import threading
import time

from ..errors import AuthError, BackendError
from .connect import Connection, Gone, api_error

__all__ = ["Informer"]


class Informer:
    """Keeps ``sink`` equal to the collection at ``path`` (see the module docstring)."""

    def __init__(
        self,
        conn: Connection,
        path: str,
        sink,
        *,
        what: str,
        query: dict | None = None,
        page: int = 500,
        watch_timeout: int = 300,
        idle_timeout: float = 90.0,
        backoff_max: float = 30.0,
        fallback: tuple[str, str] | None = None,
        coalesce: float = 0.25,
    ):
        self.conn, self.path, self.sink, self.what = conn, path, sink, what
        self.query = dict(query or {})
        self.page, self.watch_timeout, self.idle_timeout = page, watch_timeout, idle_timeout
        self.backoff_max = backoff_max
        self.coalesce = coalesce  # s: let a trickle of events gather (see _watch)
        self.fallback = fallback  # (path, note): where to go after a 403 on ``path``
        self.note: str | None = None  # a lasting remark (the fallback taken)
        self.synced = False  # a first full list arrived
        self.error: BackendError | None = None  # the last failure, None once healthy again
        self.error_since: float | None = None  # monotonic: when the failures began
        self.good_at: float | None = None  # monotonic time the data was last known current
        self.retry_at: float | None = None
        self.lists = self.expired = self.bookmarks = self.events = 0
        self.rv: str | None = None  # the version the data is at (a watch resumes from it)
        self._stopping = threading.Event()
        self._resp = None
        self._resp_lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name=f"kube-informer-{what}", daemon=True)

    # ---- life cycle -------------------------------------------------------------------------
    def start(self) -> Informer:
        self._thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        """End the thread (at most ``timeout`` s; a request in flight ends at its own timeout,
        and the thread, a daemon, right after)."""
        self._stopping.set()
        self.kick()
        if self._thread.is_alive():
            self._thread.join(timeout)

    def kick(self) -> None:
        """Cut the current watch stream (it is retried after the backoff)."""
        with self._resp_lock:
            resp = self._resp
        if resp is not None:
            try:
                resp.shutdown()
            except Exception:  # noqa: BLE001 - an already closed stream is fine
                pass

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    # ---- the loop ---------------------------------------------------------------------------
    def _run(self) -> None:
        failures = 0
        while not self._stopping.is_set():
            try:
                if self.rv is None:
                    self.rv = self._list()
                self._watch()
                failures = 0
            except Gone:
                self.expired += 1
                self.rv = None  # the history is gone: list again, now
            except AuthError as exc:
                if exc.http_status == 403 and self.fallback and self.path != self.fallback[0]:
                    self.path, self.note = self.fallback
                    self.rv = None
                    continue
                failures += 1
                self._failed(exc, failures)
            except BackendError as exc:
                failures += 1
                self._failed(exc, failures)
            except Exception as exc:  # noqa: BLE001 - a bad answer must not end the thread
                failures += 1
                self._failed(BackendError(f"reading {self.what} failed: {exc}"), failures)

    def _failed(self, exc: BackendError, failures: int) -> None:
        delay = min(self.backoff_max, 0.2 * 2 ** (failures - 1)) * random.uniform(0.5, 1.0)
        if self.error is None:
            self.error_since = time.monotonic()
        self.error = exc
        self.retry_at = time.monotonic() + delay
        self._stopping.wait(delay)

    def _healthy(self) -> None:
        self.error = self.error_since = None
        self.retry_at = None
        self.good_at = time.monotonic()

    def _list(self) -> str:
        records, token, rv = [], None, ""
        while True:
            query = dict(self.query, limit=str(self.page))
            if token:
                query["continue"] = token
            data = self.conn.request("GET", self.path, f"list {self.what}", query=query)
            page = json.loads(data)
            reduce = self.sink.reduce
            records.extend(reduce(obj) for obj in page.get("items") or ())
            meta = page.get("metadata") or {}
            rv = rv or meta.get("resourceVersion") or ""
            token = meta.get("continue")
            if self._stopping.is_set():
                return rv  # closing: a partial list must not replace the data
            if not token:
                break
        self.sink.reset(records)
        self.lists += 1
        self.synced = True
        self._healthy()
        return rv

    def _watch(self) -> None:
        """One watch from ``self.rv``, moving it on with each event and bookmark."""
        import urllib3  # deferred with the kubernetes client (its dependency)

        query = dict(
            self.query,
            watch="1",
            resourceVersion=self.rv,
            allowWatchBookmarks="true",
            timeoutSeconds=str(self.watch_timeout),
        )
        resp = self.conn.open("GET", self.path, query=query, timeout=self.idle_timeout, stream=True)
        if resp.status >= 400:
            body = resp.read()
            resp.release_conn()
            raise api_error(resp.status, body, f"watch {self.what}", self.conn.server, self.conn.namespace)
        with self._resp_lock:
            self._resp = resp
        self._healthy()
        rest = b""
        try:
            idle_since = time.monotonic()
            for chunk in resp.stream(65536, decode_content=True):
                arrived = time.monotonic()
                lines = (rest + chunk).split(b"\n")
                rest = lines.pop()
                for line in lines:
                    if line.strip():
                        self.rv = self._event(line, self.rv)
                self.good_at = time.monotonic()
                if self._stopping.is_set():
                    break
                # The stream was caught up (this chunk had to be waited for): pause, so the
                # next events gather in the socket and are handled in one warm batch, not one
                # wake-up each (at 100 changes/s, 0.25 s takes the watch's CPU from ~19 to
                # ~8 ms/s here: a waking core is slow). Buffered chunks are read on at once,
                # so a flood is never slowed; the data is at most ``coalesce`` s behind.
                if arrived - idle_since > 0.002 and self.coalesce:
                    self._stopping.wait(self.coalesce)
                idle_since = time.monotonic()
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            if self._stopping.is_set():
                return
            raise BackendError(
                f"the watch of {self.what} at {self.conn.server} broke: {getattr(exc, 'reason', None) or exc}"
            ) from None
        finally:
            with self._resp_lock:
                self._resp = None
            resp.release_conn()

    def _event(self, line: bytes, rv: str) -> str:
        event = json.loads(line)
        kind = event.get("type")
        obj = event.get("object") or {}
        if kind == "ERROR":
            message = obj.get("message") or "watch error"
            if obj.get("code") == 410:
                raise Gone(message)
            raise BackendError(f"the watch of {self.what} failed: {message}")
        rv = (obj.get("metadata") or {}).get("resourceVersion") or rv
        if kind == "BOOKMARK":
            self.bookmarks += 1
        elif kind in ("ADDED", "MODIFIED", "DELETED"):
            self.events += 1
            self.sink.apply(kind != "DELETED", self.sink.reduce(obj))
        return rv
