"""The object store of the FAKE Kubernetes API server (tests/fakes/kube_api.py): objects by
resource, one resourceVersion counter, a bounded change history, and what list and watch
make of them. No HTTP here, and nothing from the code under test.

Written from the Kubernetes API reference and "Kubernetes API Concepts"
(kubernetes.io/docs/reference/using-api/api-concepts/):

- every write bumps one cluster-wide resourceVersion; an object carries the version of its
  last write; a list carries the version it was built at (``metadata.resourceVersion``);
- list items carry no ``kind``/``apiVersion`` (the list's kind says it); watch event
  objects do;
- ``limit`` + ``continue`` page a list; the rest of a paged list is served from the state the
  first page saw, and a continue token older than ``continue_ttl`` is ``410 Expired``;
  ``metadata.remainingItemCount`` is set on a paged list without a selector;
- a watch from ``resourceVersion`` N sends the changes after N; unset or "0" first sends every
  current object as ADDED; a version older than the history kept is answered with a 200
  stream holding one ``ERROR`` event whose object is a ``Status`` with code 410 (reason
  Expired, "too old resource version: N (OLDEST)"), as the API server's watch cache does;
- ``allowWatchBookmarks=true`` gets ``BOOKMARK`` events whose object has only
  ``metadata.resourceVersion`` (at the server's discretion: here every ``bookmark_interval``);
- label selectors: ``k``, ``!k``, ``k=v``, ``k==v``, ``k!=v``, ``k in (a,b)``, ``k notin (a,b)``;
  field selectors: ``=``, ``==``, ``!=`` on the fields each resource supports; anything
  else is ``400 BadRequest`` with the API server's message.

Encoded JSON is kept beside each object, so a 20,000-pod list or a busy watch costs joins,
not ``json.dumps`` calls.
"""

from __future__ import annotations

import base64
import copy
import json
import re
import threading
import time
from dataclasses import dataclass

__all__ = ["ApiError", "Store", "Resource", "RESOURCES", "label_selector", "field_selector"]

_LABEL_KEY = re.compile(r"^([a-z0-9]([-a-z0-9.]*[a-z0-9])?/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$")
_LABEL_VALUE = re.compile(r"^([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?$")
_SET_TERM = re.compile(r"^\s*(\S+)\s+(in|notin)\s+\(([^()]*)\)\s*$")


class ApiError(Exception):
    """A Kubernetes Status the server answers with."""

    def __init__(self, code: int, reason: str, message: str, details: dict | None = None):
        super().__init__(message)
        self.code, self.reason, self.message, self.details = code, reason, message, details

    def status(self) -> dict:
        body = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                "message": self.message, "reason": self.reason, "code": self.code}
        if self.details:
            body["details"] = self.details
        return body


@dataclass(frozen=True)
class Resource:
    """A resource type as the API names it."""

    plural: str
    kind: str
    api_version: str
    namespaced: bool
    fields: tuple[str, ...] = ("metadata.name", "metadata.namespace")

    @property
    def group(self) -> str:
        return self.api_version.rpartition("/")[0] if "/" in self.api_version else ""


RESOURCES = {r.plural if r.group == "" else f"{r.plural}.{r.group}": r for r in (
    Resource("nodes", "Node", "v1", False, ("metadata.name", "spec.unschedulable")),
    Resource("pods", "Pod", "v1", True, ("metadata.name", "metadata.namespace", "spec.nodeName",
                                         "status.phase", "spec.restartPolicy")),
    Resource("events", "Event", "v1", True, (
        "metadata.name", "metadata.namespace", "involvedObject.kind", "involvedObject.name",
        "involvedObject.namespace", "involvedObject.uid", "reason", "type", "source")),
    Resource("services", "Service", "v1", True),
    Resource("services", "Service", "serving.knative.dev/v1", True),
    Resource("secrets", "Secret", "v1", True, ("metadata.name", "metadata.namespace", "type")),
    Resource("namespaces", "Namespace", "v1", False, ("metadata.name", "status.phase")),
)}


# ---- selectors ----------------------------------------------------------------------------
def _bad_selector(term: str) -> ApiError:
    return ApiError(400, "BadRequest", f"unable to parse requirement: {term!r}")


def _split_terms(text: str) -> list[str]:
    """Split on commas outside parentheses."""
    terms, depth, current = [], 0, ""
    for ch in text:
        depth += ch == "("
        depth -= ch == ")"
        if ch == "," and depth == 0:
            terms.append(current)
            current = ""
        else:
            current += ch
    terms.append(current)
    return [t.strip() for t in terms if t.strip()]


def label_selector(text: str):
    """A label selector -> a predicate on a labels dict. Raises ApiError 400."""
    tests = []
    for term in _split_terms(text or ""):
        if m := _SET_TERM.match(term):
            key, op, values = m[1], m[2], {v.strip() for v in m[3].split(",") if v.strip()}
            if not _LABEL_KEY.match(key) or not all(_LABEL_VALUE.match(v) for v in values):
                raise _bad_selector(term)
            tests.append((key, op, values))
            continue
        for op in ("!=", "==", "="):
            if op in term:
                key, _, value = term.partition(op)
                key, value = key.strip(), value.strip()
                if not _LABEL_KEY.match(key) or not _LABEL_VALUE.match(value) or "=" in value:
                    raise _bad_selector(term)
                tests.append((key, "!=" if op == "!=" else "=", value))
                break
        else:
            neg = term.startswith("!")
            key = term[1:].strip() if neg else term
            if not _LABEL_KEY.match(key):
                raise _bad_selector(term)
            tests.append((key, "!" if neg else "exists", None))

    def match(labels: dict) -> bool:
        for key, op, value in tests:
            have = labels.get(key)
            if op == "exists" and key not in labels or op == "!" and key in labels:
                return False
            if op == "=" and have != value or op == "!=" and have == value and key in labels:
                return False
            if op == "in" and have not in value or op == "notin" and key in labels and have in value:
                return False
        return True
    return match


def _field(obj: dict, path: str):
    value = obj
    for part in path.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    if isinstance(value, dict):  # "source" of an event: its component
        value = value.get("component")
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


def field_selector(text: str, resource: Resource):
    """A field selector -> a predicate on an object. Raises ApiError 400."""
    tests = []
    for term in _split_terms(text or ""):
        for op in ("!=", "==", "="):
            if op in term:
                key, _, value = term.partition(op)
                break
        else:
            raise ApiError(400, "BadRequest", f"invalid selector: '{text}'; can't understand "
                                              f"'{term}'")
        key = key.strip()
        if key not in resource.fields:
            raise ApiError(400, "BadRequest", f'field label not supported: {key}')
        tests.append((key, op == "!=", value.strip()))
    return lambda obj: all((_field(obj, k) != v) if neg else (_field(obj, k) == v)
                           for k, neg, v in tests)


# ---- the store ----------------------------------------------------------------------------
class _Entry:
    __slots__ = ("obj", "raw", "ns", "name")

    def __init__(self, obj: dict):
        self.obj = obj
        self.raw = json.dumps(obj, separators=(",", ":")).encode()
        meta = obj["metadata"]
        self.ns, self.name = meta.get("namespace", ""), meta["name"]


class Store:
    """Objects by resource key, their history, and list/watch over them (thread safe)."""

    def __init__(self, history: int = 20_000, continue_ttl: float = 300.0, first_rv: int = 1000):
        self.changed = threading.Condition()  # its lock guards everything below
        self.rv = first_rv
        self.objects: dict[str, dict[tuple[str, str], _Entry]] = {k: {} for k in RESOURCES}
        self.history = history
        self.log: list[tuple[int, str, str, _Entry]] = []  # (rv, resource key, type, entry)
        self.log_base = 0  # how many log entries were dropped from the front
        self.oldest_rv = first_rv  # a watch from an older version is 410
        self.continue_ttl = continue_ttl
        self._pages: dict[str, tuple[float, int, list[_Entry]]] = {}

    # ---- writes ---------------------------------------------------------------------------
    def _record(self, key: str, kind: str, entry: _Entry) -> None:
        self.log.append((self.rv, key, kind, entry))
        if len(self.log) > self.history:
            drop = len(self.log) - self.history
            self.oldest_rv = self.log[drop - 1][0]
            del self.log[:drop]
            self.log_base += drop
        self.changed.notify_all()

    def put(self, key: str, obj: dict) -> dict:
        """Create or replace ``obj`` (stored as a copy); returns the stored copy's copy."""
        obj = copy.deepcopy(obj)
        with self.changed:
            self.rv += 1
            obj["metadata"]["resourceVersion"] = str(self.rv)
            entry = _Entry(obj)
            objects = self.objects[key]
            kind = "MODIFIED" if (entry.ns, entry.name) in objects else "ADDED"
            objects[entry.ns, entry.name] = entry
            self._record(key, kind, entry)
            return copy.deepcopy(obj)

    def delete(self, key: str, ns: str, name: str) -> dict | None:
        with self.changed:
            entry = self.objects[key].pop((ns, name), None)
            if entry is None:
                return None
            self.rv += 1
            obj = copy.deepcopy(entry.obj)
            obj["metadata"]["resourceVersion"] = str(self.rv)
            self._record(key, "DELETED", _Entry(obj))
            return obj

    def compact(self) -> None:
        """Forget the history: a watch from any version before now is answered 410."""
        with self.changed:
            self.log_base += len(self.log)
            self.log.clear()
            self.oldest_rv = self.rv
            self.changed.notify_all()

    # ---- reads ----------------------------------------------------------------------------
    def get(self, key: str, ns: str, name: str) -> dict | None:
        with self.changed:
            entry = self.objects[key].get((ns, name))
            return copy.deepcopy(entry.obj) if entry else None

    def items(self, key: str, ns: str | None = None) -> list[dict]:
        """Copies of the current objects (for the fake's own controllers and tests)."""
        with self.changed:
            return [copy.deepcopy(e.obj) for e in self.objects[key].values()
                    if ns is None or e.ns == ns]

    def _matcher(self, key: str, ns: str | None, query: dict):
        resource = RESOURCES[key]
        labels = label_selector(query.get("labelSelector", ""))
        fields = field_selector(query.get("fieldSelector", ""), resource)
        return lambda e: ((ns is None or e.ns == ns) and labels(e.obj["metadata"].get("labels") or {})
                          and fields(e.obj))

    def list(self, key: str, ns: str | None, query: dict) -> bytes:
        """The encoded list answer. Raises ApiError."""
        resource = RESOURCES[key]
        limit = _int_param(query, "limit")
        token = query.get("continue")
        now = time.monotonic()
        with self.changed:
            for old in [t for t, (at, _, _) in self._pages.items() if now - at > self.continue_ttl]:
                del self._pages[old]
            if token:
                if token not in self._pages:
                    raise ApiError(410, "Expired", "The provided continue parameter is too old to "
                                   "display a consistent list result. You can start a new list "
                                   "without the continue parameter.")
                _, rv, rest = self._pages.pop(token)
            else:
                match = self._matcher(key, ns, query)
                rv = self.rv
                rest = sorted((e for e in self.objects[key].values() if match(e)),
                              key=lambda e: (e.ns, e.name))
        page, rest = (rest[:limit], rest[limit:]) if limit and limit > 0 else (rest, [])
        meta: dict = {"resourceVersion": str(rv)}
        if rest:
            token = base64.b64encode(json.dumps({"rv": rv, "start": page[-1].name,
                                                 "n": id(rest)}).encode()).decode()
            with self.changed:
                self._pages[token] = (now, rv, rest)
            meta["continue"] = token
            if not query.get("labelSelector") and not query.get("fieldSelector"):
                meta["remainingItemCount"] = len(rest)
        head = json.dumps({"kind": f"{resource.kind}List", "apiVersion": resource.api_version,
                           "metadata": meta}, separators=(",", ":"))
        return head[:-1].encode() + b',"items":[' + b",".join(e.raw for e in page) + b"]}"

    def watch(self, key: str, ns: str | None, query: dict, *, bookmark_interval: float,
              stopped, paused=lambda: False):
        """The encoded event lines of a watch, as an iterator, until the timeout,
        ``stopped()`` or an ERROR. Raises ApiError (at once) for a bad selector or parameter.
        """
        resource = RESOURCES[key]
        match = self._matcher(key, ns, query)
        timeout = _int_param(query, "timeoutSeconds")
        since = query.get("resourceVersion", "")
        if since not in ("", "0"):
            try:
                int(since)
            except ValueError:
                raise ApiError(400, "BadRequest", f'invalid resource version "{since}"') from None
        with self.changed:
            if since in ("", "0"):
                initial = sorted((e for e in self.objects[key].values() if match(e)),
                                 key=lambda e: (e.ns, e.name))
                position, sent_rv = self.log_base + len(self.log), self.rv
            elif int(since) < self.oldest_rv:
                initial, position, sent_rv = None, 0, int(since)
            else:
                start = int(since)
                initial, sent_rv = [], start
                position = self.log_base + sum(1 for rv, *_ in self.log if rv <= start)
        return self._stream(resource, key, match, initial, position, sent_rv, since,
                            ends=time.monotonic() + (timeout if timeout and timeout > 0 else 1800),
                            bookmarks=query.get("allowWatchBookmarks") in ("true", "1"),
                            bookmark_interval=bookmark_interval, stopped=stopped, paused=paused)

    def _stream(self, resource, key, match, initial, position, sent_rv, since, *, ends,
                bookmarks, bookmark_interval, stopped, paused):
        prefix = f'{{"kind":"{resource.kind}","apiVersion":"{resource.api_version}",'.encode()

        def line(kind: str, entry: _Entry) -> bytes:
            return b'{"type":"' + kind.encode() + b'","object":' + prefix + entry.raw[1:] + b"}\n"

        if initial is None:
            yield self._expired(since)
            return
        for entry in initial:
            yield line("ADDED", entry)
        next_bookmark = time.monotonic() + bookmark_interval
        while not stopped():
            batch: list[bytes] = []
            with self.changed:
                now = time.monotonic()
                if now >= ends:
                    return
                if paused():
                    self.changed.wait(0.05)
                    continue
                expired = position < self.log_base  # fell out of the history window
                if not expired:
                    for rv, k, kind, entry in self.log[position - self.log_base:]:
                        position += 1
                        sent_rv = rv
                        if k == key and match(entry):
                            batch.append(line(kind, entry))
                    if not batch:
                        wait = min(0.25, ends - now)
                        if bookmarks:
                            wait = min(wait, max(0.0, next_bookmark - now))
                        self.changed.wait(wait)
            if expired:
                yield self._expired(str(sent_rv))
                return
            yield from batch
            if bookmarks and time.monotonic() >= next_bookmark:
                with self.changed:
                    if position >= self.log_base + len(self.log):
                        sent_rv = self.rv  # nothing this watcher wants up to now
                yield (b'{"type":"BOOKMARK","object":' + prefix + b'"metadata":{"resourceVersion":"'
                       + str(sent_rv).encode() + b'"}}}\n')
                next_bookmark = time.monotonic() + bookmark_interval

    def _expired(self, since: str) -> bytes:
        status = ApiError(410, "Expired", f"too old resource version: {since} ({self.oldest_rv})")
        return json.dumps({"type": "ERROR", "object": status.status()},
                          separators=(",", ":")).encode() + b"\n"


def _int_param(query: dict, name: str) -> int | None:
    if name not in query:
        return None
    try:
        return int(query[name])
    except ValueError:
        raise ApiError(400, "BadRequest", f"{name}: Invalid value: \"{query[name]}\": must be "
                                          "an integer") from None
