"""The backend registry: built-in kinds without reading entry points, plugins through them."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from backends import registry
from backends.errors import InvalidRequest


def run_py(code: str, path: str = "") -> str:
    env_path = [path] if path else []
    prog = f"import sys; sys.path[:0] = {env_path!r}\n" + textwrap.dedent(code)
    return subprocess.run([sys.executable, "-c", prog], capture_output=True, text=True, check=True).stdout.strip()


def test_a_built_in_kind_loads_without_importing_importlib_metadata():
    out = run_py(
        """
        from backends import registry
        cls = registry.load("local")
        print(cls.__name__, "importlib.metadata" in sys.modules)
        """
    )
    assert out == "LocalBackend False"


def test_a_plugin_registered_as_an_entry_point_is_listed_and_loaded(tmp_path):
    (tmp_path / "faastui_plugin_demo.py").write_text("class DemoBackend:\n    kind = 'demo'\n")
    dist = tmp_path / "faastui_plugin_demo-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: faastui-plugin-demo\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text(
        "[faastui.backends]\ndemo = faastui_plugin_demo:DemoBackend\nlocal = faastui_plugin_demo:DemoBackend\n"
    )
    out = run_py(
        """
        from backends import registry
        print("demo" in registry.available(), registry.load("demo").__name__, registry.load("local").__name__)
        """,
        str(tmp_path),
    )
    # the plugin is found; it cannot shadow a built-in name
    assert out == "True DemoBackend LocalBackend"


def test_an_unknown_kind_is_refused_with_a_hint():
    with pytest.raises(InvalidRequest) as err:
        registry.load("openfas")
    assert "unknown backend kind 'openfas'" in str(err.value)
    assert "openfaas" in (err.value.hint or "")
