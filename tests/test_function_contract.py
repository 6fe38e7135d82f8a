"""The pieces of the function contract that need no engine: each platform's answer rules
(``backends/local/answers.py``), Docker image references, and how formats read their
files (requirements, build commands, stack substitution, durations).

The expected values are the platforms' own, written out from their sources: Nuclio's
``Response.from_entrypoint_output``, the OpenFaaS python3-http template's
``format_response`` with Flask's ``jsonify``/``make_response``, Ilúvatar's agent
(``json.dumps``), Docker's ``ParseNormalizedNamed``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from backends import imageref
from backends.errors import InvalidRequest
from backends.formats import common, openfaas, requirements
from backends.local import answers
from backends.local.events import Headers, NuclioEvent, Query, Request, Response


# ---- answers ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "value,expected",
    [
        ("hi", (b"hi", "text/plain", 200, None)),
        (8, (b"8", "text/plain", 200, None)),
        (None, (b"None", "text/plain", 200, None)),
        ({"b": 1, "a": [1, 2]}, (b'{"b": 1, "a": [1, 2]}', "application/json", 200, None)),
        ([1, "x"], (b'[1, "x"]', "application/json", 200, None)),
        ((201, "made"), (b"made", "text/plain", 201, None)),
        ((400, {"error": "no"}), (b'{"error": "no"}', "application/json", 400, None)),
        (b"\x00\xff", (b"\x00\xff", "text/plain", 200, None)),
        (
            Response(body={"k": "v"}, status_code=202, headers={"X-A": "1"}),
            (b'{"k": "v"}', "application/json", 202, [("X-A", "1")]),
        ),
        (Response(body="plain"), (b"plain", "text/plain", 200, None)),
        (Response(body="<b>x</b>", content_type="text/html"), (b"<b>x</b>", "text/html", 200, None)),
    ],
)
def test_nuclio_answers(value, expected):
    assert answers.nuclio(value) == expected


@pytest.mark.parametrize(
    "value,expected",
    [
        (None, (b"", "text/html; charset=utf-8", 200, None)),
        ("text", (b"text", "text/html; charset=utf-8", 200, None)),
        ({"statusCode": 201, "body": {"z": 1, "a": "é"}}, (b'{"a":"\\u00e9","z":1}\n', "application/json", 201, None)),
        (
            {"body": "x", "headers": {"Content-Type": "text/plain", "X-K": "v"}},
            (b"x", "text/plain", 200, [("X-K", "v")]),
        ),
        ({"statusCode": 204}, (b"", "text/html; charset=utf-8", 204, None)),
        ({"body": 3}, (b"3", "text/html; charset=utf-8", 200, None)),
        ({"body": b"raw"}, (b"b'raw'", "text/html; charset=utf-8", 200, None)),  # the template's str()
        ({"a": 1}, (b"", "text/html; charset=utf-8", 200, None)),  # any dict is the answer: no body
        (["a", 1], (b'["a",1]\n', "application/json", 200, None)),
        (("gone", 410), (b"gone", "text/html; charset=utf-8", 410, None)),
    ],
)
def test_openfaas_python3_http_answers(value, expected):
    assert answers.openfaas_http(value) == expected


def test_flask_answers_and_what_flask_refuses():
    assert answers.flask(("made", 201, {"Location": "/x"})) == (
        b"made",
        "text/html; charset=utf-8",
        201,
        [("Location", "/x")],
    )
    assert answers.flask(({"k": 1}, {"X-A": "b"})) == (b'{"k":1}\n', "application/json", 200, [("X-A", "b")])
    with pytest.raises(TypeError, match="did not return a valid response"):
        answers.flask(None)
    with pytest.raises(TypeError, match="did not return a valid response"):
        answers.flask(42)


def test_iluvatar_and_native_answers():
    assert answers.iluvatar("hi") == (b'"hi"', "application/json", 200, None)
    assert answers.iluvatar({"b": 1, "a": 2}) == (b'{"b": 1, "a": 2}', "application/json", 200, None)
    assert answers.native("hi")[:3] == (b"hi", "text/plain; charset=utf-8", 200)
    assert answers.native({"statusCode": 404, "body": "no"})[:3] == (b"no", "text/plain; charset=utf-8", 404)


# ---- what handlers receive --------------------------------------------------------------------
def test_nuclio_event_decodes_only_exact_json_and_headers_read_in_any_case():
    req = Request(
        b'{"a": 1}',
        {"content-type": "application/json", "x-task-name": "t", ":method": "PUT", ":path": "/p", ":query": "k=v&k=w"},
    )
    event = NuclioEvent.of(req)
    assert event.body == {"a": 1} and event.method == "PUT" and event.path == "/p"
    assert event.fields == {"k": "v"} and event.headers["X-Task-Name"] == "t"
    assert event.get_header("x-TASK-name") == "t" and "Content-Type" in dict(event.headers)
    loose = NuclioEvent.of(Request(b'{"a": 1}', {"content-type": "application/json; charset=utf-8"}))
    assert loose.body == b'{"a": 1}'
    broken = NuclioEvent.of(Request(b"{not json", {"content-type": "application/json"}))
    assert broken.body == b"{not json"
    assert Headers({"x-a": "1"}).get("X-A") == "1" and Query("a=1&a=2").getlist("a") == ["1", "2"]


# ---- Docker image references ------------------------------------------------------------------
@pytest.mark.parametrize(
    "a,b,same",
    [
        ("registry/fn", "registry/fn:latest", True),
        ("registry/fn", "docker.io/registry/fn", True),
        ("fn", "docker.io/library/fn:latest", True),
        ("fn", "index.docker.io/library/fn", True),
        ("fn:1.0", "fn", False),
        ("registry:5000/fn", "registry/fn", False),
        ("localhost/fn", "fn", False),
        ("ghcr.io/a/fn@sha256:abc", "ghcr.io/a/fn@sha256:abc", True),
    ],
)
def test_image_references_follow_dockers_rules(a, b, same):
    assert imageref.same_image(a, b) is same


# ---- reading formats ------------------------------------------------------------------------
def test_requirement_lists(tmp_path: Path):
    path = tmp_path / "requirements.txt"
    path.write_text("# a comment\nrequests>=2  # inline\n\nflask[async]==3.0 ; python_version<'4'\n")
    with pytest.raises(InvalidRequest, match=r"requirements.txt line 4\): shell characters"):
        requirements.read_file(path, "requirements.txt")
    path.write_text("requests>=2  # inline\n--index-url http://x\n")
    with pytest.raises(InvalidRequest, match="line 2.*pip options are not supported"):
        requirements.read_file(path, "requirements.txt")
    (tmp_path / "more.txt").write_text("six\n")
    reqs, notes = requirements.from_build_commands(
        ["pip install -U --no-cache-dir a==1 b", "python -m pip install -r more.txt"], tmp_path, "f.yaml"
    )
    assert reqs == ["a==1", "b", "six"] and len(notes) == 2
    with pytest.raises(InvalidRequest, match="not in the package"):
        requirements.from_build_commands(["pip install -r ../../etc/passwd"], tmp_path, "f.yaml")


def test_stack_substitution_and_durations():
    env = {"A": "x", "EMPTY": ""}
    assert openfaas.envsubst("${A} ${B:-dflt} ${EMPTY:-e} ${EMPTY-kept} ${NOPE}", env) == "x dflt e  "
    assert common.duration_s("1m30s", "t") == 90 and common.duration_s("500ms", "t") == 0.5
    assert common.duration_s(12, "t") == 12
    with pytest.raises(InvalidRequest, match="duration like 30s"):
        common.duration_s("soon", "exec_timeout")
    with pytest.raises(InvalidRequest, match="at line 2"):
        common.parse_yaml("a: 1\n b: 2\n", "stack.yml")
