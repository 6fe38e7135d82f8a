"""``CallOutcome.to_dict`` (built by hand for speed) answers byte for byte what
``invocation().to_dict()`` (the shared model's ``dataclasses.asdict``) answers."""

from __future__ import annotations

import json

import pytest

from backends.local.calls import CallOutcome


def _outcome(status="ok", output=b"", ctype="application/octet-stream", error=None) -> CallOutcome:
    o = CallOutcome("c0ffee1", "noop")
    o.node, o.container_state = "n2", "warm"
    o.cold_start_ms, o.duration_ms, o.overhead_ms = 12.34567, 0.0912345, 0.6149999
    o.started_at, o.ended_at = 1796178939.0174696, 1796178939.031325
    o.status, o.output, o.content_type, o.error = status, output, ctype, error
    return o


CASES = [
    _outcome(output=b"hello"),
    _outcome(output=b'{"a": [1, 2.5, {"b": null}], "c": "\\u00e9"}', ctype="application/json"),
    _outcome(output=b"not json {", ctype="application/json"),
    _outcome(output=b"\xff\xfe raw", ctype="application/octet-stream"),
    _outcome(),
    _outcome(status="error", output=b"partial", error="ValueError: boom"),
    _outcome(status="timeout", error="noop timed out after 1s; its worker was killed"),
]


@pytest.mark.parametrize("outcome", CASES)
@pytest.mark.parametrize("with_result", [True, False])
def test_to_dict_is_the_models_dict_byte_for_byte(outcome, with_result):
    fast = outcome.to_dict(with_result=with_result)
    model = outcome.invocation(with_result=with_result).to_dict()
    assert fast == model
    assert list(fast) == list(model)  # the same key order, so the same JSON text
    assert json.dumps(fast) == json.dumps(model)


@pytest.mark.parametrize("outcome", CASES)
def test_a_given_decoded_result_is_the_one_answered(outcome):
    value = outcome.result_value()
    assert outcome.to_dict(result=value) == outcome.invocation().to_dict()
