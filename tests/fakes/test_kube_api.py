"""The FAKE Kubernetes API server's own tests (tests/fakes/kube_api.py): it must keep the
API's conventions, or tests against it prove nothing. The client here is the standard
library (http.client, json), never the code under test."""

from __future__ import annotations

import http.client
import json
import socket
import ssl
import time
from urllib.parse import urlencode, urlsplit

import pytest

from tests.fakes.kube_api import TLS_DIR, fake_kube
from tests.kube_support import checked_fake


class Api:
    """A raw client: one request, or one watch stream read line by line."""

    def __init__(self, fake, token=None):
        parts = urlsplit(fake.api_url)
        self.host, self.port, self.tls = parts.hostname, parts.port, parts.scheme == "https"
        self.token = token or fake.token

    def _conn(self, timeout=10):
        if self.tls:
            ctx = ssl.create_default_context(cafile=str(TLS_DIR / "cert.pem"))
            return http.client.HTTPSConnection(self.host, self.port, timeout=timeout, context=ctx)
        return http.client.HTTPConnection(self.host, self.port, timeout=timeout)

    def call(self, method, path, query=None, body=None, ctype="application/json"):
        conn = self._conn()
        try:
            url = path + ("?" + urlencode(query) if query else "")
            headers = {"Authorization": f"Bearer {self.token}"}
            data = None
            if body is not None:
                data, headers["Content-Type"] = json.dumps(body).encode(), ctype
            conn.request(method, url, body=data, headers=headers)
            resp = conn.getresponse()
            raw = resp.read()
            kind = resp.getheader("Content-Type") or ""
            return resp.status, (json.loads(raw) if "json" in kind else raw.decode())
        finally:
            conn.close()

    def watch(self, path, timeout=10, **query):
        conn = self._conn(timeout)
        conn.request(
            "GET", path + "?" + urlencode({"watch": "1", **query}), headers={"Authorization": f"Bearer {self.token}"}
        )
        resp = conn.getresponse()
        return conn, resp


def events(resp, n, deadline=10.0, bookmarks=True):
    out = []
    end = time.monotonic() + deadline
    while len(out) < n and time.monotonic() < end:
        line = resp.readline()
        if not line:
            break
        event = json.loads(line)
        if bookmarks or event["type"] != "BOOKMARK":
            out.append(event)
    return out


@pytest.fixture()
def fake():
    with checked_fake(nodes=3, not_ready_nodes=1, bookmark_interval=0.2) as kube:
        yield kube


def test_every_request_needs_the_token_and_unknown_paths_are_status_404(fake):
    status, body = Api(fake, token="wrong").call("GET", "/api/v1/nodes")
    assert status == 401 and body["kind"] == "Status" and body["reason"] == "Unauthorized"
    status, body = Api(fake).call("GET", "/api/v1/configmaps")
    assert status == 404 and body["code"] == 404 and body["status"] == "Failure"


def test_lists_carry_a_version_and_items_without_kind(fake):
    status, nodes = Api(fake).call("GET", "/api/v1/nodes")
    assert status == 200 and nodes["kind"] == "NodeList" and nodes["apiVersion"] == "v1"
    assert int(nodes["metadata"]["resourceVersion"]) >= max(
        int(n["metadata"]["resourceVersion"]) for n in nodes["items"]
    )
    assert [n["metadata"]["name"] for n in nodes["items"]] == [f"kn-node-{i}" for i in (1, 2, 3, 4)]
    assert all("kind" not in n for n in nodes["items"])
    not_ready = nodes["items"][3]
    assert not_ready["status"]["conditions"][-1] == {"type": "Ready", "status": "False", "reason": "NodeStatusUnknown"}
    assert not_ready["spec"]["taints"][0]["key"] == "node.kubernetes.io/not-ready"


def test_paged_lists_are_consistent_and_a_stale_token_is_410(fake):
    for i in range(7):
        fake.add_pod("fn", f"p{i}", node="kn-node-1", labels={"faas_function": "a"})
    api = Api(fake)
    _, first = api.call("GET", "/api/v1/pods", {"limit": 3})
    assert len(first["items"]) == 3 and first["metadata"]["remainingItemCount"] == 4
    fake.add_pod("fn", "p9", node="kn-node-1")  # after the first page: not in this list
    names = [p["metadata"]["name"] for p in first["items"]]
    token = first["metadata"]["continue"]
    while token:
        _, page = api.call("GET", "/api/v1/pods", {"limit": 3, "continue": token})
        assert page["metadata"]["resourceVersion"] == first["metadata"]["resourceVersion"]
        names += [p["metadata"]["name"] for p in page["items"]]
        token = page["metadata"].get("continue")
    assert names == [f"p{i}" for i in range(7)]
    status, body = api.call("GET", "/api/v1/pods", {"limit": 3, "continue": "bm90LWEtdG9rZW4="})
    assert status == 410 and body["reason"] == "Expired"


def test_label_and_field_selectors_and_their_errors(fake):
    fake.add_pod("fn", "a", node="kn-node-1", labels={"faas_function": "a"})
    fake.add_pod("fn", "b", node="kn-node-2", labels={"faas_function": "b", "prewarm": "true"})
    fake.add_pod("other", "c", node="kn-node-2", labels={"app": "web"})
    api = Api(fake)

    def names(**query):
        status, body = api.call("GET", "/api/v1/pods", query)
        assert status == 200, body
        return [p["metadata"]["name"] for p in body["items"]]

    assert names(labelSelector="faas_function") == ["a", "b"]
    assert names(labelSelector="faas_function,!prewarm") == ["a"]
    assert names(labelSelector="faas_function in (b,z)") == ["b"]
    assert names(labelSelector="app!=web") == ["a", "b"]  # != matches pods without the key
    assert names(fieldSelector="spec.nodeName=kn-node-2") == ["b", "c"]
    status, body = api.call("GET", "/api/v1/pods", {"labelSelector": "a b"})
    assert status == 400 and "unable to parse requirement" in body["message"]
    status, body = api.call("GET", "/api/v1/pods", {"fieldSelector": "spec.image=x"})
    assert status == 400 and body["message"] == "field label not supported: spec.image"
    _, ns_only = api.call("GET", "/api/v1/namespaces/other/pods")
    assert [p["metadata"]["name"] for p in ns_only["items"]] == ["c"]


def test_a_watch_streams_changes_after_its_version_with_bookmarks(fake):
    api = Api(fake)
    _, listed = api.call("GET", "/api/v1/namespaces/fn/pods")
    rv = listed["metadata"]["resourceVersion"]
    conn, resp = api.watch(
        "/api/v1/namespaces/fn/pods", resourceVersion=rv, allowWatchBookmarks="true", labelSelector="faas_function"
    )
    try:
        assert resp.status == 200 and resp.getheader("Transfer-Encoding") == "chunked"
        fake.add_pod("fn", "w1", node="kn-node-1", labels={"faas_function": "w"})
        fake.add_pod("fn", "ignored", node="kn-node-1", labels={"app": "x"})  # not selected
        fake.update_pod("fn", "w1", ready=False)
        fake.store.delete("pods", "fn", "w1")
        got = events(resp, 3, bookmarks=False)
        assert [(e["type"], e["object"]["metadata"]["name"]) for e in got] == [
            ("ADDED", "w1"),
            ("MODIFIED", "w1"),
            ("DELETED", "w1"),
        ]
        assert got[0]["object"]["kind"] == "Pod" and got[0]["object"]["apiVersion"] == "v1"
        versions = [int(e["object"]["metadata"]["resourceVersion"]) for e in got]
        assert versions == sorted(versions) and versions[0] > int(rv)
        bookmark = events(resp, 1)[0]  # nothing more to send: a bookmark comes
        assert bookmark["type"] == "BOOKMARK"
        assert bookmark["object"] == {
            "kind": "Pod",
            "apiVersion": "v1",
            "metadata": {"resourceVersion": bookmark["object"]["metadata"]["resourceVersion"]},
        }
        assert int(bookmark["object"]["metadata"]["resourceVersion"]) >= versions[-1]
    finally:
        conn.close()


def test_a_watch_without_a_version_starts_with_every_object_added(fake):
    conn, resp = Api(fake).watch("/api/v1/nodes", timeoutSeconds="1")
    try:
        got = events(resp, 10, deadline=5)
    finally:
        conn.close()
    assert [e["type"] for e in got] == ["ADDED"] * 4  # then the stream ends at timeoutSeconds


def test_a_watch_from_a_compacted_version_gets_an_error_event_with_410(fake):
    api = Api(fake)
    _, listed = api.call("GET", "/api/v1/pods")
    old = listed["metadata"]["resourceVersion"]
    fake.add_pod("fn", "x", node="kn-node-1")
    fake.compact()
    conn, resp = api.watch("/api/v1/pods", resourceVersion=old)
    try:
        assert resp.status == 200
        (error,) = events(resp, 1)
        assert resp.readline() == b""  # the stream ends after the error
    finally:
        conn.close()
    assert error["type"] == "ERROR"
    status = error["object"]
    assert (status["kind"], status["code"], status["reason"]) == ("Status", 410, "Expired")
    assert status["message"].startswith(f"too old resource version: {old} (")


def test_a_watcher_that_falls_out_of_the_history_gets_410_too():
    with fake_kube(history=5) as fake:
        api = Api(fake)
        _, listed = api.call("GET", "/api/v1/pods")
        for i in range(10):
            fake.add_pod("fn", f"p{i}", node="kn-node-1")
        conn, resp = api.watch("/api/v1/pods", resourceVersion=listed["metadata"]["resourceVersion"])
        try:
            (error,) = events(resp, 1)
        finally:
            conn.close()
        assert error["type"] == "ERROR" and error["object"]["code"] == 410


def test_break_watches_cuts_the_stream_and_stall_holds_requests(fake):
    api = Api(fake)
    conn, resp = api.watch("/api/v1/nodes", resourceVersion=str(fake.store.rv))
    deadline = time.monotonic() + 5
    while fake.watch_count() < 1 and time.monotonic() < deadline:
        time.sleep(0.02)
    fake.break_watches()
    with pytest.raises((http.client.IncompleteRead, OSError, ValueError)):
        while True:
            line = resp.readline()
            if not line:
                raise OSError("stream ended")
    conn.close()
    fake.stall()
    try:
        with pytest.raises(socket.timeout):
            c = http.client.HTTPConnection("127.0.0.1", urlsplit(fake.api_url).port, timeout=0.5)
            c.request("GET", "/version", headers={"Authorization": f"Bearer {fake.token}"})
            c.getresponse()
    finally:
        fake.unstall()
    assert api.call("GET", "/version")[1]["gitVersion"].endswith("-fake")


def test_metrics_api_for_nodes_and_pods_and_no_watch(fake):
    fake.set_usage("kn-node-1", "1500m", "2Gi")
    fake.add_pod("fn", "m", node="kn-node-1", labels={"faas_function": "m"})
    api = Api(fake)
    status, disc = api.call("GET", "/apis/metrics.k8s.io/v1beta1")
    assert status == 200 and {r["name"] for r in disc["resources"]} == {"nodes", "pods"}
    _, nodes = api.call("GET", "/apis/metrics.k8s.io/v1beta1/nodes")
    assert nodes["kind"] == "NodeMetricsList"
    first = nodes["items"][0]
    assert first["metadata"]["name"] == "kn-node-1" and first["usage"] == {"cpu": "1500m", "memory": "2Gi"}
    assert "kn-node-4" not in {n["metadata"]["name"] for n in nodes["items"]}  # not ready
    _, pods = api.call("GET", "/apis/metrics.k8s.io/v1beta1/namespaces/fn/pods")
    assert pods["items"][0]["containers"][0]["usage"]["cpu"].endswith("n")
    status, body = api.call("GET", "/apis/metrics.k8s.io/v1beta1/nodes", {"watch": "1"})
    assert status == 405 and body["reason"] == "MethodNotAllowed"
    with fake_kube(metrics=False) as bare:
        status, body = Api(bare).call("GET", "/apis/metrics.k8s.io/v1beta1/nodes")
        assert status == 404 and body["kind"] == "Status"


def test_a_created_pod_is_scheduled_by_affinity_started_and_logged(fake):
    api = Api(fake)
    pod = {
        "metadata": {"name": "pinned", "labels": {"prewarm": "true"}},
        "spec": {
            "affinity": {
                "nodeAffinity": {
                    "requiredDuringSchedulingIgnoredDuringExecution": {
                        "nodeSelectorTerms": [
                            {
                                "matchExpressions": [
                                    {"key": "kubernetes.io/hostname", "operator": "In", "values": ["kn-node-2"]}
                                ]
                            }
                        ]
                    }
                }
            },
            "containers": [{"name": "fn", "image": "ghcr.io/x/fn:1"}],
        },
    }
    status, created = api.call("POST", "/api/v1/namespaces/fn/pods", body=pod)
    assert status == 201 and created["status"]["phase"] == "Pending"
    assert api.call("POST", "/api/v1/namespaces/fn/pods", body=pod)[0] == 409
    fake.wait_idle()
    _, got = api.call("GET", "/api/v1/namespaces/fn/pods/pinned")
    assert got["spec"]["nodeName"] == "kn-node-2" and got["status"]["phase"] == "Running"
    assert {c["type"]: c["status"] for c in got["status"]["conditions"]}["Ready"] == "True"
    _, evs = api.call("GET", "/api/v1/namespaces/fn/events", {"fieldSelector": "involvedObject.name=pinned"})
    assert [e["reason"] for e in evs["items"]][:1] == ["Scheduled"] or "Scheduled" in [
        e["reason"] for e in evs["items"]
    ]
    assert {"Pulled", "Created", "Started"} <= {e["reason"] for e in evs["items"]}
    status, log = api.call("GET", "/api/v1/namespaces/fn/pods/pinned/log", {"tailLines": 5})
    assert status == 200 and "started on kn-node-2" in log
    status, gone = api.call("DELETE", "/api/v1/namespaces/fn/pods/pinned")
    assert status == 200 and gone["metadata"]["deletionTimestamp"]
    fake.wait_idle()
    assert api.call("GET", "/api/v1/namespaces/fn/pods/pinned")[0] == 404


def test_an_unschedulable_pod_stays_pending_with_the_schedulers_warning(fake):
    api = Api(fake)
    for node in ("kn-node-4", "nowhere"):  # not ready (tainted); no such node
        pod = {
            "metadata": {"name": f"on-{node}"},
            "spec": {"nodeSelector": {"kubernetes.io/hostname": node}, "containers": [{"name": "c", "image": "i:1"}]},
        }
        assert api.call("POST", "/api/v1/namespaces/fn/pods", body=pod)[0] == 201
    fake.wait_idle()
    _, pod = api.call("GET", "/api/v1/namespaces/fn/pods/on-nowhere")
    assert pod["status"]["phase"] == "Pending" and not pod["spec"].get("nodeName")
    cond = pod["status"]["conditions"][0]
    assert cond["reason"] == "Unschedulable" and cond["message"].startswith("0/4 nodes are available")
    _, evs = api.call("GET", "/api/v1/namespaces/fn/events", {"fieldSelector": "reason=FailedScheduling"})
    assert {e["involvedObject"]["name"] for e in evs["items"]} == {"on-kn-node-4", "on-nowhere"}
    assert all(e["type"] == "Warning" for e in evs["items"])
    assert "untolerated taint" in next(
        e["message"] for e in evs["items"] if e["involvedObject"]["name"] == "on-kn-node-4"
    )


def test_invalid_pods_and_services_are_422_and_services_get_a_cluster_ip(fake):
    api = Api(fake)
    status, body = api.call(
        "POST", "/api/v1/namespaces/fn/pods", body={"metadata": {"name": "Bad_Name"}, "spec": {"containers": []}}
    )
    assert status == 422 and "metadata.name" in body["message"] and "spec.containers" in body["message"]
    svc = {
        "metadata": {"name": "fn-pod-kn-node-2"},
        "spec": {"selector": {"prewarm": "true"}, "ports": [{"port": 8080}]},
    }
    status, made = api.call("POST", "/api/v1/namespaces/fn/services", body=svc)
    assert status == 201 and made["spec"]["clusterIP"].startswith("10.96.")
    assert api.call("POST", "/api/v1/namespaces/fn/services", body=svc)[0] == 409
    status, body = api.call("POST", "/api/v1/namespaces/fn/services", body={"metadata": {"name": "1bad"}, "spec": {}})
    assert status == 422 and "DNS-1035" in body["message"] and "spec.ports" in body["message"]
    assert api.call("DELETE", "/api/v1/namespaces/fn/services/fn-pod-kn-node-2")[0] == 200


def test_forbidden_cluster_scope_and_tls_with_a_service_account(tmp_path):
    with fake_kube(forbid_cluster_pods=True, tls=True) as fake:
        api = Api(fake)
        status, body = api.call("GET", "/api/v1/pods")
        assert status == 403 and body["reason"] == "Forbidden" and "cluster scope" in body["message"]
        assert api.call("GET", "/api/v1/namespaces/fn/pods")[0] == 200
        env = fake.service_account(tmp_path / "sa")
        assert (tmp_path / "sa" / "token").read_text() == fake.token
        assert env["KUBERNETES_SERVICE_PORT"] == str(urlsplit(fake.api_url).port)
        assert fake.api_url.startswith("https://")
