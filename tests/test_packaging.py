"""The data folders ship with the package: the wheel build copies them to faastui/_data,
and faastui.locations finds them there when there is no source tree around."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_build_py_copies_the_data_folders(tmp_path):
    pytest.importorskip("setuptools")
    proc = subprocess.run([sys.executable, "setup.py", "-q", "build_py", "--build-lib", str(tmp_path)],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    data = tmp_path / "faastui" / "_data"
    assert (data / "functions" / "hello" / "handler.py").is_file()
    assert (data / "functions" / "hello" / "function.yaml").is_file()
    assert (data / "demo" / "cluster.yaml").is_file()
    assert (data / "keymaps" / "k9s.toml").is_file()
    assert (tmp_path / "backends" / "local" / "engine.py").is_file()
    assert not list(data.rglob("__pycache__"))


def test_locations_fall_back_to_the_packaged_data(tmp_path, monkeypatch):
    from faastui import locations
    pkg = tmp_path / "faastui"
    (pkg / "_data" / "functions" / "hello").mkdir(parents=True)
    monkeypatch.setattr(locations, "_HERE", pkg)
    assert locations.functions_dir() == pkg / "_data" / "functions"
