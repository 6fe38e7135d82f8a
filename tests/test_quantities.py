"""Kubernetes quantities, as OpenFaaS, Knative and Nuclio report limits and capacity."""

import pytest

from backends.quantities import cpus, memory_mb, quantity


@pytest.mark.parametrize("text, mb", [("128Mi", 128), ("1Gi", 1024), ("8148348Ki", 7957.371),
                                      ("1048576", 1), ("64M", 61.035), ("", 0), (None, 0),
                                      ("lots", 0), (256 * 2 ** 20, 256)])
def test_memory(text, mb):
    assert memory_mb(text) == mb


@pytest.mark.parametrize("text, cores", [("500m", 0.5), ("2", 2), ("3800m", 3.8), ("0.25", 0.25),
                                         ("1k", 1000), ("x", 0)])
def test_cpus(text, cores):
    assert cpus(text) == cores


def test_longest_suffix_wins():
    assert quantity("1Mi") == 2 ** 20 and quantity("1M") == 1e6 and quantity("1m") == 0.001
