"""Kubernetes quantities, as OpenFaaS, Knative and Nuclio report limits and capacity."""

import pytest

from backends.quantities import cpus, memory_mb, quantity


@pytest.mark.parametrize(
    "text, mb",
    [
        ("128Mi", 128),
        ("1Gi", 1024),
        ("8148348Ki", 7957.371),
        ("1048576", 1),
        ("64M", 61.035),
        ("", 0),
        (None, 0),
        ("lots", 0),
        (256 * 2**20, 256),
    ],
)
def test_memory(text, mb):
    assert memory_mb(text) == mb


@pytest.mark.parametrize(
    "text, cores", [("500m", 0.5), ("2", 2), ("3800m", 3.8), ("0.25", 0.25), ("1k", 1000), ("x", 0)]
)
def test_cpus(text, cores):
    assert cpus(text) == cores


def test_longest_suffix_wins():
    assert quantity("1Mi") == 2**20 and quantity("1M") == 1e6 and quantity("1m") == 0.001


def test_limits_from_function_yaml():
    from backends.quantities import limits

    assert limits(128, 0.5) == {"memory": "128Mi", "cpu": "500m"}
    assert limits(None, None) == {} and limits(256) == {"memory": "256Mi"}
    with pytest.raises(ValueError):
        limits("lots")


def test_a_bad_number_in_function_yaml_is_a_clear_error_on_knative():
    from backends.agent import prepare
    from backends.errors import InvalidRequest
    from backends.knative.objects import service_manifest

    h = prepare("def handle(r): return r\n", "f")
    assert service_manifest(h, {"memory": 64}, image="python:3.11-slim", namespace="d")["spec"]["template"]["spec"][
        "containers"
    ][0]["resources"] == {"limits": {"memory": "64Mi"}}
    with pytest.raises(InvalidRequest, match="must be numbers"):
        service_manifest(h, {"memory": "lots"}, image="python:3.11-slim", namespace="d")
