"""The Fusionizer API's pure parts: multipart/form-data as curl and requests send it, the
schedule file's checks, and the steps from one fusion setup to another."""

from __future__ import annotations

import pytest
import requests

from backends.errors import InvalidRequest
from backends.model import FusionGroup
from faastui.serve.fusion_setup import Entry, group_name, parse_schedule, plan_regroup
from faastui.serve.multipart import BadForm, parse_form

BINARY = bytes(range(256)) * 4 + b"\r\n--not-the-boundary\r\n\r\n\n\r"


def test_a_requests_upload_is_read_byte_for_byte():
    prepared = requests.Request(
        "PUT", "http://x/t", files={"zip_file": ("task.zip", BINARY, "application/zip")}, data={"note": 'a;b="c"'}
    ).prepare()
    form = parse_form(prepared.headers["Content-Type"], prepared.body)
    assert form["zip_file"].data == BINARY
    assert (form["zip_file"].filename, form["zip_file"].content_type) == ("task.zip", "application/zip")
    assert form["note"].data == b'a;b="c"' and form["note"].filename is None


@pytest.mark.parametrize(
    "ctype, body, said",
    [
        ("application/json", b"{}", "expected a multipart/form-data body, got application/json"),
        ("multipart/form-data", b"", "has no boundary"),
        ("multipart/form-data; boundary=b", b"junk", "does not start with its boundary"),
        (
            "multipart/form-data; boundary=b",
            b"--b\r\nContent-Disposition: form-data; name=x\r\n\r\ndata with no end",
            "ends before its closing boundary",
        ),
        ("multipart/form-data; boundary=b", b"--b\r\nX: y\r\n\r\nv\r\n--b--", "no Content-Disposition"),
        ("multipart/form-data; boundary=b", b"--bjunk", "not followed by a line break"),
    ],
)
def test_malformed_forms_say_why(ctype, body, said):
    with pytest.raises(BadForm, match=said):
        parse_form(ctype, body)


def test_schedule_entries_in_time_order():
    entries = parse_schedule({"60": [["a"], ["b"]], "0": [["a", "b"], ["c"]], "7.5": [["c", "a"]]})
    assert [e.at for e in entries] == [0.0, 7.5, 60.0]
    assert entries[0].groups == (("a", "b"), ("c",)) and entries[0].tasks == {"a", "b", "c"}
    assert Entry.from_json(entries[1].to_json()) == entries[1]


@pytest.mark.parametrize(
    "data, said",
    [
        ({}, "must be a JSON object"),
        ([], "must be a JSON object"),
        ({"-1": [["a"]]}, "not a number of seconds"),
        ({"inf": [["a"]]}, "not a number of seconds"),
        ({"0": [[]]}, "list of lists"),
        ({"0": [["a", 3]]}, "not a name"),
        ({"0": [["a"], ["a", "b"]]}, "puts 'a' in two groups"),
        ({"1": [["a"]], "1.0": [["b"]]}, "names one time twice"),
    ],
)
def test_bad_schedules(data, said):
    with pytest.raises(InvalidRequest, match=said):
        parse_schedule(data)


def _group(name, *fns):
    return FusionGroup(name=name, functions=list(fns))


def test_regroup_steps_form_each_group_from_the_ones_it_takes_from():
    current = [_group("g1", "a", "b"), _group("g2", "c", "d"), _group("keep", "e", "f")]
    steps = plan_regroup(current, [("a", "c"), ("f", "e"), ("b",)])
    assert [(s.action, s.group) for s in steps] == [
        ("unfuse", "g1"),
        ("unfuse", "g2"),
        ("fuse", group_name(["a", "c"])),
    ]
    assert steps[-1].functions == ("a", "c")
    # tasks a setup does not name run alone; a setup already in place needs nothing
    assert [(s.action, s.group) for s in plan_regroup(current, [])] == [
        ("unfuse", "g1"),
        ("unfuse", "g2"),
        ("unfuse", "keep"),
    ]
    assert plan_regroup(current, [("b", "a"), ("d", "c"), ("e", "f")]) == []


def test_group_names_never_collide_where_upstream_concatenates():
    assert group_name(["a-b", "c"]) != group_name(["a", "b-c"])
    assert group_name(["taska", "taskb"]).startswith("fz-taska-")
    digest = group_name(["taska", "taskb"]).rsplit("-", 1)[1]
    assert group_name(["taskb", "taska"]) == f"fz-taskb-{digest}"  # the members decide it
    assert len(group_name(["x" * 80, "y"])) <= 63
